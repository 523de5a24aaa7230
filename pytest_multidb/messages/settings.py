"""Messages about the settings: ``DATABASES`` / ``OTHER_DATABASES`` entries, ``TEST`` keys, ``MODELS`` selectors,
mirrors and dependencies (``conf``, ``settings_checks``, ``same_database``, ``routing``), the system checks
(``checks``) and an alias nobody configured (``db``).

A ``ConfigurationError`` is ``CONFIGURATION_ERROR`` filled with a setting, a problem and a fix: each problem
below is followed by its fix (``..._FIX``).
"""

#: Every ConfigurationError: the setting (``SETTING_OF_ALIAS`` when it belongs to an alias), problem and fix.
CONFIGURATION_ERROR = "{where}: {problem}. Fix: {fix}."
#: The setting of a ConfigurationError (or a model of a check message) that belongs to an alias.
SETTING_OF_ALIAS = "{setting} (alias {alias!r})"

#: A DATABASES / OTHER_DATABASES entry that is not a dict.
ENTRY_NOT_A_DICT = "expected a dict, got {type_name}"
ENTRY_NOT_A_DICT_FIX = "give the alias a dict of connection settings"
#: A key of an entry, or of its TEST, that is a near miss of a known one.
UNKNOWN_KEY = "unknown key {key!r} (did you mean {meant!r}?)"
UNKNOWN_KEY_FIX = "rename it to {meant!r}"
#: An OTHER_DATABASES entry with an old key and its modern name both.
OLD_AND_NEW_KEY = "both {old!r} and {modern!r} are set"
OLD_AND_NEW_KEY_FIX = "keep only one of them (prefer {modern!r})"
#: An OTHER_DATABASES entry without an engine.
NO_ENGINE = "no ENGINE (or DATABASE_ENGINE) is set"
NO_ENGINE_FIX = "add 'ENGINE': 'django.db.backends.sqlite3' (or another backend)"
#: MODELS that is not a list of strings.
MODELS_NOT_A_LIST = "expected a list of strings, got {models!r}"
MODELS_NOT_A_LIST_FIX = "write MODELS = ['app_label', 'app_label.Model']"
#: DATABASES or OTHER_DATABASES that is not a dict.
ALIASES_NOT_A_DICT = "expected a dict of aliases, got a {type_name}"
OTHER_DATABASES_NOT_A_DICT_FIX = "write OTHER_DATABASES = {{'alias': {{'ENGINE': ..., 'NAME': ..., 'MODELS': [...]}}}}"
DATABASES_NOT_A_DICT_FIX = "write DATABASES = {{'default': {{'ENGINE': ..., 'NAME': ...}}}}"
#: DATABASES without a 'default' alias.
NO_DEFAULT_ALIAS = "no {default!r} alias (found {found})"
NO_DEFAULT_ALIAS_FIX = "name one of the connections {default!r}"
#: An OTHER_DATABASES alias that DATABASES defines too.
ALIAS_DEFINED_TWICE = "the alias is also defined in DATABASES"
ALIAS_DEFINED_TWICE_FIX = "rename one of them or define the connection in only one setting"
#: A MODELS selector listed under two aliases (multidb.E002).
SELECTOR_CLAIMED_TWICE = "{selector!r} is also claimed by alias {other!r}"
SELECTOR_CLAIMED_TWICE_FIX = "list each app or model under one alias only"

#: An ENGINE that is not a string.
ENGINE_NOT_A_STRING = "expected a dotted backend path, got {engine!r}"
ENGINE_NOT_A_STRING_FIX = "write e.g. 'django.db.backends.postgresql'"
#: A dotted ENGINE that names no installed backend (with a near miss, or without).
NO_BACKEND = "no database backend {engine!r} is installed (no module {engine}.base)"
NO_BACKEND_FIX = "use one of {known} or the dotted path of an installed third-party backend"
NO_BACKEND_MEANT_FIX = (
    "did you mean {meant!r}? Otherwise use one of {known} or the dotted path of an installed third-party backend"
)
#: A short ENGINE name (OTHER_DATABASES) that is not one of the known ones.
UNKNOWN_ENGINE = "unknown engine {engine!r}"
UNKNOWN_ENGINE_FIX = "use one of {known} or a dotted backend path such as 'django.db.backends.postgresql'"
#: OPTIONS or TEST that is not a dict.
SETTING_NOT_A_DICT = "expected a dict, got {value!r}"
TEST_NOT_A_DICT_FIX = "write {key!r} as a dict, e.g. {{'PROVISION': 'auto'}}"
OPTIONS_NOT_A_DICT_FIX = "write {key!r} as a dict, e.g. {{'connect_timeout': 5}}"
#: TEST['PROVISION'] that is not a string.
PROVISION_NOT_A_NAME = "expected the name of a kind, got {value!r}"
PROVISION_NOT_A_NAME_FIX = "write one of 'auto', 'sqlite', 'server', 'process', 'container', 'existing'"
#: TEST['UNMANAGED'] that is neither 'create' nor 'skip'.
UNKNOWN_UNMANAGED = "unknown value {value!r}"
UNKNOWN_UNMANAGED_FIX = "write one of {modes} (default 'skip': no tables, as in Django)"
#: TEST['DEPENDENCIES'] that is not a list of aliases (a single alias, or anything else).
DEPENDENCIES_NOT_A_LIST = "expected a list of aliases, got {value!r}"
DEPENDENCIES_ONE_ALIAS_FIX = "write 'DEPENDENCIES': [{value!r}]"
DEPENDENCIES_NOT_A_LIST_FIX = "write 'DEPENDENCIES': ['default']"
#: The backend of 'default' cannot be loaded (its driver is missing); the fix for each backend.
DRIVER_MISSING = "cannot load the backend {engine!r} (is its driver installed?): {error}"
POSTGRESQL_DRIVER_FIX = "pip install 'pytest-multidb[postgres]'"
MYSQL_DRIVER_FIX = "pip install 'pytest-multidb[mysql]'"
ORACLE_DRIVER_FIX = "pip install oracledb (cx_Oracle before Django 5.0)"
OTHER_DRIVER_FIX = "install the database driver that {engine} needs"
#: The start of a fix that names an alias a typo stands for.
DID_YOU_MEAN = "did you mean {name!r}? "

#: TEST['MIRROR'] or TEST['DEPENDENCIES'] naming something that is not an alias.
NOT_AN_ALIAS = "names {name!r}, which is not an alias"
USE_ONE_OF = "use one of {known}"
#: TEST['MIRROR'] naming a mirror, or the alias itself.
MIRROR_OF_MIRROR = "{primary!r} is itself a mirror (or the alias itself)"
MIRROR_OF_MIRROR_FIX = "point the mirror at an alias that has a database of its own"
#: TEST['DEPENDENCIES'] that go round in a circle.
CIRCULAR_DEPENDENCY = "circular dependency between {aliases}"
CIRCULAR_DEPENDENCY_FIX = "remove one of the DEPENDENCIES that point back"
#: A MODELS selector naming no installed app, or no model of its app (multidb.E003).
SELECTOR_NO_APP = "{selector!r} names no installed app"
SELECTOR_NO_APP_FIX = "use an installed app label ('app_label') or 'app_label.Model'"
SELECTOR_NO_MODEL = "{selector!r}: app {app_label!r} has no model {model_name!r}"

#: multidb.W001: a relation between models on different connections (foreign key, or many-to-many).
CROSS_CONNECTION_RELATION = "{model} references {target} on another connection."
CROSS_CONNECTION_MANY_TO_MANY = (
    "{model} and {target} are related many-to-many across connections (table {table!r} is on alias {alias!r})."
)
CROSS_CONNECTION_HINT = (
    "Move both models to one alias (list them in the same OTHER_DATABASES MODELS), or set db_constraint=False "
    "on the field if the cross-connection reference is intended (that also silences this warning)."
)
#: multidb.W002: a managed model referencing an unmanaged model whose alias's test database lacks the table.
UNMANAGED_REFERENCE = (
    "{model} references the unmanaged model {target} (table {table!r}), which alias {alias!r}'s test database "
    "will not have: the alias neither creates unmanaged tables (TEST['UNMANAGED'] = 'create') nor is "
    "TEST['PROVISION'] = 'existing'."
)
UNMANAGED_REFERENCE_HINT = (
    "Set TEST['UNMANAGED'] = 'create' on that alias (or run pytest with --multidb-unmanaged=create) so the test "
    "database gets the unmanaged tables, or TEST['PROVISION'] = 'existing' if the alias is a real database tests "
    "only read."
)
#: A ConfigurationError as a check Error (multidb.E001-E003): its problem is the message, its fix the hint.
CHECK_ERROR = "{problem}."
CHECK_ERROR_HINT = "{fix}."

#: connections[alias] (or atomic(), ConnectionInfo) for an alias that is not configured.
UNKNOWN_ALIAS = (
    "The database alias {alias!r} is not configured. Known aliases: {known}. Add it to DATABASES or OTHER_DATABASES."
)
