"""``atomic()`` across sqlite ("a"), PostgreSQL ("pg") and MariaDB ("maria"), against the real servers.

Failures are real: a PostgreSQL commit fails on a dangling deferred foreign key (Django creates them DEFERRABLE
INITIALLY DEFERRED), sessions are killed from another connection. Every "is it there?" check opens a new session.
"""

import threading
from contextlib import suppress

import pytest
from django.db import DatabaseError, IntegrityError, NotSupportedError, OperationalError, transaction
from django.db import connections as django_connections

from pytest_multidb import InDoubtTransactionError, PartialCommitError, atomic
from sample_models.artists.models import Artist
from sample_models.cycles.models import Author
from sample_models.widgets.models import Exhibit, Widget

ALIASES = ("a", "pg", "maria", "default")
MISSING_WIDGET = 999_999


def fetch(alias, sql):
    """Rows of ``sql`` run in a brand-new session on ``alias`` (``None`` for a statement without rows)."""
    conn = django_connections[alias]
    conn.close()
    with conn.cursor() as cursor:
        cursor.execute(sql)
        return None if cursor.description is None else [tuple(row) for row in cursor.fetchall()]


def fetch_in_block(alias, sql):
    """Rows of ``sql`` run on ``alias``'s current session (inside the block)."""
    with django_connections[alias].cursor() as cursor:
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]


def count(model, alias):
    return fetch(alias, f"SELECT COUNT(*) FROM {model._meta.db_table}")[0][0]


def dangling_exhibit():
    """An Exhibit whose widget does not exist: PostgreSQL refuses it at COMMIT / PREPARE TRANSACTION."""
    return Exhibit.objects.create(widget_id=MISSING_WIDGET, artist_id=1, title="dangling")


def max_prepared_transactions():
    return int(fetch("pg", "SHOW max_prepared_transactions")[0][0])


@pytest.fixture(autouse=True)
def no_open_transactions():
    """Every test leaves each alias in autocommit, without leftover execute wrappers."""
    yield
    for alias in ALIASES:
        conn = django_connections[alias]
        assert not conn.in_atomic_block, alias
        assert conn.execute_wrappers == [], alias


@pytest.fixture
def no_prepared_left(monkeypatch):
    """No prepared transaction (PostgreSQL, or MariaDB XA) may be left behind; any found is rolled back.

    ``XA RECOVER`` lists the whole MariaDB server's: only the transaction ids of the blocks this test opened count
    (another xdist worker's two-phase test may be between its PREPARE and its COMMIT right now)."""
    import uuid

    from pytest_multidb import transaction as layer

    made: list[str] = []

    class RecordingUuid:  # the tokens of the blocks opened here (``Atomic.token``, every gid's prefix)
        @staticmethod
        def uuid4() -> uuid.UUID:
            value = uuid.uuid4()
            made.append(f"multidb-{value.hex}")
            return value

    monkeypatch.setattr(layer, "uuid", RecordingUuid)
    yield
    pg_left = fetch("pg", "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")
    xa_left = [row[3].decode() for row in fetch("maria", "XA RECOVER")
               if any(row[3].decode(errors="replace").startswith(token) for token in made)]
    for (gid,) in pg_left:
        fetch("pg", f"ROLLBACK PREPARED '{gid}'")
    for gid in xa_left:
        fetch("maria", f"XA ROLLBACK '{gid}'")
    assert pg_left == [] and xa_left == [], "prepared transactions were left behind"


@pytest.fixture
def two_phase(no_prepared_left):
    """Needs PREPARE TRANSACTION on "pg" (scripts/test enables it on the local server)."""
    if max_prepared_transactions() == 0:
        pytest.skip("PostgreSQL max_prepared_transactions = 0: set it above 0 to test two-phase commit")


@pytest.fixture
def pg_without_prepared_transactions(tmp_path):
    """A throwaway PostgreSQL server with max_prepared_transactions = 0 (PostgreSQL's default), as an alias."""
    from pytest_multidb.provision.process import PostgresProcess
    from pytest_multidb.provision.registry import Registry

    class Server(PostgresProcess):
        def server_command(self):
            return [*super().server_command(), "-c", "max_prepared_transactions=0"]  # the last -c wins

    alias, databases = "pg_no_2pc", django_connections.settings
    server = Server(alias, tmp_path / "server.log", Registry())
    server.start()
    databases[alias] = {**databases["pg"], **server.settings(), "NAME": "postgres"}
    try:
        yield alias
    finally:
        django_connections[alias].close()
        del django_connections[alias], databases[alias]
        server.close()


def kill_maria_session():
    """Kill this thread's MariaDB session from another connection, as a crash or a network cut would."""
    ((session,),) = fetch_in_block("maria", "SELECT CONNECTION_ID()")
    with django_connections["maria"]._nodb_cursor() as other:
        other.execute(f"KILL {session}")


def kill_pg_session_before(statement):
    """An execute wrapper on "pg" that terminates its session, from another connection, just before ``statement``."""

    def wrapper(execute, sql, params, many, context):
        if sql.startswith(statement):
            with context["connection"]._nodb_cursor() as other:
                other.execute("SELECT pg_terminate_backend(%s)", [context["connection"].connection.info.backend_pid])
        return execute(sql, params, many, context)

    return django_connections["pg"].execute_wrapper(wrapper)


# -- all or nothing --------------------------------------------------------------------------------------------


def test_exception_rolls_back_every_connection():
    with pytest.raises(RuntimeError, match="boom"), atomic(connections=["a", "pg", "maria"]):
        Artist.objects.create(name="x")
        Widget.objects.create(code="w", weight=1)
        Author.objects.create(name="n")
        assert all(django_connections[alias].in_atomic_block for alias in ("a", "pg", "maria"))
        raise RuntimeError("boom")
    assert (count(Artist, "a"), count(Widget, "pg"), count(Author, "maria")) == (0, 0, 0)


def test_success_commits_every_connection(clean_tables):
    with atomic(connections=["a", "pg", "maria"]):
        Artist.objects.create(name="x")
        Widget.objects.create(code="w", weight=1)
        Author.objects.create(name="n")
    assert (count(Artist, "a"), count(Widget, "pg"), count(Author, "maria")) == (1, 1, 1)


def test_failed_second_commit_names_what_committed(clean_tables):
    with pytest.raises(PartialCommitError) as caught, atomic(connections=["a", "pg", "maria"]):
        artist = Artist.objects.create(name="x")
        Exhibit.objects.create(widget_id=MISSING_WIDGET, artist_id=artist.pk)
        Author.objects.create(name="n")
    error = caught.value
    assert (error.committed, error.failed, error.rolled_back) == (("a",), "pg", ("maria",))
    assert isinstance(error, DatabaseError)
    assert isinstance(error.__cause__, IntegrityError)
    message = str(error)
    assert message.startswith("atomic(): partial commit. Committed: 'a'. Commit failed (rolled back): 'pg' ")
    assert "IntegrityError: insert or update on table \"widgets_exhibit\" violates foreign key constraint" in message
    assert "Rolled back: 'maria'. The databases now disagree" in message
    assert "Use atomic(..., two_phase=True)" in message
    assert (count(Artist, "a"), count(Exhibit, "pg"), count(Author, "maria")) == (1, 0, 0)


def test_failed_first_commit_raises_the_commit_error(clean_tables):
    with pytest.raises(IntegrityError), atomic(connections=["pg", "a"]):
        dangling_exhibit()
        Artist.objects.create(name="x")
    assert (count(Exhibit, "pg"), count(Artist, "a")) == (0, 0)


def test_set_rollback_on_one_connection_rolls_back_all():
    with atomic(connections=["a", "pg"]):
        Artist.objects.create(name="x")
        Widget.objects.create(code="w", weight=1)
        transaction.set_rollback(True, using="pg")
    assert (count(Artist, "a"), count(Widget, "pg")) == (0, 0)


def test_on_commit_callbacks_run_after_every_connection_committed(clean_tables):
    calls = []
    with atomic(connections=["a", "pg"]):
        Artist.objects.create(name="x")
        transaction.on_commit(lambda: calls.append(count(Widget, "pg")), using="a")
        Widget.objects.create(code="w", weight=1)
    assert calls == [1]
    with pytest.raises(PartialCommitError), atomic(connections=["a", "pg"]):
        transaction.on_commit(lambda: calls.append("a committed"), using="a")
        Artist.objects.create(name="y")
        dangling_exhibit()
    assert calls == [1]


# -- without connections=: whatever the block uses ----------------------------------------------------------


def test_implicit_block_covers_connections_first_opened_inside():
    for alias in ("pg", "maria"):
        django_connections[alias].close()
    with pytest.raises(RuntimeError), atomic():
        assert django_connections["pg"].connection is None
        Artist.objects.create(name="x")
        Widget.objects.create(code="w", weight=1)
        assert django_connections["pg"].in_atomic_block
        raise RuntimeError
    assert django_connections["maria"].connection is None, "an alias the block did not use was connected"
    assert (count(Artist, "a"), count(Widget, "pg")) == (0, 0)


def test_implicit_block_commits_in_first_use_order(clean_tables):
    with pytest.raises(PartialCommitError) as caught, atomic():
        Author.objects.create(name="n")
        dangling_exhibit()
        Artist.objects.create(name="x")
    assert (caught.value.committed, caught.value.failed, caught.value.rolled_back) == (("maria",), "pg", ("a",))
    assert (count(Author, "maria"), count(Exhibit, "pg"), count(Artist, "a")) == (1, 0, 0)


def test_implicit_block_commits(clean_tables):
    with atomic():
        Artist.objects.create(name="x")
        Widget.objects.create(code="w", weight=1)
    assert (count(Artist, "a"), count(Widget, "pg")) == (1, 1)


@pytest.mark.parametrize(
    ("alias", "model", "key", "extra"),
    [("a", Artist, "name", {}), ("pg", Widget, "code", {"weight": 1}), ("maria", Author, "name", {})],
)
def test_django_atomic_inside_implicit_block_becomes_a_savepoint(alias, model, key, extra):
    # transaction.atomic(), or a queryset method that opens one (bulk_create(), get_or_create(), ...), as the first
    # thing done on the alias: the block must hold the alias already, so that they do not commit on their own.
    django_connections[alias].close()
    with pytest.raises(RuntimeError), atomic():
        with transaction.atomic(using=alias):
            model.objects.create(**{key: "first"}, **extra)
        model.objects.bulk_create([model(**{key: "second"}, **extra)])
        model.objects.get_or_create(**{key: "third"}, defaults=extra)
        assert model.objects.count() == 3
        raise RuntimeError
    assert count(model, alias) == 0


def test_durable_django_atomic_inside_implicit_block_is_refused():
    # As in Django, a durable block cannot be nested: inside atomic() it could not commit when it ends.
    refused = pytest.raises(RuntimeError, match="A durable atomic block cannot be nested")
    with refused, atomic(), transaction.atomic(using="pg", durable=True):
        pass  # pragma: no cover


def test_statements_run_while_opening_a_connection_stay_outside_the_transaction(no_prepared_left):
    # Django sets MariaDB's isolation level while it opens a connection; XA START must come after that.
    django_connections["maria"].close()
    with atomic(two_phase=True):
        Author.objects.create(name="n")
        level = fetch_in_block("maria", "SELECT trx_isolation_level FROM information_schema.innodb_trx "
                               "WHERE trx_mysql_thread_id = CONNECTION_ID()")
        transaction.set_rollback(True, using="maria")
    assert level == [("READ COMMITTED",)]


# -- nesting -------------------------------------------------------------------------------------------------


def test_inner_failure_rolls_back_only_the_inner_savepoint(clean_tables):
    with atomic(connections=["a", "pg"]):
        Artist.objects.create(name="outer")
        Widget.objects.create(code="outer", weight=1)
        with pytest.raises(RuntimeError), atomic(connections=["a", "pg"]):
            Artist.objects.create(name="inner")
            Widget.objects.create(code="inner", weight=1)
            raise RuntimeError
        with atomic():  # an implicit inner block joins as savepoints too
            Widget.objects.create(code="kept", weight=1)
    assert fetch("a", "SELECT name FROM artists_artist") == [("outer",)]
    assert sorted(fetch("pg", "SELECT code FROM widgets_widget")) == [("kept",), ("outer",)]


def test_nested_in_django_atomic_commits_with_it(clean_tables):
    with transaction.atomic(using="pg"):
        with atomic(connections=["pg"]):
            Widget.objects.create(code="w", weight=1)
        assert django_connections["pg"].in_atomic_block
        transaction.set_rollback(True, using="pg")
    assert count(Widget, "pg") == 0


# -- two-phase commit ----------------------------------------------------------------------------------------


def test_two_phase_commits_both(two_phase, clean_tables):
    with atomic(connections=["maria", "pg"], two_phase=True):
        Author.objects.create(name="n")
        Widget.objects.create(code="w", weight=1)
    assert (count(Author, "maria"), count(Widget, "pg")) == (1, 1)


def test_two_phase_failed_prepare_rolls_back_the_prepared_branch(two_phase):
    refused = pytest.raises(IntegrityError, match="violates foreign key constraint")
    with refused, atomic(connections=["maria", "pg"], two_phase=True):
        Author.objects.create(name="n")
        dangling_exhibit()
    assert (count(Author, "maria"), count(Exhibit, "pg")) == (0, 0)


def test_two_phase_last_branch_killed_rolls_back_the_prepared_one(two_phase):
    with pytest.raises(OperationalError), atomic(connections=["pg", "maria"], two_phase=True):
        Widget.objects.create(code="w", weight=1)
        Author.objects.create(name="n")
        kill_maria_session()
    assert (count(Widget, "pg"), count(Author, "maria")) == (0, 0)


def test_two_phase_commit_failure_after_prepare_names_the_gid_to_resolve(two_phase, clean_tables):
    block = atomic(connections=["maria", "pg"], two_phase=True)
    with pytest.raises(InDoubtTransactionError) as caught, kill_pg_session_before("COMMIT PREPARED"), block:
        Author.objects.create(name="n")
        Widget.objects.create(code="w", weight=1)
    error = caught.value
    gid = error.gids["pg"]
    assert gid.startswith("multidb-") and gid.endswith("-1-pg")
    assert (error.action, error.committed, error.resolve) == ("commit", ("maria",), {"pg": f"COMMIT PREPARED '{gid}'"})
    assert str(error).startswith("atomic(two_phase=True): committing after every database prepared failed on 'pg' (")
    assert f"run on 'pg': COMMIT PREPARED '{gid}'. Committed: 'maria'." in str(error)
    assert (count(Author, "maria"), count(Widget, "pg")) == (1, 0)
    fetch("pg", error.resolve["pg"])
    assert count(Widget, "pg") == 1


def test_two_phase_rollback_failure_after_failed_prepare_names_the_gid(two_phase):
    block = atomic(connections=["pg", "maria"], two_phase=True)
    with pytest.raises(InDoubtTransactionError) as caught, kill_pg_session_before("ROLLBACK PREPARED"), block:
        Widget.objects.create(code="w", weight=1)
        Author.objects.create(name="n")
        kill_maria_session()
    error = caught.value
    assert (error.action, error.committed) == ("rollback", ())
    assert error.resolve == {"pg": f"ROLLBACK PREPARED '{error.gids['pg']}'"}
    assert isinstance(error.__context__, OperationalError)  # the failed prepare on maria
    fetch("pg", error.resolve["pg"])
    assert (count(Widget, "pg"), count(Author, "maria")) == (0, 0)


def test_two_phase_implicit_block(two_phase, clean_tables):
    with atomic(two_phase=True):
        Widget.objects.create(code="w", weight=1)
        Author.objects.create(name="n")
    assert (count(Widget, "pg"), count(Author, "maria")) == (1, 1)


def test_two_phase_refuses_sqlite_naming_the_alias():
    with pytest.raises(NotSupportedError) as caught, atomic(connections=["maria", "a"], two_phase=True):
        pass  # pragma: no cover
    assert str(caught.value) == (
        "atomic(two_phase=True): alias 'a' is SQLite, which has no two-phase commit. Keep 'a' out of two-phase "
        "blocks (name the others in connections=[...]) or use two_phase=False. Two-phase commit works on "
        "PostgreSQL and MySQL/MariaDB."
    )
    with pytest.raises(NotSupportedError, match="alias 'a' is SQLite"), atomic(two_phase=True):
        Author.objects.create(name="n")
        Artist.objects.create(name="x")
    assert count(Author, "maria") == 0


def test_two_phase_without_prepared_transactions_names_the_setting(pg_without_prepared_transactions):
    alias = pg_without_prepared_transactions
    assert fetch(alias, "SHOW max_prepared_transactions") == [("0",)]
    with pytest.raises(NotSupportedError) as caught, atomic(connections=[alias], two_phase=True):
        pass  # pragma: no cover
    assert str(caught.value) == (
        f"atomic(two_phase=True): alias {alias!r} is a PostgreSQL server with max_prepared_transactions = 0, which "
        "disables PREPARE TRANSACTION. Set max_prepared_transactions above 0 (e.g. to max_connections) in "
        "postgresql.conf or with ALTER SYSTEM, and restart the server."
    )


# -- decorator -----------------------------------------------------------------------------------------------


def test_bare_decorator(clean_tables):
    @atomic
    def create(fail):
        Artist.objects.create(name="x")
        Widget.objects.create(code="w", weight=1)
        if fail:
            raise RuntimeError

    with pytest.raises(RuntimeError):
        create(fail=True)
    assert (count(Artist, "a"), count(Widget, "pg")) == (0, 0)
    create(fail=False)
    assert (count(Artist, "a"), count(Widget, "pg")) == (1, 1)


def test_decorator_is_reentrant(clean_tables):
    @atomic(connections=["pg"])
    def create(depth):
        Widget.objects.create(code=f"w{depth}", weight=depth)
        if depth < 3:
            with suppress(RuntimeError):
                create(depth + 1)
        if depth == 3:
            raise RuntimeError

    create(1)
    assert sorted(fetch("pg", "SELECT code FROM widgets_widget")) == [("w1",), ("w2",)]


def test_decorator_is_thread_safe(clean_tables):
    barrier = threading.Barrier(2)

    @atomic(connections=["pg", "maria"])
    def create(name, fail):
        Widget.objects.create(code=name, weight=1)
        Author.objects.create(name=name)
        barrier.wait(timeout=10)  # both threads are inside the same decorated function now
        if fail:
            raise RuntimeError

    def run(name, fail):
        try:
            create(name, fail)
        except RuntimeError:
            pass
        finally:
            django_connections.close_all()

    threads = [threading.Thread(target=run, args=(name, name == "bad")) for name in ("good", "bad")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fetch("pg", "SELECT code FROM widgets_widget") == [("good",)]
    assert fetch("maria", "SELECT name FROM cycles_author") == [("good",)]


def test_unknown_alias():
    with pytest.raises(Exception, match="The database alias 'nope' is not configured"), atomic(["pg", "nope"]):
        pass  # pragma: no cover
