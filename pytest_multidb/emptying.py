"""Emptying what a committing (``transaction=True``) test wrote, and nothing else.

Test databases start empty apart from rows the schema install put there (data migrations, ``post_migrate``
handlers such as contenttypes and permissions): the *baseline*, snapshotted once per alias. After a
committing test, a table with rows that is not in the baseline was written by the test and is emptied; a
baseline table whose row count changed is emptied and reloaded from the snapshot.

Emptying deletes rows rather than truncating tables where Django's flush would truncate (PostgreSQL without
sequence resets): a ``TRUNCATE`` gives every table a new file, and costs far more than the ``DELETE`` of the
few rows a test writes (measured on this project's 2-core CI machine, 8 tables of one row each: ``TRUNCATE
... CASCADE`` 178 ms, the ``DELETE`` statements in one transaction 7.7 ms).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps
from django.core import serializers
from django.core.management.color import no_style
from django.db import DatabaseError, IntegrityError, connections, transaction


def _counts(alias: str, tables: list[str], exists_only: bool) -> dict[str, int]:
    """Row counts (or 1 for "has rows") of ``tables``, in one query."""
    if not tables:
        return {}
    quote = connections[alias].ops.quote_name
    part = (
        "SELECT {i}, 1 FROM (SELECT 1 AS x FROM {t} LIMIT 1) AS q{i}" if exists_only
        else "SELECT {i}, COUNT(*) FROM {t}"
    )
    probe = " UNION ALL ".join(part.format(i=i, t=quote(t)) for i, t in enumerate(tables))
    with connections[alias].cursor() as cursor:
        cursor.execute(probe)
        return {tables[i]: count for i, count in cursor.fetchall() if count}


def written_tables(alias: str, tables: list[str]) -> list[str]:
    """The tables in ``tables`` that hold rows now."""
    return list(_counts(alias, tables, exists_only=True))


@dataclass(frozen=True)
class Baseline:
    """Rows an alias holds right after its schema was installed: counts, and a snapshot to reload."""

    counts: dict[str, int]
    snapshot: dict[str, str]
    #: Tables Django does not count as its own that the install made (unmanaged models', ``unmanaged.py``).
    extra: tuple[str, ...] = ()
    #: Every table the database had (Django's or not).
    all_tables: frozenset[str] = frozenset()
    #: Django's tables and ``extra``: the ones a committing test's writes are looked for in.
    tables: tuple[str, ...] = ()

    @classmethod
    def take(cls, alias: str, extra: Iterable[str] = ()) -> Baseline:
        extra = tuple(extra)
        tables = _tables(alias, extra)
        counts = _counts(alias, tables, exists_only=False)
        all_tables = frozenset(connections[alias].introspection.table_names())
        models = {m._meta.db_table: m for m in apps.get_models(include_auto_created=True)}
        snapshot = {
            table: serializers.serialize("json", models[table]._base_manager.using(alias).order_by("pk"))
            for table in counts
            if table in models
        }
        return cls(counts, snapshot, extra, all_tables, tuple(tables))

    def differences(self, alias: str) -> str | None:
        """How ``alias``'s database differs from this baseline now (tables, row counts), ``None`` if it does not.

        What row counts cannot see (a committed UPDATE of an install-time row) goes unnoticed here, as it does
        when a committing test's writes are emptied (``empty_written_tables``).
        """
        tables = frozenset(connections[alias].introspection.table_names())
        if tables != self.all_tables:
            changed = sorted(tables ^ self.all_tables)
            return f"tables were added or dropped since its schema was installed ({', '.join(changed[:5])})"
        counts = _counts(alias, _tables(alias, self.extra), exists_only=False)
        changed = sorted(t for t in {*counts, *self.counts} if counts.get(t, 0) != self.counts.get(t, 0))
        if changed:
            return f"rows were left in {', '.join(changed[:5])}"
        return None


def _deleted(alias: str, tables: list[str]) -> bool:
    """``DELETE`` every row of ``tables`` in one transaction; ``False`` (nothing changed) if a constraint refuses.

    Django's foreign keys on PostgreSQL are ``DEFERRABLE INITIALLY DEFERRED``: the order of the statements does
    not matter, and the constraints are checked before the commit, so a refusal rolls everything back and Django's
    ``TRUNCATE ... CASCADE`` is used instead (a constraint that is not deferrable, rows of another table pointing in).
    """
    conn = connections[alias]
    quote = conn.ops.quote_name
    try:
        with transaction.atomic(using=alias), conn.cursor() as cursor:
            for table in tables:
                cursor.execute(f"DELETE FROM {quote(table)}")
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    except IntegrityError:
        return False
    return True


def _tables(alias: str, extra: Iterable[str]) -> list[str]:
    """Django's tables on ``alias`` (models, many-to-many tables) and ``extra`` ones."""
    found = connections[alias].introspection.django_table_names(only_existing=True, include_views=False)
    return sorted({*found, *extra})


def _written(alias: str, tables: list[str],
             baseline: Baseline) -> tuple[list[str], list[str], list[str], dict[str, int]]:
    """(tables without baseline rows, tables with, those of the first holding rows now, counts of the second)."""
    fresh = [t for t in tables if t not in baseline.counts]
    kept = [t for t in tables if t in baseline.counts]
    return fresh, kept, written_tables(alias, fresh), _counts(alias, kept, exists_only=False)


def empty_written_tables(alias: str, reset_sequences: bool, baseline: Baseline | None = None) -> list[str]:
    """Empty (through Django's ``sql_flush``) the tables a committing test wrote on ``alias``; reload the
    baseline tables it changed. Returns the tables that were written."""
    conn = connections[alias]
    baseline = baseline or Baseline({}, {})
    try:  # the tables as the baseline found them: no query per test to list them
        fresh, kept, written, now = _written(alias, list(baseline.tables) or _tables(alias, baseline.extra), baseline)
    except DatabaseError:  # the test dropped or renamed one of them: look again
        fresh, kept, written, now = _written(alias, _tables(alias, baseline.extra), baseline)
    changed = [t for t in kept if now.get(t, 0) != baseline.counts[t]]
    flush = [*written, *changed] if not reset_sequences else fresh + changed
    if flush:
        with conn.constraint_checks_disabled():
            if reset_sequences or conn.vendor != "postgresql" or not _deleted(alias, flush):
                statements = conn.ops.sql_flush(no_style(), flush, reset_sequences=reset_sequences, allow_cascade=True)
                conn.ops.execute_sql_flush(statements)
            for table in changed:
                for obj in serializers.deserialize("json", baseline.snapshot.get(table, "[]"), using=alias):
                    obj.save(using=alias)
    return written + changed
