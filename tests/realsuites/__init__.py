"""Real suites ("fidelity"): Django's own test modules and django-simple-history's suite, from their
sdists, under pytest-django and under pytest-multidb, compared per test (``test_realsuites.py``; the harness is
``harness.py``, the files written beside the suites' tests are in ``inner/``).

    .venv/bin/python -m pytest -n 2 tests/realsuites            # part of scripts/test, on both venvs
    .venv/bin/python benchmarks/realsuites.py [--json]           # wall times, beside the suites' own runners

The sdists are cached in ``$XDG_CACHE_HOME/pytest-multidb/realsuites`` (else ``~/.cache/...``): the first run
downloads them with the venv's pip.
"""
