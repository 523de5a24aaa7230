"""Emptying what a committing (``transaction=True``) test wrote, and nothing else.

Test databases start empty apart from rows the schema install put there (data migrations, ``post_migrate``
handlers such as contenttypes and permissions): the *baseline*, snapshotted once per alias. After a
committing test, a table with rows that is not in the baseline was written by the test and is emptied; a
baseline table whose rows changed (their count, or their contents: a digest of every row) is emptied and
reloaded from the snapshot, and so is a baseline table whose foreign keys point into an emptied one. One query
per alias finds all of that (and, on PostgreSQL, the tables a ``DELETE`` would fire a trigger or rule on).

Emptying deletes rows rather than truncating tables where Django's flush would truncate (PostgreSQL without
sequence resets): a ``TRUNCATE`` gives every table a new file, and costs far more than the ``DELETE`` of the
few rows a test writes (measured on this project's 2-core CI machine, 8 tables of one row each: ``TRUNCATE
... CASCADE`` 178 ms, the ``DELETE`` statements in one transaction 7.7 ms). A ``DELETE`` fires the table's
``ON DELETE`` triggers and rules, which Django's ``TRUNCATE`` never does (a trigger that forbids deletes, a
soft delete that keeps the rows): when a table to empty has one, Django's ``sql_flush`` is used instead. Where
Django's flush itself deletes (sqlite; MySQL and MariaDB without sequence resets), it is used as it is, and the
triggers fire as under Django.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.management.color import no_style
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Model

from . import counters
from .counters import Counters
from .messages import isolation as texts

#: The alias of the table's rows in the digest queries (a name no column is likely to have).
_ROW = "_multidb_row"

#: PostgreSQL: the tables a ``DELETE`` fires a user trigger (``tgtype`` bit 8: ``DELETE``) or a rule (``ev_type``
#: 4: ``DELETE``) on; Django's ``TRUNCATE`` fires neither. Named as the search path sees them (``regclass``: a
#: table of another schema comes out qualified, so it matches none of ours); 0.1 ms where a join with
#: ``pg_class`` and ``pg_table_is_visible`` took 0.2.
_DELETE_HOOKS = (
    "SELECT -1, COUNT(*), string_agg(h.id::regclass::text, E'\\n') FROM ("
    "SELECT tgrelid AS id FROM pg_trigger WHERE NOT tgisinternal AND tgtype & 8 <> 0 "
    "UNION ALL SELECT ev_class FROM pg_rewrite WHERE ev_type = '4') AS h"
)


def _unquoted(name: str) -> str:
    """A table's name as ``regclass`` prints it, without PostgreSQL's quotes (``"MixedCase"``)."""
    return name[1:-1].replace('""', '"') if len(name) > 1 and name[0] == name[-1] == '"' else name


def _digest_sql(alias: str, table: str, columns: Iterable[str]) -> str:
    """An SQL expression over ``table`` (aliased ``_ROW``) whose value changes when any row's contents change,
    whatever the order the rows are read in."""
    conn = connections[alias]
    quote = conn.ops.quote_name
    if conn.vendor == "postgresql":
        return f'md5(string_agg({_ROW}::text, E\'\\n\' ORDER BY {_ROW}::text COLLATE "C"))'
    values = [f"QUOTE({_ROW}.{quote(column)})" for column in columns]
    if not values:
        return "NULL"
    if conn.vendor == "mysql":
        row = f"MD5(CONCAT_WS(',', {', '.join(values)}))"
        return (f"CONCAT(COALESCE(SUM(CAST(CONV(SUBSTRING({row}, 1, 16), 16, 10) AS UNSIGNED)), 0), '-', "
                f"COALESCE(SUM(CAST(CONV(SUBSTRING({row}, 17, 16), 16, 10) AS UNSIGNED)), 0))")
    if conn.vendor == "sqlite":  # MD5: Django's function on its sqlite connections
        row = " || ',' || ".join(values)
        return (f"(SELECT MD5(group_concat(r, char(10))) FROM (SELECT {row} AS r FROM {quote(table)} AS {_ROW} "
                "ORDER BY r))")
    return "NULL"  # another backend: row counts only


#: sqlite's default limit on the SELECTs of one compound query (``SQLITE_MAX_COMPOUND_SELECT``): the probe of a
#: database with more tables is sent in parts of this many (one query, one round trip, for most projects).
_TERMS_PER_QUERY = 500


def _probe(alias: str, fresh: list[str], kept: list[str], columns: dict[str, tuple[str, ...]] | None,
           hooks: bool = False) -> tuple[dict[str, tuple[int, str | None]], frozenset[str]]:
    """In one query (per 500 tables): which of ``fresh`` hold rows (count 1), the row count and digest of each of
    ``kept`` (no digest when ``columns`` is ``None``), and with ``hooks`` (PostgreSQL) the tables a ``DELETE``
    fires a trigger or rule on. Returns ({table: (count, digest)} for tables with rows, those tables)."""
    conn = connections[alias]
    quote = conn.ops.quote_name
    parts = [f"SELECT {i}, 1, NULL FROM (SELECT 1 AS x FROM {quote(t)} LIMIT 1) AS q{i}" for i, t in enumerate(fresh)]
    for i, table in enumerate(kept, len(fresh)):
        digest = "NULL" if columns is None else _digest_sql(alias, table, columns.get(table, ()))
        parts.append(f"SELECT {i}, COUNT(*), {digest} FROM {quote(table)} AS {_ROW}")
    hooks = hooks and conn.vendor == "postgresql"
    if hooks:
        parts.append(_DELETE_HOOKS)
    if not parts:
        return {}, frozenset()
    names = [*fresh, *kept]
    found: dict[str, tuple[int, str | None]] = {}
    hooked: frozenset[str] = frozenset()
    with conn.cursor() as cursor:
        for start in range(0, len(parts), _TERMS_PER_QUERY):
            cursor.execute(" UNION ALL ".join(parts[start:start + _TERMS_PER_QUERY]))
            for i, count, digest in cursor.fetchall():
                if i < 0:
                    hooked = frozenset(_unquoted(name) for name in digest.split("\n")) if digest else frozenset()
                elif count:
                    found[names[i]] = (count, None if digest is None else str(digest))
    return found, hooked


def _counts(alias: str, tables: list[str], exists_only: bool) -> dict[str, int]:
    """Row counts (or 1 for "has rows") of ``tables``, in one query."""
    if exists_only:
        found, _ = _probe(alias, tables, [], None)
    else:
        found, _ = _probe(alias, [], tables, None)
    return {table: count for table, (count, _digest) in found.items()}


def written_tables(alias: str, tables: list[str]) -> list[str]:
    """The tables in ``tables`` that hold rows now."""
    return list(_counts(alias, tables, exists_only=True))


def _columns(alias: str, tables: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The columns of ``tables`` (the digests need them on MySQL and sqlite)."""
    conn = connections[alias]
    if conn.vendor == "postgresql":
        return {}
    with conn.cursor() as cursor:
        return {t: tuple(c.name for c in conn.introspection.get_table_description(cursor, t)) for t in tables}


def _referrers() -> dict[str, frozenset[str]]:
    """table -> the tables whose foreign keys point at it (Django's models, many-to-many tables included)."""
    found: dict[str, set[str]] = {}
    for model in apps.get_models(include_auto_created=True):
        for fk in model._meta.local_fields:
            target = fk.remote_field.model if fk.remote_field is not None else None
            if target is not None and not isinstance(target, str):
                found.setdefault(target._meta.db_table, set()).add(model._meta.db_table)
    return {table: frozenset(tables) for table, tables in found.items()}


@dataclass(frozen=True)
class Baseline:
    """Rows an alias holds right after its schema was installed: counts, digests, and a snapshot to reload."""

    counts: dict[str, int]
    #: table -> its rows, as Django reads each concrete field (``values_list`` of the fields' attnames, in
    #: ``pk`` order): what ``_reload`` builds the instances from. Neither model instances nor a serializer at
    #: install time (instances, their ``pre_init``/``post_init`` signals and Django's "python" serializer cost
    #: ~140 ms for django-simple-history's 1,200 permission and content-type rows on 2 aliases).
    snapshot: dict[str, list[tuple[Any, ...]]]
    #: Tables Django does not count as its own that the install made (unmanaged models', ``unmanaged.py``).
    extra: tuple[str, ...] = ()
    #: Every table the database had (Django's or not).
    all_tables: frozenset[str] = frozenset()
    #: Django's tables and ``extra``: the ones a committing test's writes are looked for in.
    tables: tuple[str, ...] = ()
    #: A digest of each baseline table's rows (``_digest_sql``): an ``UPDATE`` changes it, not the count.
    digests: dict[str, str | None] = field(default_factory=dict)
    #: The columns of each baseline table (what the digest reads on MySQL and sqlite).
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: table -> the tables whose foreign keys point at it: emptying it empties (``CASCADE``) or breaks them.
    referrers: dict[str, frozenset[str]] = field(default_factory=dict)
    #: PostgreSQL's materialized views: a digest of each one's rows (``None``: not populated). A committing test
    #: that refreshes one changes what the next run's warm database would hold, and no emptying puts it back.
    views: dict[str, str | None] = field(default_factory=dict)
    #: A digest of the schema beyond the tables' names (``_schema_digest``): columns, views, indexes, triggers.
    schema: str = ""
    #: Where the id counters stood (``counters.read``): a warm database is kept with them put back there.
    counters: Counters = field(default_factory=dict)

    @classmethod
    def take(cls, alias: str, extra: Iterable[str] = ()) -> Baseline:
        extra = tuple(extra)
        tables = _tables(alias, extra)
        counts = _counts(alias, tables, exists_only=False)
        columns = _columns(alias, counts)
        digests = {t: digest for t, (_count, digest) in _probe(alias, [], list(counts), columns)[0].items()}
        all_tables = frozenset(connections[alias].introspection.table_names())
        models = _models_by_table()
        snapshot = {table: list(models[table]._base_manager.using(alias).order_by("pk").values_list(*_attnames(
            models[table]))) for table in counts if table in models}
        return cls(counts, snapshot, extra, all_tables, tuple(tables), digests, columns, _referrers(),
                   _materialized_views(alias), _schema_digest(alias), counters.read(alias))

    def changes(self, alias: str) -> tuple[list[str], list[str], frozenset[str]]:
        """(tables outside the baseline that hold rows now, baseline tables whose rows changed, tables a ``DELETE``
        fires a trigger or rule on), in one query."""
        tables = list(self.tables) or _tables(alias, self.extra)
        try:  # the tables as the baseline found them: no query per test to list them
            return self._changes(alias, tables, self.columns)
        except DatabaseError:  # the test dropped, renamed or altered one of them: look again, counting only
            return self._changes(alias, _tables(alias, self.extra), None)

    def _changes(self, alias: str, tables: list[str],
                 columns: dict[str, tuple[str, ...]] | None) -> tuple[list[str], list[str], frozenset[str]]:
        fresh = [t for t in tables if t not in self.counts]
        kept = [t for t in tables if t in self.counts]
        now, hooked = _probe(alias, fresh, kept, columns, hooks=True)
        written = [t for t in fresh if t in now]
        changed = [
            t for t in kept
            if now.get(t, (0, None))[0] != self.counts[t]
            or (columns is not None and now[t][1] != self.digests.get(t, now[t][1]))
        ]
        return written, changed, hooked

    def differences(self, alias: str) -> str | None:
        """How ``alias``'s database differs from this baseline now (tables, rows), ``None`` if it does not."""
        tables = frozenset(connections[alias].introspection.table_names())
        if tables != self.all_tables:
            changed = sorted(tables ^ self.all_tables)
            return texts.TABLES_CHANGED.format(tables=", ".join(changed[:5]))
        if _schema_digest(alias) != self.schema:
            return texts.SCHEMA_CHANGED
        views = _materialized_views(alias)
        if views != self.views:
            changed = sorted(name for name in {*views, *self.views} if views.get(name, "") != self.views.get(name, ""))
            return texts.VIEWS_CHANGED.format(views=", ".join(changed[:5]))
        written, changed, _hooked = self._changes(alias, _tables(alias, self.extra), self.columns)
        if written or changed:
            return texts.ROWS_CHANGED.format(tables=", ".join(sorted({*written, *changed})[:5]))
        return None

    def restore(self, alias: str) -> list[str]:
        """Put ``alias``'s rows back as they were when the baseline was taken; returns the tables emptied or
        reloaded."""
        return empty_written_tables(alias, False, self)


def _deleted(alias: str, tables: list[str], reload: list[str], baseline: Baseline) -> bool:
    """``DELETE`` every row of ``tables`` and reload ``reload`` in one transaction; ``False`` (nothing changed)
    if a constraint refuses.

    Django's foreign keys on PostgreSQL are ``DEFERRABLE INITIALLY DEFERRED``: the order of the statements does
    not matter, and the constraints are checked before the commit, so a refusal rolls everything back and Django's
    ``TRUNCATE ... CASCADE`` is used instead (a constraint that is not deferrable, rows of another table pointing in).
    """
    conn = connections[alias]
    quote = conn.ops.quote_name
    try:
        with transaction.atomic(using=alias):
            with conn.cursor() as cursor:
                for table in tables:
                    cursor.execute(f"DELETE FROM {quote(table)}")
            _reload(alias, reload, baseline)
            with conn.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    except IntegrityError:
        return False
    return True


def _models_by_table() -> dict[str, type[Model]]:
    """table -> the model (many-to-many tables' included, proxies not) whose rows it holds."""
    return {m._meta.db_table: m for m in apps.get_models(include_auto_created=True) if not m._meta.proxy}


def _attnames(model: type[Model]) -> list[str]:
    """The columns of ``model``'s own table, by the attribute names Django stores them under."""
    return [field.attname for field in model._meta.local_concrete_fields]


def sequences_past_rows(alias: str, tables: Iterable[str]) -> None:
    """Move the sequence of each of ``tables`` past its highest id (Django's ``sequence_reset_sql``: PostgreSQL's
    ``setval``; MySQL and sqlite move theirs as rows are inserted with their ids)."""
    conn = connections[alias]
    models = _models_by_table()
    statements = conn.ops.sequence_reset_sql(no_style(), [models[table] for table in tables if table in models])
    if statements:
        with conn.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def _reload(alias: str, tables: list[str], baseline: Baseline) -> None:
    """Insert the snapshot's rows of ``tables`` (emptied): one ``INSERT`` per table where Django can."""
    models = _models_by_table()
    for table in tables:
        rows = baseline.snapshot.get(table)
        if not rows:
            continue
        model = models[table]
        names = _attnames(model)
        objects = [model(**dict(zip(names, row, strict=True))) for row in rows]
        if model._meta.parents:  # multi-table inheritance: bulk_create refuses it; this table's rows only
            for obj in objects:
                Model.save_base(obj, using=alias, raw=True, force_insert=True)
        else:
            model._base_manager.using(alias).bulk_create(objects)


#: What a schema holds besides its tables' names, per vendor: each query's rows go into ``_schema_digest``.
_SCHEMA_QUERIES = {
    "postgresql": [  # one round trip
        "SELECT 'n', nspname::text, '', '' FROM pg_namespace "
        "WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' "
        "UNION ALL SELECT 'c', n.nspname::text, c.relname::text, c.relkind::text FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' "
        "UNION ALL SELECT 'a', c.oid::regclass::text, a.attname::text, "
        "format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE a.attnum > 0 AND NOT a.attisdropped AND n.nspname NOT LIKE 'pg\\_%' "
        "AND n.nspname <> 'information_schema' "
        "UNION ALL SELECT 't', tgrelid::regclass::text, tgname::text, '' FROM pg_trigger WHERE NOT tgisinternal "
        "UNION ALL SELECT 'p', n.nspname::text, p.proname::text, pg_get_function_identity_arguments(p.oid) "
        "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'",
    ],
    "mysql": [
        "SELECT table_name, column_name, column_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = DATABASE()",
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = DATABASE()",
        "SELECT table_name, index_name, column_name FROM information_schema.statistics "
        "WHERE table_schema = DATABASE()",
        "SELECT trigger_name, event_object_table FROM information_schema.triggers WHERE trigger_schema = DATABASE()",
    ],
    "sqlite": ["SELECT type, name, tbl_name, sql FROM sqlite_master"],
}


def _schema_digest(alias: str) -> str:
    """A digest of what ``alias``'s schema holds besides its tables' names: every column's type and nullability,
    views, indexes, triggers (PostgreSQL: schemas and functions too). A committing test that ran DDL (``ALTER
    TABLE ... ADD COLUMN``, ``CREATE VIEW``) changes it, and the next run must not find that in a warm database.
    ``""`` on other backends."""
    conn = connections[alias]
    digest = hashlib.sha256()
    with conn.cursor() as cursor:
        for sql in _SCHEMA_QUERIES.get(conn.vendor, ()):
            cursor.execute(sql)
            digest.update(repr(sorted(tuple(map(str, row)) for row in cursor.fetchall())).encode())
    return digest.hexdigest()


def _materialized_views(alias: str) -> dict[str, str | None]:
    """PostgreSQL: each materialized view of the schemas on the search path, by a digest of its rows (``None``: not
    populated). Other backends have none."""
    conn = connections[alias]
    if conn.vendor != "postgresql":
        return {}
    with conn.cursor() as cursor:
        cursor.execute("SELECT matviewname, ispopulated FROM pg_matviews "
                       "WHERE schemaname = ANY(current_schemas(false))")
        found = cursor.fetchall()
        digests: dict[str, str | None] = {}
        for name, populated in found:
            if populated:
                cursor.execute(f"SELECT md5(coalesce(string_agg(v::text, ',' ORDER BY v::text), '')) "
                               f"FROM {conn.ops.quote_name(name)} v")
                digests[name] = cursor.fetchone()[0]
            else:
                digests[name] = None
    return digests


def _tables(alias: str, extra: Iterable[str]) -> list[str]:
    """Django's tables on ``alias`` (models, many-to-many tables) and ``extra`` ones."""
    found = connections[alias].introspection.django_table_names(only_existing=True, include_views=False)
    return sorted({*found, *extra})


def _with_referrers(tables: list[str], baseline: Baseline) -> list[str]:
    """The baseline tables whose foreign keys point (directly or not) into ``tables``: emptying ``tables``
    cascades into them or leaves their rows dangling, so they are reloaded too."""
    found: list[str] = []
    todo = list(tables)
    while todo:
        for referrer in sorted(baseline.referrers.get(todo.pop(), ())):
            if referrer in baseline.counts and referrer not in tables and referrer not in found:
                found.append(referrer)
                todo.append(referrer)
    return found


def empty_written_tables(alias: str, reset_sequences: bool, baseline: Baseline | None = None) -> list[str]:
    """Empty the tables a committing test wrote on ``alias`` and reload the baseline tables it changed, leaving
    what Django's flush would not touch alone. Returns the tables emptied or reloaded."""
    conn = connections[alias]
    baseline = baseline or Baseline({}, {})
    written, changed, hooked = baseline.changes(alias)
    if reset_sequences:  # every table Django would truncate (``sql_flush(reset_sequences=True)``)
        fresh = [t for t in (list(baseline.tables) or _tables(alias, baseline.extra)) if t not in baseline.counts]
        written = fresh
    if not written and not changed:
        return []
    changed += _with_referrers([*written, *changed], baseline)
    flush = [*written, *changed]
    deleting = conn.vendor == "postgresql" and not reset_sequences and not hooked.intersection(flush)
    if not (deleting and _deleted(alias, flush, changed, baseline)):
        statements = conn.ops.sql_flush(no_style(), flush, reset_sequences=reset_sequences, allow_cascade=True)
        with conn.constraint_checks_disabled(), transaction.atomic(using=alias):
            conn.ops.execute_sql_flush(statements)
            # MySQL's flush ends by turning foreign key checks on again; the tables are reloaded in name order.
            with conn.constraint_checks_disabled():
                _reload(alias, changed, baseline)
            if reset_sequences:  # restarted by the flush, under the reloaded rows' ids
                sequences_past_rows(alias, changed)
    _forget_content_types(flush)
    return flush


def _forget_content_types(tables: list[str]) -> None:
    """Clear contenttypes' cache when its table was emptied: it may hold a content type the test made (Django's
    flush clears it too, through the ``post_migrate`` handler ``create_contenttypes``)."""
    if not apps.is_installed("django.contrib.contenttypes"):
        return
    from django.contrib.contenttypes.models import ContentType

    if ContentType._meta.db_table in tables:
        ContentType.objects.clear_cache()
