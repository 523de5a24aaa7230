"""Settings as django-simple-history's ``runtests.py`` makes them: ``settings.configure(**get_default_settings())``
(its default database: sqlite3), here in ``pytest_configure``, where both pytest-django and pytest-multidb take
settings a conftest configured.

Copied as ``conftest.py`` into the root of the per-run copy of the django-simple-history sdist by
``tests/realsuites/harness.py`` (the sdist has no conftest of its own).
"""


def pytest_configure(config):
    import runtests
    from django.conf import settings

    if not settings.configured:
        settings.configure(**runtests.get_default_settings())
