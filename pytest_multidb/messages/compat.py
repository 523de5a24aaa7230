"""Messages of pytest-django's vocabulary served by pytest-multidb (``compat``): the ``django_db`` marker and the
other markers (``django_db``, ``pytest_django``), its fixtures (``django_fixtures``) and the header lines that say
what pytest-django's options mean here (``pytest_django``, ``step_aside``).

A ``django_db`` marker mistake is ``DJANGO_DB_MISUSE`` filled with a mistake and its fix (``..._FIX``).
"""

#: A django_db marker that does not fit its signature (pytest-django's ``validate_django_db``).
DJANGO_DB_MISUSE = "multidb: {test}: @pytest.mark.django_db(...) {mistake}. Fix: {fix}."
#: More positional arguments than the marker's keywords.
TOO_MANY_POSITIONAL = "got {count} positional arguments"
TOO_MANY_POSITIONAL_FIX = "pass its options by keyword"
#: A keyword that is not one of the marker's.
UNKNOWN_KEYWORD = "has an unknown keyword {key!r}"
UNKNOWN_KEYWORD_FIX = "use only {keywords}"
#: databases= that is not None, '__all__' or a list of aliases.
BAD_DATABASES = "got databases={value!r}"
BAD_DATABASES_FIX = "write databases=['default', 'other'] or databases='__all__'"
#: transaction=, reset_sequences= or serialized_rollback= that is not a boolean.
NOT_A_BOOLEAN = "got {key}={value!r}, which takes True or False"
NOT_A_BOOLEAN_FIX = "write {key}=True"

#: django_isolate_apps without app labels, or the django_isolated_apps fixture without the marker.
ISOLATE_APPS_WITHOUT_LABELS = (
    "multidb: {test}: @pytest.mark.django_isolate_apps(...) takes app labels. Fix: write "
    "@pytest.mark.django_isolate_apps('app_label', ...)."
)
ISOLATED_APPS_WITHOUT_MARKER = (
    "multidb: {test}: the django_isolated_apps fixture needs @pytest.mark.django_isolate_apps(...). Fix: add the "
    "marker with the app labels."
)
#: The urls marker without a module path.
URLS_NOT_A_MODULE = "multidb: @pytest.mark.urls(...) takes a module path, got {urls!r}"
#: --fail-on-template-vars without pytest-django installed (its checker is pytest-django's).
TEMPLATE_VARS_NEED_PYTEST_DJANGO = (
    "multidb: --fail-on-template-vars (or FAIL_INVALID_TEMPLATE_VARS) uses pytest-django's template checker. "
    "Fix: pip install pytest-django (it steps aside for everything else), or drop the option."
)

#: django_assert_num_queries given both a connection and an alias (pytest-django's own words).
CONNECTION_AND_USING = 'The "connection" and "using" parameter cannot be used together'
#: django_assert_num_queries / django_assert_max_num_queries failed (pytest-django's own words): ``NUM_QUERIES``
#: (``OR_LESS`` for the max variant), then the queries (-v) or ``SHOW_QUERIES``.
NUM_QUERIES = "Expected to perform {num} queries {or_less}but {done} {verb} done"
OR_LESS = "or less "
QUERIES = "\n\nQueries:\n========\n\n{queries}"
SHOW_QUERIES = " (add -v option to show queries)"

#: Header lines: pytest-django's options given, and what they mean here.
REUSE_DB = (
    "--reuse-db: accepted; test databases are kept warm between runs and reused while models and migrations are "
    "unchanged (the default; --multidb-no-warm keeps none)"
)
CREATE_DB = "--create-db: means --multidb-rebuild (every test schema is rebuilt, the cache refreshed)"
NOMIGRATIONS = "--nomigrations: means --multidb-no-migrations (tables built from the models)"
MIGRATIONS = "--migrations: migrations run (the default; overrides --multidb-no-migrations)"
#: Header line: pytest-django is installed and steps aside.
STEPS_ASIDE = (
    "pytest-django {version} is installed and steps aside: pytest-multidb serves django_db, db, live_server, "
    "Django's test classes and pytest-django's fixtures, options and ini keys (-p no:multidb runs pytest-django "
    "alone)"
)
#: Every header line of compat (and of the bootstrap it reports).
HEADER_LINE = "multidb: {line}"
