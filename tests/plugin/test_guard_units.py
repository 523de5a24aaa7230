"""``pytest_multidb.guard.AccessGuard`` in this process (no inner pytest run, no database): the message for each
way an undeclared alias is touched, and what the guard allows as a test or a Django test class starts and ends."""

from __future__ import annotations

from pytest_multidb.guard import AccessGuard

TEST = "test_it.py::test_it"


def guard(test_id: str = TEST, declared: tuple[str, ...] = ()) -> AccessGuard:
    found = AccessGuard()
    found.start_test(test_id)
    found.allow(declared)
    return found


def test_a_test_that_declared_nothing():
    assert guard().message("b") == (
        f"{TEST} touched database alias 'b' without declaring any database. "
        "Add @pytest.mark.uses_db('b') to the test, or call uses_db('b') in a fixture it uses.")


def test_a_test_that_declared_other_aliases():
    assert guard(declared=("a", "default")).message("b") == (
        f"{TEST} touched database alias 'b', which it did not declare (declared: a, default). "
        "Use @pytest.mark.uses_db('a', 'default', 'b').")


def test_code_outside_a_test():
    assert AccessGuard().message("b") == (
        "code outside a test (a conftest, a module imported at collection, a session fixture) touched database "
        "alias 'b' without declaring any database. Add @pytest.mark.uses_db('b') to the test, or call uses_db('b') "
        "in a fixture it uses.")


def test_a_django_test_class():
    found = AccessGuard()
    with found.django_class("TestOrders", ["default", "a"]):
        assert found.message("b") == (
            "TestOrders touched database alias 'b', which its class does not declare (databases = {'default', 'a'}). "
            "Fix: add 'b' to TestOrders.databases.")
        found.start_test(f"{TEST}::TestOrders::test_one")
        assert found.message("b").startswith(f"{TEST}::TestOrders::test_one touched database alias 'b', which its "
                                             "class does not declare")
    with found.django_class("TestNothing", []):
        assert "(databases = {nothing}). Fix: add 'b' to TestNothing.databases." in found.message("b")
    assert found.message("b").startswith(f"{TEST}::TestOrders::test_one touched database alias 'b' without declaring")


def test_what_is_allowed_through_a_test():
    found = guard(declared=("a",))
    assert found.allowed == {"a"} and found.declared == ("a",)
    found.allow(["b", "a"])  # a fixture calling uses_db() as the test runs: added once, in order
    assert found.allowed == {"a", "b"} and found.declared == ("a", "b")
    with found.opened(["c"]):  # the plugin's own work
        assert found.allowed == {"a", "b", "c"}
        assert found.declared == ("a", "b")  # not the test's: its messages do not name it
    assert found.allowed == {"a", "b"}
    found.end_test()
    assert (found.test_id, found.declared, found.allowed) == ("", (), frozenset())


def test_a_django_classs_aliases_hold_for_each_of_its_tests():
    found = AccessGuard()
    with found.django_class("TestOrders", ["a"]):
        found.start_test("t1")
        found.allow(["b"])
        assert found.allowed == {"a", "b"}
        found.end_test()
        assert found.allowed == {"a"} and found.declared == ("a",)
    assert (found.test_class, found.declared, found.allowed) == ("", (), frozenset())
