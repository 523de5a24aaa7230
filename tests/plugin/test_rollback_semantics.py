"""What a rollback test sees of Django's transaction state, whichever way the plugin runs it.

On MySQL and MariaDB the driver's autocommit is left off from one rollback test to the next
(``held_autocommit.py``); ``--multidb-autocommit-each-test`` turns it off and on around every test, as Django's
``atomic()`` does. Each item below is checked on sqlite, PostgreSQL and MariaDB, both ways, and must hold both ways:
Django's state at a test's start, rows gone after it, ``on_commit`` callbacks captured or discarded, ``atomic()``
and ``select_for_update()`` inside a test, a caught ``IntegrityError`` (PostgreSQL's aborted transaction), Django
``TestCase`` classes, threads and ``live_server`` on the test's connection, committing tests between rollback
tests, and code outside any test writing between two of them. The round trips themselves are counted by the
MariaDB server (``Com_set_option``, ``Com_rollback``), where only the new path sends fewer, and on PostgreSQL read
off libpq's trace of the connection (``ReadyForQuery``, one per round trip).
"""

from __future__ import annotations

import itertools
import json
import re

import pytest

from tests.support.servers import MARIADB, POSTGRES

SEMANTICS = '''
import threading
from urllib.request import urlopen

import pytest
from django.db import IntegrityError, connections, transaction
from django.db.transaction import TransactionManagementError
from inner_helpers import MODELS, SERVER, add, committed, count

pytestmark = pytest.mark.uses_db("a", SERVER)
CALLED = []


def conn():
    return connections[SERVER]


def autocommit_in_server():
    """What the server says (MySQL/MariaDB) or the driver holds: is autocommit on?"""
    c = conn()
    if c.vendor == "mysql":
        with c.cursor() as cursor:
            cursor.execute("SELECT @@autocommit")
            return bool(cursor.fetchone()[0])
    if c.vendor == "postgresql":
        return bool(c.connection.autocommit)
    return c.get_autocommit()  # sqlite: in the process, Django's view is the driver's


def a_copy_of(obj):
    return MODELS[SERVER].objects.get(pk=obj.pk)


def test_01_django_state_at_the_start():
    c = conn()
    assert c.in_atomic_block and c.savepoint_ids == [] and not c.needs_rollback and c.run_on_commit == []
    assert c.get_autocommit() is False
    add(SERVER, "one")
    assert count(SERVER) == 1
    assert autocommit_in_server() is False


def test_02_nothing_left():
    assert count(SERVER) == 0 and committed(SERVER) == 0
    assert conn().get_autocommit() is False and autocommit_in_server() is False


def test_02b_sends_nothing_to_the_server_alias():
    add("a", "elsewhere")


def test_02c_after_a_test_that_sent_nothing():
    c = conn()
    assert c.in_atomic_block and c.savepoint_ids == [] and not c.needs_rollback
    assert c.get_autocommit() is False and autocommit_in_server() is False
    assert count(SERVER) == 0 and count("a") == 0


def test_03_on_commit_discarded():
    transaction.on_commit(lambda: CALLED.append("discarded"), using=SERVER)
    add(SERVER, "x")
    assert CALLED == []


def test_04_on_commit_captured(django_capture_on_commit_callbacks):
    assert conn().run_on_commit == []  # the discarded one is gone
    with django_capture_on_commit_callbacks(using=SERVER, execute=True) as callbacks:
        transaction.on_commit(lambda: CALLED.append("captured"), using=SERVER)
    assert len(callbacks) == 1 and CALLED == ["captured"]


def test_05_atomic_and_savepoints_inside():
    with transaction.atomic(using=SERVER):
        add(SERVER, "outer")
        assert len(conn().savepoint_ids) == 1
        with pytest.raises(ValueError):
            with transaction.atomic(using=SERVER):
                add(SERVER, "inner")
                raise ValueError
    assert count(SERVER) == 1 and conn().savepoint_ids == []


def test_06_a_caught_integrity_error_inside_atomic():
    row = add(SERVER, "dup")
    with pytest.raises(IntegrityError):
        with transaction.atomic(using=SERVER):
            a_copy_of(row).save(force_insert=True)
    assert count(SERVER) == 1  # PostgreSQL: the transaction is usable again after its savepoint


def test_07_a_caught_integrity_error_outside_atomic():
    row = add(SERVER, "dup")
    with pytest.raises(IntegrityError):
        a_copy_of(row).save(force_insert=True)
    assert conn().needs_rollback
    with pytest.raises(TransactionManagementError):
        count(SERVER)


def test_08_the_next_test_is_clean():
    assert not conn().needs_rollback and count(SERVER) == 0


def test_09_select_for_update():
    add(SERVER, "locked")
    with transaction.atomic(using=SERVER):
        assert len(list(MODELS[SERVER].objects.select_for_update())) == 1


def test_10_threads_use_the_test_connection():
    add(SERVER, "t")
    seen = []
    thread = threading.Thread(target=lambda: seen.append(count(SERVER)))
    thread.start()
    thread.join()
    assert seen == [1]


def test_10b_only_a_thread_writes():
    seen = []

    def write():
        add(SERVER, "t")
        seen.append(count(SERVER))

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    assert seen == [1]


@pytest.mark.urls("semantics_urls")
def test_11_live_server(live_server):
    add(SERVER, "served")
    assert urlopen(f"{live_server.url}/count/").read() == b"1"


@pytest.mark.uses_db(SERVER, transaction=True)
def test_15_a_committing_test_commits():
    assert conn().get_autocommit() is True and autocommit_in_server() is True
    add(SERVER, "committed")
    assert committed(SERVER) == 1


def test_16_rolled_back_again():
    add(SERVER, "r")
    assert committed(SERVER) == 0 and count(SERVER) == 1
'''

DJANGO_CLASS = '''
from django.db import connections
from django.test import TestCase
from inner_helpers import SERVER, add, count


def conn():
    return connections[SERVER]


class TestADjangoTestCase(TestCase):
    databases = {"a", SERVER}

    @classmethod
    def setUpTestData(cls):
        add(SERVER, "class row")

    def test_12_sees_the_class_row(self):
        assert count(SERVER) == 1
        assert conn().in_atomic_block and len(conn().savepoint_ids) == 1
        add(SERVER, "test row")

    def test_13_not_the_other_test_row(self):
        assert count(SERVER) == 1
'''

AFTER_THE_CLASS = '''
import pytest
from django.db import connections
from inner_helpers import SERVER, committed, count

pytestmark = pytest.mark.uses_db("a", SERVER)


def test_14_after_the_class():
    assert count(SERVER) == 0 and committed(SERVER) == 0
    assert connections[SERVER].get_autocommit() is False
'''

OUTSIDE = '''
import pytest
from inner_helpers import MODELS, SERVER, add, committed, count

pytestmark = pytest.mark.uses_db("a", SERVER)


@pytest.fixture(scope="module")
def seeded(django_db_blocker):
    """Code outside any test writes, between the last rollback test of the file before and this file's tests."""
    with django_db_blocker.unblock():
        add(SERVER, "seed")
        seen = committed(SERVER)
    yield seen
    with django_db_blocker.unblock():
        MODELS[SERVER].objects.all().delete()


def test_1_what_code_outside_a_test_wrote_is_committed(seeded):
    assert seeded == 1
    assert count(SERVER) == 1


def test_2_and_a_test_after_it_still_rolls_back(seeded):
    add(SERVER, "more")
    assert count(SERVER) == 2 and committed(SERVER) == 1
'''

URLS = '''
from django.http import HttpResponse
from django.urls import path
from inner_helpers import SERVER, count

urlpatterns = [path("count/", lambda request: HttpResponse(str(count(SERVER))))]
'''

EACH_TEST = "--multidb-autocommit-each-test"


@pytest.mark.parametrize("path", ["default", "each-test"])
def test_django_sees_the_same_transactions_either_way(inner, pytester, backend, path):
    pytester.makepyfile(semantics_urls=URLS, test_a_semantics=SEMANTICS, test_b_django_class=DJANGO_CLASS,
                        test_c_after_the_class=AFTER_THE_CLASS, test_d_outside=OUTSIDE)
    run = inner("-v", "-p", "no:randomly", *([EACH_TEST] if path == "each-test" else []), backend=backend)
    run.result.assert_outcomes(passed=21)
    assert run.leftovers() == set()


COUNTED = '''
import json
import os

import pytest
from django.db import connections
from inner_helpers import SERVER, add

pytestmark = pytest.mark.uses_db(SERVER)


def status():
    with connections[SERVER].cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS WHERE Variable_name IN ('Com_set_option', 'Com_rollback')")
        return dict(cursor.fetchall())


@pytest.mark.parametrize("n", range(6))
def test_counted(n):
    before = status()
    add(SERVER, f"row {n}")
    with open(os.environ["COUNTS_FILE"], "a") as out:
        out.write(json.dumps([id(connections[SERVER].connection), before]) + "\\n")
'''


UNTOUCHED = COUNTED.replace('pytestmark = pytest.mark.uses_db(SERVER)', 'pytestmark = pytest.mark.uses_db("a", SERVER)')
UNTOUCHED = UNTOUCHED.replace('''def test_counted(n):
    before = status()''', '''def test_counted(n):
    if n in (2, 3, 4):  # SERVER declared, not queried
        add("a", f"row {n}")
        return
    before = status()''')


def server_counts(inner, pytester, *args: str, source: str = COUNTED) -> list[dict[str, int]]:
    """Per test after the second that reads them: the ``SET`` statements (``SET autocommit``) and ``ROLLBACK``
    statements the MariaDB server counted on the test's connection since the test before that read its counters
    (the first test opens the connection: what it sends is the connection's set-up)."""
    pytester.makepyfile(test_counted=source)
    counts = pytester.path / "counts.jsonl"
    counts.unlink(missing_ok=True)
    run = inner("-p", "no:randomly", *args, backend=MARIADB, env={"COUNTS_FILE": str(counts)})
    run.result.assert_outcomes(passed=6)
    lines = [json.loads(line) for line in counts.read_text().splitlines()]
    assert len({connection for connection, _status in lines}) == 1  # one connection all along
    status = [{name: int(value) for name, value in found.items()} for _connection, found in lines]
    return [{name: after[name] - before[name] for name in after} for before, after in itertools.pairwise(status[1:])]


def test_mariadb_one_round_trip_per_rollback_test(inner, pytester):
    """Between two rollback tests the server sees the first test's ``ROLLBACK`` and nothing else."""
    assert server_counts(inner, pytester) == [{"Com_set_option": 0, "Com_rollback": 1}] * 4


def test_mariadb_each_test_turns_autocommit_off_and_on(inner, pytester):
    """The counter tells the two paths apart: Django's ``atomic()`` path sends ``SET autocommit`` twice a test."""
    assert server_counts(inner, pytester, EACH_TEST) == [{"Com_set_option": 2, "Com_rollback": 1}] * 4


def test_mariadb_a_declared_alias_the_test_never_queries_costs_nothing(inner, pytester):
    """Tests 2-4 declare the MariaDB alias and write elsewhere: between the counters read by tests 1 and 5 the
    server sees test 1's ``ROLLBACK`` only (Django's path: four, and two ``SET autocommit`` each)."""
    assert server_counts(inner, pytester, source=UNTOUCHED) == [{"Com_set_option": 0, "Com_rollback": 1}]
    assert server_counts(inner, pytester, EACH_TEST, source=UNTOUCHED) == [{"Com_set_option": 8, "Com_rollback": 4}]


TRACED = '''
import os

import pytest
from django.db import connections
from inner_helpers import SERVER, add

pytestmark = pytest.mark.uses_db("a", SERVER)
TRACE = []


def marker(n):
    """A statement the trace shows where test ``n`` starts on the server's connection (libpq's trace, started by
    the first test, stopped (and flushed) by the last)."""
    raw = connections[SERVER].connection
    if not TRACE:
        TRACE.append(open(os.environ["TRACE_FILE"], "w"))
        raw.pgconn.trace(TRACE[0].fileno())
    with connections[SERVER].cursor() as cursor:
        cursor.execute(f"SELECT 'marker {n}'")
    if n == 5:
        raw.pgconn.untrace()


@pytest.mark.parametrize("n", range(6))
def test_traced(n):
    if n in (2, 3):  # SERVER declared, not queried
        add("a", f"row {n}")
        return
    marker(n)
    add(SERVER, f"row {n}")
'''


def test_postgresql_one_round_trip_to_end_a_rollback_test(inner, pytester, tmp_path):
    """What the client sends PostgreSQL between the starts of two tests that insert a row, read off libpq's trace
    of the connection (each round trip ends in the server's ``ReadyForQuery``): the marker, the ``INSERT``, one
    statement that checks the deferred constraints and rolls back (Django's sequence: three), the next test's
    ``BEGIN``. Tests 2 and 3 declare the alias and never query it: nothing at all."""
    pytester.makepyfile(test_traced=TRACED)
    trace = tmp_path / "trace.txt"
    run = inner("-p", "no:randomly", backend=POSTGRES, env={"TRACE_FILE": str(trace)})
    run.result.assert_outcomes(passed=6)
    round_trips: dict[int, int] = {}
    test = None
    for line in trace.read_text().splitlines():
        started = re.search(r"\tQuery\t \"SELECT 'marker (\d)'\"", line)
        if started:
            test = int(started.group(1))
        if test is not None and "\tReadyForQuery\t" in line:
            round_trips[test] = round_trips.get(test, 0) + 1
    assert round_trips == {0: 4, 1: 4, 4: 4, 5: 1}, trace.read_text()


TEARDOWN = '''
import os

import pytest
from django.db import IntegrityError, connections
from inner_helpers import SERVER, count

pytestmark = pytest.mark.uses_db("a", SERVER)


def leave_a_row_pointing_nowhere():
    if SERVER == "b":
        from sample_models.widgets.models import Exhibit
        Exhibit.objects.create(widget_id=999999, artist_id=1)
    else:
        from sample_models.cycles.models import Category
        Category.objects.create(name="orphan", parent_id=999999)


def broken_at_teardown():
    if connections[SERVER].features.can_defer_constraint_checks:
        leave_a_row_pointing_nowhere()  # checked at the end of the test, as Django's TestCase checks it
    else:
        with pytest.raises(IntegrityError):  # MySQL/MariaDB check at once
            leave_a_row_pointing_nowhere()


def test_1_a_row_pointing_nowhere():
    broken_at_teardown()


@pytest.mark.django_db(databases=["a", SERVER])
def test_2_a_row_pointing_nowhere_under_the_django_db_marker():
    broken_at_teardown()


def test_3_a_forked_child_closes_the_connection_the_test_never_used():
    raw = connections[SERVER].connection
    child = os.fork()
    if child == 0:
        try:
            if raw is not None:
                raw.close()  # a worker process closing what it inherited: the server ends the session
        finally:
            os._exit(0)
    assert os.waitpid(child, 0)[1] == 0


def test_4_the_next_test_has_a_working_connection():
    assert count(SERVER) == 0
'''


@pytest.mark.parametrize("path", ["default", "each-test"])
def test_a_test_ends_as_django_s_testcase_ends_it(inner, pytester, backend, path):
    """A deferred constraint the test broke fails its teardown with Django's ``IntegrityError`` (PostgreSQL,
    sqlite; MariaDB refuses the row at once), and a connection the server closed behind a test that never used it
    is replaced before the next test, as Django's ``TestCase`` teardown does both."""
    pytester.makepyfile(test_teardown=TEARDOWN)
    run = inner("-p", "no:randomly", *([EACH_TEST] if path == "each-test" else []), backend=backend)
    deferred = backend.maria is False
    run.result.assert_outcomes(passed=4, errors=2 if deferred else 0)
    if deferred:
        assert len(re.findall(r"^E\s+django\.db\.utils\.IntegrityError: ", run.out, re.MULTILINE)) == 2, run.out
        for test in ("test_1_a_row_pointing_nowhere", "test_2_a_row_pointing_nowhere_under_the_django_db_marker"):
            assert f"ERROR at teardown of {test}" in run.out, run.out
    assert run.leftovers() == set()
