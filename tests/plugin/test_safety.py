"""The configured real databases are never touched.

Before the inner run the real databases of the sample (``multidb_sample_widgets`` on PostgreSQL,
``multidb_sample_cycles`` on MariaDB) get a sentinel table with one row (and, when this test created the
database, the sample's own table with a row too); afterwards every row must still be there, no test database
of the run may be left on the servers and no sqlite file may appear at the configured (real) paths.
"""

import re

import pytest

pytestmark = pytest.mark.servers

BOTH = {"MULTIDB_SAMPLE_PG": "1", "MULTIDB_SAMPLE_MARIA": "1"}


SUITE = '''
    import pytest
    from django.db import connections
    from sample_models.artists.models import Artist
    from sample_models.cycles.models import Category
    from sample_models.widgets.models import Widget

    ALL = ("default", "a", "b", "c")


    @pytest.mark.parametrize("n", range(2))
    @pytest.mark.uses_db(*ALL)
    def test_rolled_back(n, swap_db):
        assert connections["b"].settings_dict["NAME"] != "multidb_sample_widgets"
        assert connections["c"].settings_dict["NAME"] != "multidb_sample_cycles"
        for alias in ALL:
            tables = connections[alias].introspection.table_names()
            assert not [t for t in tables if t.startswith("multidb_sentinel")], alias
        Widget.objects.create(code=f"w{n}", weight=1)
        Category.objects.create(name=f"c{n}")
        Artist.objects.create(name=f"a{n}")
        swap_db(Artist, "c")
        Artist.objects.create(name="moved")


    @pytest.mark.parametrize("n", range(2))
    @pytest.mark.uses_db(*ALL, transaction=True, reset_sequences=True)
    def test_committing(n, swap_db):
        assert Widget.objects.create(code=f"w{n}", weight=1).pk == 1
        assert Category.objects.create(name=f"c{n}").pk == 1
        swap_db(Widget, "c")
        Widget.objects.create(code="moved", weight=2)
'''


def test_real_databases_untouched_and_nothing_left(inner, pytester, real):
    before = real.contents()
    pytester.makepyfile(test_suite=SUITE)
    run = inner(env=BOTH, worker=True)
    run.result.assert_outcomes(passed=4)
    summary = run.summary()
    assert set(summary) == {"default", "a", "b", "c"}
    assert summary["b"]["name"].startswith("test_multidb_sample_widgets_")
    assert summary["c"]["name"].startswith("test_multidb_sample_cycles_")
    assert run.token in summary["b"]["name"]
    assert run.token in summary["c"]["name"]
    assert real.contents() == before
    assert all(before.values())
    assert run.leftovers() == set()
    assert list(inner.real_dir.iterdir()) == []  # no sqlite file at the configured paths


CLASH = '''
    from sample_models.settings import *  # noqa: F403

    OTHER_DATABASES = {{
        **OTHER_DATABASES,  # noqa: F405
        "{alias}": {{**{spec}, "TEST": {{"NAME": {spec}["NAME"]}}}},  # noqa: F405
    }}
'''


@pytest.mark.parametrize(("alias", "spec", "real_name"), [
    ("b", "POSTGRES", "multidb_sample_widgets"),
    ("c", "MARIADB", "multidb_sample_cycles"),
], ids=["pg", "maria"])
def test_test_name_equal_to_a_real_database_is_refused(inner, pytester, servers, real, alias, spec, real_name):
    before = real.contents()
    pytester.makepyfile(clash_settings=CLASH.format(alias=alias, spec=spec), test_x='''
        import pytest

        @pytest.mark.uses_db("a", "b", "c")
        def test_x():
            pass
    ''')
    # A plain run (no xdist worker suffix, which would make the name differ from the real one); its pid tells
    # which server databases it made: test_<NAME>_<pid><4 hex>.
    pytester.makepyfile(inner_pid="import os\n\ndef pytest_report_header():\n    return f'inner pid {os.getpid()}'\n")
    run = inner("-p", "inner_pid", "--multidb-settings", "clash_settings", settings=False, env=BOTH, worker=False)
    pid = re.search(r"^inner pid (\d+)$", run.out, re.MULTILINE)[1]
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    message = (f"multidb: alias {alias!r} (TEST['NAME']): test database name {real_name!r} is the name of a "
               "configured database. Fix: give TEST['NAME'] a name that no alias uses, or remove it.")
    assert message in run.out + run.err
    assert (run.out + run.err).count("is the name of a configured database") == 1
    run.result.assert_outcomes()  # nothing ran
    assert real.contents() == before
    made = re.compile(rf"^(pg|maria):test_multidb_sample_\w+_{pid}[0-9a-f]{{4}}$")
    assert not [name for name in servers.databases() if made.match(name)]  # the other aliases' were removed
    assert list(inner.real_dir.iterdir()) == []
