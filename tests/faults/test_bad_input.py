"""Every bad input of the matrix fails the run with exactly one line naming the test or the
alias, the setting and the fix: no traceback, nothing run, and the real databases untouched (their sentinel
rows intact, no real sqlite file made).

Each case is one inner run of the sample project with ``b`` on PostgreSQL and ``c`` on MariaDB (their real
databases hold the sentinel rows), beside a test that would write to every alias if the run went ahead.
"""

import textwrap

import pytest

from tests.support.inner import assert_no_traceback, assert_one_line

pytestmark = pytest.mark.servers

#: ``b`` on the PostgreSQL server, ``c`` on the MariaDB server: the real databases of the ``real`` fixture.
ON_SERVERS = {"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1"}

#: Runs (and fails the outer assertions) if the bad input is let through.
WRITES_EVERYWHERE = '''
@pytest.mark.uses_db("a", "b", "c", transaction=True)
def test_writes_everywhere():
    from inner_helpers import add

    for alias in "abc":
        add(alias, "x")
'''


def run_bad(inner, pytester, real, *, tests: str = "", settings: str = ""):
    """One inner run of ``tests`` (a bad ``uses_db`` marker) or with a bad settings module (``bad_settings``: the
    sample settings plus ``settings``); checks everything but the message and returns the run."""
    before = real.contents()
    pytester.makepyfile(test_bad="import pytest\n\n" + textwrap.dedent(tests) + WRITES_EVERYWHERE)
    if settings:
        pytester.makepyfile(bad_settings="from sample_models.settings import *  # noqa: F403\n"
                            + textwrap.dedent(settings))
        run = inner("--multidb-settings", "bad_settings", settings=False, env=ON_SERVERS)
    else:
        run = inner(env=ON_SERVERS)
    text = f"{run.out}\n{run.err}"
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR, text
    assert_no_traceback(text)
    assert " passed" not in text and " failed" not in text
    assert list(inner.real_dir.iterdir()) == []
    assert real.contents() == before
    assert run.leftovers() == set()
    return run


# -- the uses_db marker --------------------------------------------------------------------------------------------

MARKER = "multidb: test_bad.py::test_bad: @pytest.mark.uses_db(...) "
TRANSACTION_FIX = "Fix: write transaction=True (every declared alias commits) or transaction=['a'] (only those)."


@pytest.mark.parametrize(("marker", "line"), [
    pytest.param('@pytest.mark.uses_db(["a", "b"])',
                 "got the list ['a', 'b'] as an alias. Fix: pass each alias as its own argument: "
                 "@pytest.mark.uses_db('a', 'b').", id="list-of-aliases"),
    pytest.param("@pytest.mark.uses_db(1)",
                 "got 1 (int) as an alias. Fix: name each alias as a string, e.g. @pytest.mark.uses_db('default').",
                 id="int-alias"),
    pytest.param('@pytest.mark.uses_db("a", transaction=1)',
                 f"got transaction=1, which takes True, False, an alias or a list of aliases. {TRANSACTION_FIX}",
                 id="transaction-int"),
    pytest.param('@pytest.mark.uses_db("a", transaction=[1])',
                 f"got transaction=[1], which takes True, False, an alias or a list of aliases. {TRANSACTION_FIX}",
                 id="transaction-list-of-int"),
    pytest.param('@pytest.mark.uses_db("a", reset_sequences="yes")',
                 "got reset_sequences='yes', which takes True or False. Fix: write reset_sequences=True.",
                 id="reset-sequences-str"),
    pytest.param('@pytest.mark.uses_db("a", transactions=True)',
                 "has an unknown keyword 'transactions' (did you mean 'transaction'?). Fix: write transaction=True.",
                 id="misspelled-keyword"),
    pytest.param('@pytest.mark.uses_db(databases=["a", "b"])',
                 "has an unknown keyword 'databases'. Fix: pass the aliases as arguments: "
                 "@pytest.mark.uses_db('a', 'b').", id="pytest-django-keyword"),
])
def test_bad_marker(inner, pytester, real, marker, line):
    run = run_bad(inner, pytester, real, tests=f"{marker}\ndef test_bad():\n    pass\n")
    assert_one_line(run, MARKER + line)


def test_bad_marker_on_a_class_names_the_test(inner, pytester, real):
    run = run_bad(inner, pytester, real, tests='''
        @pytest.mark.uses_db("a", reset_sequence=True)
        class TestBad:
            def test_in_class(self):
                pass
    ''')
    assert_one_line(run, "multidb: test_bad.py::TestBad::test_in_class: @pytest.mark.uses_db(...) has an unknown "
                    "keyword 'reset_sequence' (did you mean 'reset_sequences'?). Fix: write reset_sequences=True.")


# -- settings ------------------------------------------------------------------------------------------------------

BACKENDS = ("django.db.backends.mysql, django.db.backends.oracle, django.db.backends.postgresql, "
            "django.db.backends.sqlite3 or the dotted path of an installed third-party backend")


@pytest.mark.parametrize(("settings", "line"), [
    pytest.param('OTHER_DATABASES["a"]["MODELS"] = None',
                 "OTHER_DATABASES['a']['MODELS'] (alias 'a'): expected a list of strings, got None. "
                 "Fix: write MODELS = ['app_label', 'app_label.Model'].", id="models-none"),
    pytest.param('OTHER_DATABASES["a"]["MODELS"] = {"artists": "a"}',
                 "OTHER_DATABASES['a']['MODELS'] (alias 'a'): expected a list of strings, got {'artists': 'a'}. "
                 "Fix: write MODELS = ['app_label', 'app_label.Model'].", id="models-dict"),
    pytest.param('OTHER_DATABASES["a"]["MODEL"] = OTHER_DATABASES["a"].pop("MODELS")',
                 "OTHER_DATABASES['a']['MODEL'] (alias 'a'): unknown key 'MODEL' (did you mean 'MODELS'?). "
                 "Fix: rename it to 'MODELS'.", id="misspelled-key"),
    pytest.param('OTHER_DATABASES["a"]["MODELS"] = ["nosuchapp"]',
                 "OTHER_DATABASES['a']['MODELS'] (alias 'a'): 'nosuchapp' names no installed app. "
                 "Fix: use an installed app label ('app_label') or 'app_label.Model'.", id="models-not-installed"),
    pytest.param("OTHER_DATABASES = list(OTHER_DATABASES.values())",
                 "OTHER_DATABASES: expected a dict of aliases, got a list. "
                 "Fix: write OTHER_DATABASES = {'alias': {'ENGINE': ..., 'NAME': ..., 'MODELS': [...]}}.",
                 id="other-databases-list"),
    pytest.param('OTHER_DATABASES["b"]["TEST"] = "server"',
                 "OTHER_DATABASES['b']['TEST'] (alias 'b'): expected a dict, got 'server'. "
                 "Fix: write 'TEST' as a dict, e.g. {'PROVISION': 'auto'}.", id="other-test-str"),
    pytest.param('DATABASES["default"]["TEST"] = "sqlite"',
                 "DATABASES['default']['TEST'] (alias 'default'): expected a dict, got 'sqlite'. "
                 "Fix: write 'TEST' as a dict, e.g. {'PROVISION': 'auto'}.", id="databases-test-str"),
    pytest.param('OTHER_DATABASES["c"]["OPTIONS"] = "charset=utf8mb4"',
                 "OTHER_DATABASES['c']['OPTIONS'] (alias 'c'): expected a dict, got 'charset=utf8mb4'. "
                 "Fix: write 'OPTIONS' as a dict, e.g. {'connect_timeout': 5}.", id="options-str"),
    pytest.param('OTHER_DATABASES["b"]["TEST"]["PROVISION"] = ["server"]',
                 "OTHER_DATABASES['b']['TEST']['PROVISION'] (alias 'b'): expected the name of a kind, got "
                 "['server']. Fix: write one of 'auto', 'sqlite', 'server', 'process', 'container', 'existing'.",
                 id="provision-list"),
    pytest.param('DATABASES["default"]["ENGINE"] = "django.db.backends.nosuch"',
                 "DATABASES['default']['ENGINE'] (alias 'default'): no database backend 'django.db.backends.nosuch' "
                 f"is installed (no module django.db.backends.nosuch.base). Fix: use one of {BACKENDS}.",
                 id="databases-unknown-engine"),
    pytest.param('DATABASES["default"]["ENGINE"] = "django.db.backends.postgresq"',
                 "DATABASES['default']['ENGINE'] (alias 'default'): no database backend "
                 "'django.db.backends.postgresq' is installed (no module "
                 "django.db.backends.postgresq.base). Fix: did you mean 'django.db.backends.postgresql'? "
                 f"Otherwise use one of {BACKENDS}.", id="databases-misspelled-engine"),
    pytest.param('OTHER_DATABASES["b"]["TEST"] = {"PROVISON": "server"}',
                 "OTHER_DATABASES['b']['TEST']['PROVISON'] (alias 'b'): unknown key 'PROVISON' (did you mean "
                 "'PROVISION'?). Fix: rename it to 'PROVISION'.", id="misspelled-test-key"),
    pytest.param('OTHER_DATABASES["b"]["TEST"] = {"DEPENDENCIES": "a"}',
                 "OTHER_DATABASES['b']['TEST']['DEPENDENCIES'] (alias 'b'): expected a list of aliases, got 'a'. "
                 "Fix: write 'DEPENDENCIES': ['a'].", id="dependencies-str"),
    pytest.param('OTHER_DATABASES["b"]["TEST"] = {"DEPENDENCIES": ["defualt"]}',
                 "OTHER_DATABASES['b']['TEST']['DEPENDENCIES'] (alias 'b'): names 'defualt', which is not an alias. "
                 "Fix: did you mean 'default'? use one of default, a, c.", id="dependencies-unknown-alias"),
    pytest.param('OTHER_DATABASES["c"]["TEST"] = {"MIRROR": "x"}',
                 "OTHER_DATABASES['c']['TEST']['MIRROR'] (alias 'c'): names 'x', which is not an alias. "
                 "Fix: use one of default, a, b.", id="mirror-on-other-databases"),
    pytest.param('OTHER_DATABASES["b"]["ENGINE"] = "django.db.backends.postgres"',
                 "OTHER_DATABASES['b']['ENGINE'] (alias 'b'): no database backend 'django.db.backends.postgres' "
                 "is installed (no module django.db.backends.postgres.base). Fix: did you mean "
                 f"'django.db.backends.postgresql'? Otherwise use one of {BACKENDS}.", id="other-unknown-engine"),
    pytest.param('OTHER_DATABASES["a"]["DATABASE_ENGINE"] = "sqlite"',
                 "OTHER_DATABASES['a']['DATABASE_ENGINE'] (alias 'a'): unknown engine 'sqlite'. Fix: use one of "
                 "mariadb, mysql, postgres, postgresql, postgresql_psycopg2, sqlite3 or a dotted backend path such "
                 "as 'django.db.backends.postgresql'.", id="other-unknown-short-engine"),
    pytest.param('DATABASES = {"main": DATABASES["default"]}',
                 "DATABASES: no 'default' alias (found 'main'). Fix: name one of the connections 'default'.",
                 id="databases-without-default"),
])
def test_bad_settings(inner, pytester, real, settings, line):
    assert_one_line(run_bad(inner, pytester, real, settings=settings), f"multidb: {line}")


def test_default_alias_whose_driver_is_missing(inner, pytester, real):
    """A real engine whose driver is missing is told apart from an engine that does not exist."""
    run = run_bad(inner, pytester, real,
                  settings='DATABASES["default"] = {"ENGINE": "django.db.backends.oracle", "NAME": "x"}')
    [line] = [found for found in run.err.splitlines() if found.strip()]
    # The driver's own words differ between Django versions (oracledb, cx_Oracle before Django 5.0).
    assert line.startswith("ERROR: multidb: DATABASES['default']['ENGINE'] (alias 'default'): cannot load the "
                           "backend 'django.db.backends.oracle' (is its driver installed?): Error loading ")
    assert line.endswith(". Fix: pip install oracledb (cx_Oracle before Django 5.0).")


def test_other_alias_whose_driver_is_missing(inner, pytester, real):
    """An existing engine on another alias is loaded when the alias is first needed: told to install its driver,
    not that the engine does not exist."""
    run = run_bad(inner, pytester, real,
                  settings='OTHER_DATABASES["a"] = {"ENGINE": "django.db.backends.oracle", "NAME": "a", '
                           '"MODELS": ["artists"]}')
    text = f"{run.out}\n{run.err}"
    assert text.count("cannot load the backend (the driver for django.db.backends.oracle missing?)") == 1
    assert "no database backend" not in text
