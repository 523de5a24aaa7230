"""Smaller defects, each with a test: the async ORM's executor thread is not the test's thread, and
the live progress lines do not reprint the running test file's name. (SQL previews inside a rollback test:
``test_schema_preview.py``; the duplicate-name message: ``test_kills.py``.)"""

from __future__ import annotations

ASYNC_SUITE = '''
import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from sample_models.artists.models import Artist


@pytest.mark.uses_db("a")
def test_async_orm_runs_in_asgirefs_executor():
    async def work():
        await Artist.objects.acreate(name="async")
        where = await sync_to_async(lambda: threading.current_thread().name)()  # where the async ORM ran
        return await Artist.objects.acount(), where

    count, thread = asyncio.run(work())  # what an async test's runner (pytest-asyncio, anyio) does
    assert count == 1 and threading.current_thread().name != thread
    names = [t.name for t in threading.enumerate()]
    assert any(name.startswith("ThreadPoolExecutor") for name in names), names  # asgiref's thread lives on


@pytest.mark.uses_db("a")
def test_nothing_leaked_and_a_thread_of_the_test_is_still_reported():
    assert Artist.objects.count() == 0
    threading.Thread(target=lambda: (Artist.objects.count(), time.sleep(1)), name="mine", daemon=True).start()
    time.sleep(0.3)
'''


def test_asgiref_executor_thread_is_not_the_tests(inner, pytester):
    pytester.makepyfile(test_async=ASYNC_SUITE)
    run = inner("-v")
    run.result.assert_outcomes(passed=2, errors=1)
    assert "test_async_orm_runs_in_asgirefs_executor PASSED" in run.out
    assert "ThreadPoolExecutor" not in "\n".join(line for line in run.out.splitlines() if "still holds" in line)
    assert ("multidb: thread 'mine' started by test_async.py::test_nothing_leaked_and_a_thread_of_the_test_is_still_"
            "reported still holds the test's database connection (a) after the test") in run.out


PROGRESS_SUITE = '''
import pytest


def test_no_database():
    pass


@pytest.mark.uses_db("a", "b")
def test_first_with_databases():
    pass


@pytest.mark.uses_db("a")
def test_second():
    pass
'''


def test_progress_lines_come_before_the_file_line_not_inside_it(inner, pytester):
    pytester.makepyfile(test_one=PROGRESS_SUITE.replace("def test_no_database():\n    pass\n", ""))
    pytester.makepyfile(test_zero="def test_plain():\n    pass\n")
    run = inner("test_zero.py", "test_one.py")
    run.result.assert_outcomes(passed=3)
    lines = run.out.splitlines()
    file_lines = [line for line in lines if line.startswith("test_one.py")]
    # test_zero's test uses no database: it runs last, as pytest-django orders it
    assert file_lines == ["test_one.py ..                                                           [ 66%]"], lines
    announced = [i for i, line in enumerate(lines) if line.startswith("multidb: provisioning ")]
    assert len(announced) == 2 and max(announced) < lines.index(file_lines[0])
