"""What Django's ``runtests.setup_run_tests`` does after ``django.setup()`` (loaded with ``-p realsuite_plugin``).

Written into the per-run copy of Django's ``tests/`` by ``tests/realsuites/harness.py``.
"""

import os


def pytest_configure(config):
    from django.test import TestCase, TransactionTestCase
    from django.utils.functional import classproperty

    # Force declaring available_apps in TransactionTestCase for faster tests.
    def no_available_apps(cls):
        raise Exception("Please define available_apps in TransactionTestCase and its subclasses.")

    TransactionTestCase.available_apps = classproperty(no_available_apps)
    TestCase.available_apps = None
    os.environ["RUNNING_DJANGOS_TEST_SUITE"] = "true"
