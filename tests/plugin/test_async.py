"""Async tests: pytest-asyncio and anyio tests, an async fixture that declares its aliases,
the async ORM, ``sync_to_async`` (thread-sensitive or not; channels' ``database_sync_to_async`` is the
thread-sensitive one, channels is not a dependency) and Django's ``AsyncClient``, on every backend and in every
isolation mode, in random order. Nothing leaks to the next test; asgiref's executor threads are not reported as
the test's threads, a thread the test leaves running is."""

import importlib.metadata

import pytest

ASYNCIO_VERSION = tuple(int(part) for part in importlib.metadata.version("pytest-asyncio").split(".")[:2])
#: pytest-asyncio's settings, explicit (0.24 added the loop scope of fixtures, and warns while it is unset).
ASYNCIO_INI = ("-o", "asyncio_mode=strict",
               *(("-o", "asyncio_default_fixture_loop_scope=function") if ASYNCIO_VERSION >= (0, 24) else ()))
MODES = {"rollback": "False", "per-alias": "[SERVER]", "transaction": "True"}

CONFTEST = '''
    def pytest_collection_modifyitems(items):
        """After pytest-randomly's shuffle (tryfirst): the check that nothing was left runs last."""
        last = [item for item in items if item.name == "test_zz_nothing_left"]
        items[:] = [item for item in items if item not in last] + last
'''

ASYNC_TESTS = '''
    import importlib.metadata
    import threading

    import pytest
    import pytest_asyncio
    from asgiref.sync import sync_to_async
    from django.db import close_old_connections, connections
    from django.test import AsyncClient
    from inner_helpers import SERVER, add, committed, count

    from sample_models.artists.models import Artist

    COMMIT = {commit}
    pytestmark = pytest.mark.uses_db("a", SERVER, transaction=COMMIT)
    VERSION = tuple(int(part) for part in importlib.metadata.version("pytest-asyncio").split(".")[:2])
    session_loop = pytest.mark.asyncio(**{{"loop_scope" if VERSION >= (0, 24) else "scope": "session"}})
    queried, release, holders = threading.Event(), threading.Event(), []


    @pytest.fixture
    def anyio_backend():
        return "asyncio"  # Django's async code runs on asyncio only


    @pytest_asyncio.fixture
    async def artists(uses_db):
        uses_db("a", transaction=COMMIT is True)
        return [await Artist.objects.acreate(name=name) for name in ("xena", "yann")]


    def database_sync_to_async(function):
        """channels' database_sync_to_async (channels is not a dependency): thread-sensitive sync_to_async that
        calls Django's close_old_connections before and after the function."""
        def call(*args):
            close_old_connections()
            try:
                return function(*args)
            finally:
                close_old_connections()

        return sync_to_async(call, thread_sensitive=True)


    async def empty():
        assert await Artist.objects.acount() == 0
        assert await sync_to_async(count)(SERVER) == 0


    @pytest.mark.asyncio
    @pytest.mark.parametrize("n", range(2))
    async def test_asyncio_orm(artists, n):
        assert await Artist.objects.acount() == 2  # the fixture's rows, nothing of another test
        await Artist.objects.acreate(name="ann")
        assert (await Artist.objects.aget(name="ann")).name == "ann"
        assert [a.name async for a in Artist.objects.order_by("name")] == ["ann", "xena", "yann"]
        await sync_to_async(add, thread_sensitive=True)(SERVER, "w1")
        await sync_to_async(add, thread_sensitive=False)(SERVER, "w2")
        assert await sync_to_async(count, thread_sensitive=False)(SERVER) == 2
        assert await sync_to_async(count)("a") == 3
        await database_sync_to_async(add)(SERVER, "w3")
        assert await database_sync_to_async(count)(SERVER) == 3
        assert await Artist.objects.acount() == 3  # the connections closed "as old" were not the test's


    @pytest.mark.asyncio
    async def test_asyncio_client():
        await empty()
        await Artist.objects.acreate(name="bob")
        response = await AsyncClient().get("/artists/")
        assert response.json() == {{"names": ["bob"]}}


    @session_loop
    async def test_asyncio_session_loop():
        await empty()
        await Artist.objects.acreate(name="sam")
        await sync_to_async(add, thread_sensitive=False)(SERVER, "s1")
        assert await Artist.objects.acount() == 1


    @pytest.mark.anyio
    @pytest.mark.parametrize("n", range(2))
    async def test_anyio(n):
        await empty()
        await Artist.objects.acreate(name="ann")
        await sync_to_async(add)(SERVER, "w1")
        assert [a.name async for a in Artist.objects.all()] == ["ann"]
        assert await sync_to_async(count, thread_sensitive=False)(SERVER) == 1


    @pytest.mark.asyncio
    async def test_leaves_a_thread():
        def hold():
            try:
                count(SERVER)
                queried.set()
                release.wait(30)
            finally:
                connections.close_all()  # a connection of its own (committing) would keep the database

        thread = threading.Thread(target=hold, name="holder", daemon=True)
        thread.start()
        holders.append(thread)
        assert await sync_to_async(queried.wait)(10)


    @pytest.mark.parametrize("n", range(3))
    def test_sync_sees_nothing(n):
        assert count("a") == count(SERVER) == 0
        assert committed("a") == committed(SERVER) == 0


    def test_zz_nothing_left():
        release.set()
        for thread in holders:
            thread.join(10)
        assert count("a") == count(SERVER) == 0
        assert committed("a") == committed(SERVER) == 0
'''


@pytest.mark.parametrize("mode", MODES)
def test_async_tests_are_isolated(inner, pytester, backend, mode):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_async=ASYNC_TESTS.format(commit=MODES[mode]))
    run = inner("-v", "-p", "asyncio", "-p", "anyio", "-p", "randomly", *ASYNCIO_INI, backend=backend)
    run.result.assert_outcomes(passed=11, errors=1)
    assert "ERROR at teardown of test_leaves_a_thread" in run.out
    held = "the test's database connection (a, " if mode == "rollback" else "a database connection ("
    assert f"multidb: thread 'holder' started by test_async.py::test_leaves_a_thread still holds {held}" in run.out
    assert "thread 'ThreadPoolExecutor" not in run.out  # asgiref's executors (thread_sensitive=True)
    assert "thread 'asyncio_" not in run.out  # the event loop's default executor (thread_sensitive=False)
    assert "could not remove" not in run.out
    assert run.leftovers() == set()


BUSY = '''
    import asyncio
    import threading

    import pytest
    from asgiref.sync import sync_to_async
    from inner_helpers import count

    import pytest_multidb.thread_sharing

    pytest_multidb.thread_sharing.LOCK_TIMEOUT = 1.0  # how long the teardown waits for the executor (30 s)
    started, done = threading.Event(), threading.Event()


    def busy():
        count("a")  # a connection of the executor's own (committing alias)
        started.set()
        done.wait(10)


    @pytest.mark.uses_db("a", transaction=True)
    @pytest.mark.asyncio
    async def test_leaves_sync_to_async_running():
        task = asyncio.ensure_future(sync_to_async(busy)())
        assert await sync_to_async(started.wait, thread_sensitive=False)(10)
        task.cancel()  # the coroutine gives up; the executor thread goes on


    def test_after():
        done.set()
'''


def test_executor_still_busy_after_the_test_is_reported(inner, pytester):
    pytester.makepyfile(test_busy=BUSY)
    run = inner("-p", "asyncio", *ASYNCIO_INI)
    run.result.assert_outcomes(passed=2, errors=1)
    assert ("multidb: asgiref's executor thread 'ThreadPoolExecutor-0_0' was still busy 1 s after "
            "test_busy.py::test_leaves_sync_to_async_running ended, holding a database connection (a); await every "
            "sync_to_async call before the test ends") in run.out
