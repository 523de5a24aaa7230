"""An unreachable server or a missing driver fails the run at once with
one message naming the alias, the setting and the fix."""

import os
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TWO_TESTS = '''
    import pytest

    @pytest.mark.uses_db("a", "{alias}")
    def test_one():
        pass

    @pytest.mark.uses_db("a")
    def test_two():
        pass
'''


def outcome_text(run) -> str:
    return run.out + run.err


@pytest.mark.servers
@pytest.mark.parametrize(("backend", "port_variable"), [("pg", "MULTIDB_PG_PORT"), ("maria", "MULTIDB_MARIA_PORT")],
                         indirect=["backend"])
def test_unreachable_server(inner, pytester, servers, backend, port_variable):
    port = servers.closed_port()
    pytester.makepyfile(test_x=TWO_TESTS.format(alias=backend.alias))
    run = inner(backend=backend, env={port_variable: str(port)})
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    text = outcome_text(run)
    assert (f"Exit: multidb: alias {backend.alias!r} (HOST/PORT/USER/PASSWORD): cannot create test database "
            f"'test_{'multidb_sample_widgets' if backend.pg else 'multidb_sample_cycles'}_") in text
    assert f"on 127.0.0.1:{port}: " in text
    assert (f"Fix: start the server or fix the connection settings, or choose --multidb-provision "
            f"{backend.alias}=process|container.") in text
    assert text.count("cannot create test database") == 1
    assert "Traceback" not in text
    run.result.assert_outcomes()  # stopped before any test ran
    assert run.summary() == {}
    assert list(inner.real_dir.iterdir()) == []


# Stands in for an uninstalled driver package: pip-uninstalling psycopg / mysqlclient from the shared venv is not
# possible here, so a meta path finder at interpreter start makes importing them fail exactly as a missing package
# does (ModuleNotFoundError). The plugin code is not touched.
UNINSTALLED = '''
    import os
    import sys


    class Uninstalled:
        names = tuple(os.environ["INNER_UNINSTALLED"].split(","))

        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in self.names:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, Uninstalled())
'''


@pytest.mark.servers
@pytest.mark.parametrize(("backend", "modules", "driver", "extra"), [
    ("pg", "psycopg,psycopg2", "psycopg or psycopg2", "postgres"),
    ("maria", "MySQLdb", "MySQLdb (mysqlclient)", "mysql"),
], indirect=["backend"])
def test_missing_driver(inner, pytester, backend, modules, driver, extra):
    blocker = pytester.mkdir("uninstalled")
    (blocker / "sitecustomize.py").write_text(textwrap.dedent(UNINSTALLED))
    pytester.makepyfile(test_x=TWO_TESTS.format(alias=backend.alias), test_blocked='''
        import importlib
        import pytest

        @pytest.mark.parametrize("module", ["psycopg", "psycopg2", "MySQLdb"])
        def test_blocked(module):
            import os
            if module in os.environ["INNER_UNINSTALLED"].split(","):
                with pytest.raises(ModuleNotFoundError):
                    importlib.import_module(module)
    ''')
    env = {"PYTHONPATH": f"{ROOT}{os.pathsep}{blocker}", "INNER_UNINSTALLED": modules}
    inner("test_blocked.py", backend=backend, env=env).result.assert_outcomes(passed=3)  # the stand-in works
    run = inner("test_x.py", backend=backend, env=env)
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    text = outcome_text(run)
    assert (f"Exit: multidb: alias {backend.alias!r} (ENGINE): cannot load the backend ({driver} missing?): ") in text
    assert f"Fix: pip install 'pytest-multidb[{extra}]'." in text
    assert text.count("cannot load the backend") == 1
    assert "Traceback" not in text
    run.result.assert_outcomes()  # stopped before its first test
    assert run.leftovers() == set()
