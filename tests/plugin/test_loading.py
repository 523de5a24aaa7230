"""How the plugin is loaded and turned off, and where it finds the Django settings."""

import re

import pytest

# A conftest that counts, at the end of configuration, how often the plugin's hooks and fixtures are registered.
COUNTING_CONFTEST = '''
    import pytest_multidb.plugin as plugin

    def pytest_configure(config):
        pm = config.pluginmanager
        impls = [impl for impl in pm.hook.pytest_collection_modifyitems.get_hookimpls()
                 if impl.function is plugin.pytest_collection_modifyitems]
        holders = [name for name, p in pm.list_name_plugin()
                   if getattr(p, "pytest_collection_modifyitems", None) is plugin.pytest_collection_modifyitems]
        config.multidb_counts = (len(impls), holders)
'''

COUNTING_TEST = '''
    import pytest
    from sample_models.artists.models import Artist

    def test_registered_once(request):
        impls, holders = request.config.multidb_counts
        print("HOLDERS", holders)
        assert impls == 1, holders
        assert len(holders) == 1, holders
        # the marker's help is added once
        assert sum(line.startswith("uses_db(") for line in request.config.getini("markers")) == 1

    @pytest.mark.uses_db("a")
    def test_works():
        Artist.objects.create(name="x")
        assert Artist.objects.count() == 1
'''


@pytest.mark.parametrize("args", [("-p", "multidb"), ()], ids=["-p multidb", "auto-load"])
def test_registered_exactly_once(inner, pytester, args):
    pytester.makeconftest(COUNTING_CONFTEST)
    pytester.makepyfile(test_load=COUNTING_TEST)
    run = inner("-s", *args)
    run.result.assert_outcomes(passed=2)
    # -p multidb registers the shim module under the name "multidb", which is also the entry point's name
    assert "HOLDERS ['multidb']" in run.out


def test_trace_config_lists_plugin_once(inner, pytester):
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    run = inner("-p", "multidb", "--trace-config")
    run.result.assert_outcomes(passed=1)
    registered = [line for line in run.out.splitlines() if line.startswith("PLUGIN registered: <module")
                  and ("pytest_multidb" in line or "multidb.py" in line)]
    # The plugin once, and (pytest-django being blocked here) the plugin serving pytest-django's vocabulary with
    # the two fixture modules it registers.
    assert len(registered) == 4, registered
    assert sum("pytest_multidb.compat.pytest_django" in line for line in registered) == 1, registered
    assert sum("pytest_multidb.compat.database_fixtures" in line for line in registered) == 1, registered
    assert sum("pytest_multidb.compat.django_fixtures" in line for line in registered) == 1, registered


def test_no_multidb_turns_it_off(inner, pytester):
    """Without the plugin the marker is unknown (an error with --strict-markers) and nothing guards databases."""
    pytester.makepyfile(
        test_marked='''
            import pytest

            @pytest.mark.uses_db("a")
            def test_marked():
                pass
        ''',
        test_plain='''
            import os
            import sys

            import django

            def test_unguarded():
                # nobody set Django up: the plugin is off
                from django.apps import apps
                assert not apps.ready
                os.environ["DJANGO_SETTINGS_MODULE"] = "sample_models.settings"
                django.setup()
                from django.db import connections
                from django.db.backends.base.base import BaseDatabaseWrapper
                assert BaseDatabaseWrapper.ensure_connection.__module__ == "django.db.backends.base.base"
                assert "pytest_multidb.plugin" not in sys.modules
                with connections["a"].cursor() as cursor:   # the real database: no guard stops it
                    cursor.execute("SELECT 1")
                    assert cursor.fetchone() == (1,)
        ''',
    )
    run = inner("-p", "no:multidb", "--strict-markers", "--continue-on-collection-errors", settings=False)
    run.result.assert_outcomes(passed=1, errors=1)
    assert "'uses_db' not found in `markers` configuration option" in run.out
    assert "multidb:" not in run.out  # no header, no provisioning


def test_no_multidb_ignores_multidb_options(inner, pytester):
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    run = inner("-p", "no:multidb")  # with --multidb-settings: unknown option
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    assert "unrecognized arguments: --multidb-settings" in run.err


USES_A = '''
    import pytest
    from sample_models.artists.models import Artist

    @pytest.mark.uses_db("a")
    def test_a():
        Artist.objects.create(name="x")
        assert Artist.objects.count() == 1
'''


def test_settings_from_environment(inner, pytester):
    pytester.makepyfile(test_a=USES_A)
    run = inner(settings=False, env={"DJANGO_SETTINGS_MODULE": "sample_models.settings"})
    run.result.assert_outcomes(passed=1)
    assert "multidb: a: sqlite" in run.out


CONFIGURED_IN_CONFTEST = '''
def pytest_configure(config):
    from django.conf import settings

    import sample_models.settings as module

    if not settings.configured:
        settings.configure(**{name: getattr(module, name) for name in dir(module) if name.isupper()})
'''


def test_settings_configured_in_a_conftest(inner, pytester):
    """``settings.configure()`` in a conftest's ``pytest_configure`` (as pytest-django allows, and as a suite's
    own ``runtests.py`` does it): taken, with no settings module named anywhere."""
    pytester.makeconftest(CONFIGURED_IN_CONFTEST)
    pytester.makepyfile(test_a=USES_A)
    run = inner(settings=False)
    run.result.assert_outcomes(passed=1)
    assert "multidb: a: sqlite" in run.out


def test_option_beats_ini_beats_environment(inner, pytester):
    """The ini option alone is used in the second run (the environment names a module that does not exist)."""
    pytester.makeini("[pytest]\nmultidb_settings = no_such_ini_settings\n")
    pytester.makepyfile(test_a=USES_A)
    run = inner(env={"DJANGO_SETTINGS_MODULE": "no_such_env_settings"})  # --multidb-settings wins
    run.result.assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nmultidb_settings = sample_models.settings\n")
    run = inner(settings=False, env={"DJANGO_SETTINGS_MODULE": "no_such_env_settings"})  # ini beats the env
    run.result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("args", "env", "source_name"),
    [
        (("--multidb-settings", "no_such_settings"), {}, "--multidb-settings"),
        ((), {"DJANGO_SETTINGS_MODULE": "broken_settings"}, "DJANGO_SETTINGS_MODULE"),
    ],
    ids=["missing-module", "module-raises"],
)
def test_settings_that_do_not_import(inner, pytester, args, env, source_name):
    pytester.makepyfile(broken_settings="import does_not_exist_either\n", test_a=USES_A)
    run = inner(*args, settings=False, env=env)
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    module = args[1] if args else env["DJANGO_SETTINGS_MODULE"]
    error = (f"ERROR: multidb: the Django settings module {module!r} (from {source_name}) cannot be imported: "
             "ModuleNotFoundError: No module named ")
    assert error in run.err
    assert f"Fix: correct {source_name}, or put the module's directory on sys.path" in run.err
    assert run.err.count("cannot be imported") == 1
    assert "Traceback" not in run.err + run.out


def test_marker_without_settings(inner, pytester):
    pytester.makepyfile(test_m='''
        import pytest

        def test_plain():
            pass

        @pytest.mark.uses_db("a")
        def test_marked():
            pass
    ''')
    run = inner(settings=False)
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    assert ("ERROR: multidb: test_m.py::test_marked uses @pytest.mark.uses_db but no Django settings are "
            "configured. Fix: pass --multidb-settings MODULE, set the ini option multidb_settings, or "
            "DJANGO_SETTINGS_MODULE.") in run.err


def test_no_settings_no_marker_is_left_alone(inner, pytester):
    pytester.makepyfile(test_m="def test_plain():\n    pass\n")
    run = inner(settings=False)
    run.result.assert_outcomes(passed=1)
    assert re.search(r"^plugins: .*\bmultidb-", run.out, re.MULTILINE)  # loaded (in any order), but idle
    assert "multidb:" not in run.out
