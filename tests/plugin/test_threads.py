"""Threads, a live server and Django's test client see the test's uncommitted rows; the next
test sees none; a thread still holding the connection at teardown is reported."""


THREADS = '''
    import json
    import threading
    import urllib.request

    import pytest
    from django.http import JsonResponse
    from django.test import Client, override_settings
    from django.test.testcases import LiveServerThread
    from django.urls import include, path
    from inner_helpers import SERVER, add, committed, count

    pytestmark = pytest.mark.uses_db("a", SERVER)


    def counts(request):
        return JsonResponse({"a": count("a"), "server": count(SERVER)})


    urlpatterns = [path("counts/", counts), path("", include("sample_models.urls"))]  # + the sample's /artists/


    @pytest.fixture(autouse=True)
    def urls():
        with override_settings(ROOT_URLCONF=__name__):
            yield


    @pytest.fixture
    def live_server():
        server = LiveServerThread("127.0.0.1", lambda handler: handler)  # Django's, without static files
        server.daemon = True
        server.start()
        server.is_ready.wait(10)
        if server.error:
            raise server.error
        yield f"http://127.0.0.1:{server.port}"
        server.terminate()


    def fetch(url):
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())


    def test_1_thread():
        add("a", "ann")
        add(SERVER, "w1")
        seen = []
        thread = threading.Thread(target=lambda: seen.append((count("a"), count(SERVER))))
        thread.start()
        thread.join()
        assert seen == [(1, 1)]
        thread = threading.Thread(target=lambda: add(SERVER, "w2"))   # a thread writes, the test sees it
        thread.start()
        thread.join()
        assert count(SERVER) == 2
        assert committed(SERVER) == 0


    def test_2_live_server(live_server):
        add("a", "ann")
        add(SERVER, "w1")
        assert fetch(f"{live_server}/artists/") == {"names": ["ann"]}
        assert fetch(f"{live_server}/counts/") == {"a": 1, "server": 1}
        add("a", "bob")
        assert fetch(f"{live_server}/artists/") == {"names": ["ann", "bob"]}
        assert count("a") == 2       # the requests left the test's connections working
        assert committed("a") == committed(SERVER) == 0


    def test_3_client():
        add("a", "ann")
        add(SERVER, "w1")
        client = Client()
        assert client.get("/artists/").json() == {"names": ["ann"]}
        assert client.get("/counts/").json() == {"a": 1, "server": 1}
        add(SERVER, "w2")
        assert client.get("/counts/").json() == {"a": 1, "server": 2}
        assert count(SERVER) == 2


    def test_4_nothing_left(live_server):
        assert count("a") == count(SERVER) == 0
        assert fetch(f"{live_server}/counts/") == {"a": 0, "server": 0}
        assert Client().get("/counts/").json() == {"a": 0, "server": 0}
        assert committed("a") == committed(SERVER) == 0
'''


COMMITTING = '''
    import threading

    import pytest
    from inner_helpers import SERVER, add, committed, count


    @pytest.mark.uses_db("a", SERVER, transaction=True)
    def test_1_thread_in_committing_test():
        add(SERVER, "x")
        seen = []
        thread = threading.Thread(target=lambda: seen.append((count("a"), count(SERVER))))  # its own connections
        thread.start()
        thread.join()
        assert seen == [(0, 1)]


    @pytest.mark.uses_db("a", SERVER)
    def test_2_nothing_left():
        assert count(SERVER) == committed(SERVER) == 0
'''


def test_threads_live_server_and_client_share_the_test_data(inner, pytester, backend):
    pytester.makepyfile(test_threads=THREADS, test_threads_committing=COMMITTING)
    run = inner("-v", backend=backend)
    run.result.assert_outcomes(passed=6)
    # the committing test's thread left its connections open; closed at teardown, so the databases could go
    assert "could not remove" not in run.out
    assert run.leftovers() == set()


HOLDER = '''
    import threading

    import pytest
    from inner_helpers import count

    queried, release, holders = threading.Event(), threading.Event(), []


    @pytest.mark.uses_db("a", "b")
    def test_leaves_a_thread():
        def hold():
            count("a")
            queried.set()
            release.wait(30)

        thread = threading.Thread(target=hold, name="holder", daemon=True)
        thread.start()
        holders.append(thread)
        assert queried.wait(10)


    @pytest.mark.uses_db("a", transaction=True)
    def test_leaves_a_thread_committing():
        def hold():
            count("a")
            queried.set()
            release.wait(30)

        queried.clear()
        thread = threading.Thread(target=hold, name="holder2", daemon=True)
        thread.start()
        holders.append(thread)
        assert queried.wait(10)


    @pytest.mark.uses_db("a")
    def test_joined_thread_is_fine():
        release.set()
        for thread in holders:
            thread.join()
        thread = threading.Thread(target=count, args=("a",), name="joined")
        thread.start()
        thread.join()
        assert count("a") == 0
'''


def test_thread_alive_at_teardown_is_reported(inner, pytester):
    pytester.makepyfile(test_holder=HOLDER)
    run = inner()
    run.result.assert_outcomes(passed=3, errors=2)
    assert "ERROR at teardown of test_leaves_a_thread" in run.out
    assert ("multidb: thread 'holder' started by test_holder.py::test_leaves_a_thread still holds the test's "
            "database connection (a, b) after the test; join it before the test ends") in run.out
    assert "ERROR at teardown of test_leaves_a_thread_committing" in run.out
    assert ("multidb: thread 'holder2' started by test_holder.py::test_leaves_a_thread_committing still holds a "
            "database connection (a) after the test; join it before the test ends") in run.out
    assert "'joined'" not in run.out


RACE = '''
    import threading

    import pytest
    from django.db import connections
    from inner_helpers import MODELS, SERVER, add, committed, count

    N = 100


    @pytest.mark.uses_db(SERVER)
    def test_two_threads_race_on_the_test_connection():
        model, field = MODELS[SERVER], "code" if SERVER == "b" else "name"
        start, errors, conns = threading.Barrier(2), [], set()

        def work(tag):
            try:
                start.wait(10)
                conns.add(id(connections[SERVER]))
                for i in range(N):
                    add(SERVER, f"{tag}{i}")
                    assert model.objects.filter(**{field: f"{tag}{i}"}).count() == 1
            except BaseException as error:
                errors.append(f"{tag}: {error!r}")

        threads = [threading.Thread(target=work, args=(tag,)) for tag in "xy"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert conns == {id(connections[SERVER])}  # both threads used the test's own connection
        for tag in "xy":  # every query ran, each thread's in its order
            rows = model.objects.filter(**{f"{field}__startswith": tag}).order_by("pk").values_list(field, flat=True)
            assert list(rows) == [f"{tag}{i}" for i in range(N)]
        assert count(SERVER) == 2 * N
        assert committed(SERVER) == 0  # all inside the test's transaction, rolled back afterwards
'''


def test_queries_from_two_threads_on_the_shared_connection_are_serialised(inner, pytester, backend):
    """Two threads race on the test's connection of one alias: every query runs, in order, without errors."""
    pytester.makepyfile(test_race=RACE)
    run = inner(backend=backend)
    run.result.assert_outcomes(passed=1)
