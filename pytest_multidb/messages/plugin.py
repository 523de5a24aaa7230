"""Messages of the pytest plugin itself: its bootstrap (settings module, ini options), the ``uses_db`` marker's
signature (``markers``), its hooks (``plugin``) and ``--multidb-clean`` (``clean``).

A marker mistake is ``MARKER_MISUSE`` filled with a mistake and its fix (``..._FIX``).
"""

#: An ini option that should be a boolean (django_find_project, ...) is something else.
INI_NOT_A_BOOLEAN = "multidb: ini option {name} = {value!r}: expected true or false"
#: DJANGO_CONFIGURATION (or --dc / ini) is set but django-configurations is not installed.
CONFIGURATIONS_MISSING = (
    "multidb: the Django configuration {value!r} (from {source}) needs django-configurations, which cannot be "
    "imported ({error}). Fix: pip install django-configurations, or drop {source}."
)
#: The settings module named by --multidb-settings / the ini option / DJANGO_SETTINGS_MODULE fails to import.
SETTINGS_NOT_IMPORTABLE = (
    "multidb: the Django settings module {module!r} (from {source}) cannot be imported: {error_type}: {error}. "
    "Fix: correct {source}, or put the module's directory on sys.path (ini option 'pythonpath')."
)
#: A ConfigurationError found while pytest starts (the settings are wrong): the run stops with it.
BAD_SETTINGS = "multidb: {error}"

#: A uses_db marker that does not fit uses_db(*aliases, transaction=..., reset_sequences=...).
MARKER_MISUSE = "multidb: {test}: @pytest.mark.uses_db(...) {mistake}. Fix: {fix}."
#: The marker a fix proposes.
MARKER_CALL = "@pytest.mark.uses_db({aliases})"
#: uses_db(databases=[...]): pytest-django's keyword.
UNKNOWN_KEYWORD = "has an unknown keyword {key!r}"
DATABASES_KEYWORD_FIX = "pass the aliases as arguments: {marker}"
#: A keyword that is a near miss of transaction or reset_sequences, or no keyword of the marker at all.
UNKNOWN_KEYWORD_MEANT = "has an unknown keyword {key!r} (did you mean {meant!r}?)"
UNKNOWN_KEYWORD_MEANT_FIX = "write {meant}={value!r}"
UNKNOWN_KEYWORD_FIX = "use only aliases and the keywords transaction and reset_sequences"
#: uses_db(['a', 'b']): a list of aliases as one argument.
ALIAS_LIST = "got the {type_name} {value!r} as an alias"
ALIAS_LIST_FIX = "pass each alias as its own argument: {marker}"
#: An argument that is not a string.
ALIAS_NOT_A_STRING = "got {value!r} ({type_name}) as an alias"
ALIAS_NOT_A_STRING_FIX = "name each alias as a string, e.g. @pytest.mark.uses_db('default')"
#: transaction= that is not True, False, an alias or a list of aliases.
BAD_TRANSACTION = "got transaction={value!r}, which takes True, False, an alias or a list of aliases"
BAD_TRANSACTION_FIX = "write transaction=True (every declared alias commits) or transaction=['a'] (only those)"
#: reset_sequences= that is not a boolean.
BAD_RESET_SEQUENCES = "got reset_sequences={value!r}, which takes True or False"
BAD_RESET_SEQUENCES_FIX = "write reset_sequences=True"

#: A test marked uses_db in a run without Django settings.
USES_DB_WITHOUT_SETTINGS = (
    "multidb: {test} uses @pytest.mark.uses_db but no Django settings are configured. Fix: pass --multidb-settings "
    "MODULE, set the ini option multidb_settings, or DJANGO_SETTINGS_MODULE."
)
#: A test that failed because an alias's server died: the diagnosis replaces the traceback.
TEST_FAILURE_DIAGNOSED = "multidb: {test}: {diagnosis}"
#: The end of an xdist run: a server or container of the run stopped, or left running.
STOPPED = "multidb: stopped the {what}"
NOT_STOPPED = "multidb: could not stop the {what} (the next run removes it)"
#: --multidb-clean with no Django settings (none given, none configured by a conftest's pytest_configure).
CLEAN_WITHOUT_SETTINGS = ("multidb: --multidb-clean: no Django settings, so no server to clean; give them with "
                          "--ds / DJANGO_SETTINGS_MODULE (or the ini option), as for a test run")
#: --multidb-clean: something it could not remove (a leftover, a warm database, a server it cannot reach).
NOT_REMOVED = "multidb: could not remove {what}"
SERVER_NOT_CLEANED = "the warm databases and templates on {server} (alias {alias!r}): {error}"
#: --multidb-clean: a warm test database (a file, or one on a server) removed, or held by a live run.
WARM_DATABASE_FILE = "warm test database {path!r}"
WARM_DATABASE = "warm test database {name!r} of alias {alias!r} ({server})"
IN_USE = "{what}: in use by a live run"
#: --multidb-clean: a warm database's record forgotten (the database was not dropped: ``note`` says why).
RECORD_FORGOTTEN = "record of {what}: {note}"
#: --multidb-keep / --multidb-max-age-days (or their variables and ini keys) that are not numbers.
BAD_POLICY = (
    "multidb: multidb_keep / multidb_max_age_days: {error}. Fix: give a whole number of databases (e.g. 2) and a "
    "number of days (e.g. 14)."
)
