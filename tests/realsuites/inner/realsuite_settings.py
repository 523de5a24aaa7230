"""Settings as Django's ``tests/runtests.py`` builds them for ``runtests.py $REALSUITE_MODULES``.

``runtests.py`` configures settings from ``--settings`` (here ``realsuite_base``), then ``setup_collect_tests``
overrides a dozen of them and calls ``django.setup()``, then ``setup_run_tests`` appends the apps of the test
modules to ``INSTALLED_APPS``. Here ``setup_collect_tests`` itself runs (so the overrides are the ones of the
Django version under test), against a recorder instead of ``django.conf.settings``, with ``django.setup()`` left to
the pytest plugin; the apps come from ``runtests.get_apps_to_install``. What ``setup_run_tests`` does after
``django.setup()`` is in ``realsuite_plugin.py``.

Importing ``runtests`` is what ``runtests.py`` does: its warning filters (deprecation, resource and runtime
warnings are errors) apply. Written into the per-run copy of Django's ``tests/`` by ``tests/realsuites/harness.py``.
"""

import atexit
import os
import shutil
import tempfile
import types
import warnings

# As runtests.py's __main__ does: each run its own temporary directory (some tests leave files there), removed at
# exit.
_tmpdir = tempfile.mkdtemp(prefix="django_")  # lower case: not a setting
tempfile.tempdir = os.environ["TMPDIR"] = _tmpdir
atexit.register(shutil.rmtree, _tmpdir, ignore_errors=True)

_before = list(warnings.filters)
import realsuite_base  # noqa: E402
import runtests  # noqa: E402

#: The warning filters runtests.py installs (newest first): ``realsuite_plugin`` hands them to pytest, whose
#: per-test filters would otherwise put "always" for deprecation warnings in front of them.
runtests_warning_filters = [entry for entry in warnings.filters if entry not in _before]
from django.conf import global_settings  # noqa: E402

for _name in dir(realsuite_base):
    if _name.isupper():
        globals()[_name] = getattr(realsuite_base, _name)


class _Recorder(types.SimpleNamespace):
    """Stands for ``django.conf.settings``: reads the base settings, records what is assigned."""

    def __init__(self) -> None:
        for module in (global_settings, realsuite_base):
            for name in dir(module):
                if name.isupper():
                    object.__setattr__(self, name, getattr(module, name))
        object.__setattr__(self, "assigned", {})

    def __setattr__(self, name: str, value: object) -> None:
        self.assigned[name] = value
        object.__setattr__(self, name, value)


def _runtests_settings(labels: list[str]) -> dict[str, object]:
    recorder = _Recorder()
    no_gis = types.SimpleNamespace(features=types.SimpleNamespace(gis_enabled=False))
    no_setup = types.SimpleNamespace(setup=lambda: None)
    saved = runtests.settings, runtests.django, runtests.connection
    runtests.settings, runtests.django, runtests.connection = recorder, no_setup, no_gis
    try:
        modules, _state = runtests.setup_collect_tests(None, None, test_labels=labels)
        installed = list(recorder.assigned["INSTALLED_APPS"])
        for app in runtests.get_apps_to_install(modules):
            if app not in installed:
                installed.append(app)
    finally:
        runtests.settings, runtests.django, runtests.connection = saved
    return {**recorder.assigned, "INSTALLED_APPS": installed}


globals().update(_runtests_settings([label for label in os.environ["REALSUITE_MODULES"].split(",") if label]))
