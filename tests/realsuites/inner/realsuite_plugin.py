"""What Django's ``runtests.setup_run_tests`` does after ``django.setup()`` (loaded with ``-p realsuite_plugin``).

Written into the per-run copy of Django's ``tests/`` by ``tests/realsuites/harness.py``.
"""

import os


def _ini_line(entry):
    action, message, category, module, lineno = entry
    return ":".join([action, message.pattern if message else "", f"{category.__module__}.{category.__qualname__}",
                     module.pattern if module else "", str(lineno or "")])


def pytest_configure(config):
    # runtests.py's warning filters (deprecation, resource and runtime warnings are errors), which pytest's own
    # per-test filters would override: as ini lines, applied after them, oldest first (the newest wins).
    import realsuite_settings

    for entry in reversed(realsuite_settings.runtests_warning_filters):
        config.addinivalue_line("filterwarnings", _ini_line(entry))

    from django.test import TestCase, TransactionTestCase
    from django.utils.functional import classproperty

    # Force declaring available_apps in TransactionTestCase for faster tests.
    def no_available_apps(cls):
        raise Exception("Please define available_apps in TransactionTestCase and its subclasses.")

    TransactionTestCase.available_apps = classproperty(no_available_apps)
    TestCase.available_apps = None
    os.environ["RUNNING_DJANGOS_TEST_SUITE"] = "true"
