"""Every fault gets one line: conflicting declarations, provisioning errors under xdist, data files of
migrations, bad settings under ``manage.py``, alias typos, sqlite and server NAMEs, long names, the warm path
(the settings cases are in ``test_bad_input.py``). Each test here failed on the commit before its fix."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.inner import assert_no_traceback, assert_one_line, assert_test_failed_in_one_line
from tests.support.projects import ROOT, seeded_app

FROM_FIXTURES = '''
import pytest
from inner_helpers import add
from sample_models.artists.models import Artist


@pytest.fixture
def typo(uses_db):
    uses_db("aa")


def test_a_fixture_declares_an_unknown_alias(typo):
    pass


def test_swap_to_an_unknown_alias(swap_db):
    swap_db(Artist, "nosuch")


@pytest.mark.uses_db("a")
def test_the_run_goes_on():
    add("a", "x")
'''


def test_an_unknown_alias_from_a_fixture_fails_that_test_in_one_line(inner, pytester):
    pytester.makepyfile(test_fixtures=FROM_FIXTURES)
    run = inner()
    run.result.assert_outcomes(passed=1, errors=1, failed=1)
    assert_test_failed_in_one_line(run, "multidb: test_fixtures.py::test_a_fixture_declares_an_unknown_alias: "
                                   "unknown database alias 'aa'; known aliases: default, a, b, c. Fix: did you mean "
                                   "'a'? use one of them or add it to DATABASES/OTHER_DATABASES.")
    assert_test_failed_in_one_line(run, "multidb: test_fixtures.py::test_swap_to_an_unknown_alias: unknown database "
                                   "alias 'nosuch'; known aliases: default, a, b, c.")


CONFLICT = '''
import pytest
from inner_helpers import add, committed


@pytest.fixture
def commits_b(uses_db):
    uses_db("b", transaction=True)


@pytest.fixture
def rolls_back_b(uses_db):
    uses_db("b")


@pytest.mark.uses_db("b")
class TestMarkerRollsBack:
    def test_a_fixture_asks_for_commits(self, commits_b):
        add("b", "x")


@pytest.mark.uses_db("b", transaction=True)
def test_any_declaration_asking_for_commits_commits(rolls_back_b):
    add("b", "y")
    assert committed("b") == 1
'''


def test_declarations_that_disagree_on_commits(inner, pytester, backend):
    """An alias commits if any declaration asks; asked after it was opened rolled back: one line."""
    pytester.makepyfile(test_conflict=CONFLICT.replace('"b"', f'"{backend.alias}"'))
    run = inner(backend=backend)
    run.result.assert_outcomes(passed=1, errors=1)
    alias = backend.alias
    assert_test_failed_in_one_line(
        run, f"multidb: test_conflict.py::TestMarkerRollsBack::test_a_fixture_asks_for_commits: uses_db({alias!r}, "
        f"transaction=...) asks {alias!r} to commit, but an earlier declaration (the test's marker, or a fixture set "
        "up before) opened it rolled back.")
    assert run.leftovers() == set()


@pytest.mark.servers
def test_a_stop_under_xdist_is_one_line_without_a_chained_exception(inner, pytester):
    """A provisioning error under xdist (here: nothing listens on the alias's port)."""
    pytester.makepyfile(bad_settings="from sample_models.settings import *  # noqa: F403\n"
                        "OTHER_DATABASES['b']['PORT'] = '1'\n",
                        test_x="import pytest\n\n@pytest.mark.uses_db('b')\ndef test_b():\n    pass\n")
    run = inner("-n", "2", "--multidb-settings", "bad_settings", settings=False, env={"MULTIDB_SAMPLE_PG": "1"})
    assert run.result.ret != 0
    assert_no_traceback(run.out + run.err)
    assert "alias 'b'" in run.out + run.err


#: A data migration that reads the JSON seed beside it.
SEED_FROM_A_FILE = """    data = json.loads((Path(__file__).parent / "seed.json").read_text())
    apps.get_model("seeded", "Note").objects.using(schema_editor.connection.alias).create(text=data["text"])"""


def test_a_data_file_beside_the_migrations_is_part_of_the_schema(inner, pytester):
    """A JSON seed a data migration reads changes: the next run rebuilds, warm databases included."""
    pytester.makepyfile(seeded_settings='''
SECRET_KEY = "x"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["pytest_multidb", "seeded"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "real.db"}}
''', test_seed='''
import os
import pytest
from seeded.models import Note


@pytest.mark.uses_db("default")
def test_seed():
    assert Note.objects.get().text == os.environ["EXPECTED_SEED"]
''')
    migrations = seeded_app(pytester, SEED_FROM_A_FILE)
    for text in ("first", "second"):
        (migrations / "seed.json").write_text(f'{{"text": "{text}"}}')
        run = inner("--multidb-settings", "seeded_settings", settings=False, warm=True, env={"EXPECTED_SEED": text})
        run.result.assert_outcomes(passed=1)
        assert run.summary()["default"]["cache"] == "built"


def test_a_bad_models_entry_is_a_check_message_under_manage_py(tmp_path):
    """``manage.py check`` reports ``multidb.E003`` instead of a traceback from ``django.setup()``."""
    (tmp_path / "bad_models_settings.py").write_text(
        "from sample_models.settings import *  # noqa: F403\nOTHER_DATABASES['a']['MODELS'] = ['nosuchapp']\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "DJANGO_SETTINGS_MODULE": "bad_models_settings",
           "MULTIDB_SAMPLE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "django", "check"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode != 0
    assert_no_traceback(done.stdout + done.stderr)
    assert "OTHER_DATABASES['a']['MODELS'] (alias 'a'): (multidb.E003) 'nosuchapp' names no installed app." \
        in done.stderr, done.stderr


def test_a_marker_typo_suggests_the_alias_and_the_header_lists_nothing(inner, pytester):
    """An alias typo in a marker: the near miss is named; no "N tests need" line with an empty alias list."""
    pytester.makepyfile(test_typo="import pytest\n\n@pytest.mark.uses_db('dafault')\ndef test_t():\n    pass\n")
    run = inner()
    assert_one_line(run, "multidb: test_typo.py::test_t: @pytest.mark.uses_db names unknown database alias "
                    "'dafault'; known aliases: default, a, b, c. Fix: did you mean 'default'? use one of them, or add "
                    "the alias to DATABASES or OTHER_DATABASES.")
    assert "tests need" not in run.out


def test_help_names_every_kind(inner):
    run = inner("--help", settings=False)
    assert "sqlite, server, process, container, existing" in " ".join(run.out.split())


def test_settings_that_mean_something_else_here_are_said_in_the_header(inner, pytester):
    """A sqlite TEST['NAME'] (our test database is a file of ours) and an empty server NAME."""
    pytester.makepyfile(notes_settings='''
from sample_models.settings import *  # noqa: F403
DATABASES["default"]["TEST"] = {"NAME": "mine.sqlite3"}
OTHER_DATABASES["b"] = {**POSTGRES, "NAME": ""}
''', test_n="def test_n():\n    pass\n")
    run = inner("--multidb-settings", "notes_settings", settings=False)
    run.result.assert_outcomes(passed=1)
    assert "multidb: alias 'default': TEST['NAME'] = 'mine.sqlite3' is not where its test database goes" in run.out
    assert "multidb: alias 'b': NAME is empty: its test database is named test__<run>" in run.out


LONG_NAMES = '''
import pytest
from django.db import connections
from inner_helpers import SERVER, add


@pytest.mark.parametrize("n", range(4))
@pytest.mark.uses_db(SERVER, transaction=True)
def test_each_worker_its_own(n):
    name = connections[SERVER].settings_dict["NAME"]
    with open("names.txt", "a", encoding="utf-8") as out:
        print(name, file=out)
    add(SERVER, "x")
'''


@pytest.mark.servers
@pytest.mark.parametrize("backend", ["pg", "maria"], indirect=True)
@pytest.mark.parametrize("name", ["fz_" + "x" * 57, "fz_" + "é" * 40], ids=["ascii", "multibyte"])
def test_long_names_keep_their_run_and_worker(inner, pytester, backend, name):
    """A NAME too long for the server is shortened; the run and worker part never is (two workers, and two
    runs, never meet in one database)."""
    alias = backend.alias
    pytester.makepyfile(long_settings="from sample_models.settings import *  # noqa: F403\n"
                        f"OTHER_DATABASES[{alias!r}]['NAME'] = {name!r}\n", test_long=LONG_NAMES)
    run = inner("-n", "2", "--multidb-settings", "long_settings", "--multidb-no-warm", settings=False,
                backend=backend)
    run.result.assert_outcomes(passed=4)
    names = set((pytester.path / "names.txt").read_text(encoding="utf-8").split())
    assert {name[-4:] for name in names} == {"_gw0", "_gw1"}, names  # one database per worker
    assert all(len(name.encode()) <= 63 and name.startswith("test_fz_") for name in names), names
    assert run.leftovers() == set()


@pytest.mark.servers
def test_an_unreachable_server_with_warm_databases_is_one_line_and_keeps_the_others_warm(inner, pytester):
    """The warm path fails as the cold one does (one line, exit 4), and leaves the other aliases' warm
    databases alone."""
    pytester.makepyfile(bad_port="from sample_models.settings import *  # noqa: F403\n"
                        "OTHER_DATABASES['b'] = {**OTHER_DATABASES['b'], 'PORT': '1'}\n",
                        test_ab="import pytest\n\n@pytest.mark.uses_db('a', 'b')\ndef test_ab():\n    pass\n")
    on_pg = {"MULTIDB_SAMPLE_PG": "1"}
    inner(warm=True, env=on_pg).result.assert_outcomes(passed=1)
    bad = inner("--multidb-settings", "bad_port", settings=False, warm=True, env=on_pg)
    assert bad.result.ret == pytest.ExitCode.USAGE_ERROR
    assert_no_traceback(bad.out + bad.err)
    assert "multidb: alias 'b' (HOST/PORT/USER/PASSWORD): cannot claim warm test database" in bad.out + bad.err
    assert "not kept warm" not in bad.out
    again = inner(warm=True, env=on_pg)
    again.result.assert_outcomes(passed=1)
    assert again.summary()["a"]["cache"] == "warm"
