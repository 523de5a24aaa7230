"""The run's messages: declarations, aliases, the session's databases, the fixtures, warm databases, the cache."""

# -- declarations and aliases (run.py, aliases.py) --------------------------------------------------------------

#: A test declares an alias that is not configured (``where``: the marker, or the declaration's source).
UNKNOWN_DECLARED_ALIAS = (
    "{nodeid}: {where} names unknown database alias {alias!r}; known aliases: {known}. Fix: {did_you_mean}use one "
    "of them{in_source}, or add the alias to DATABASES or OTHER_DATABASES."
)
#: ``uses_db(transaction=[...])`` names an alias the marker does not declare.
UNDECLARED_COMMITTING_ALIAS = (
    "{nodeid}: uses_db(transaction=[...]) names {alias!r}, which the marker does not declare. Fix: add {alias!r} "
    "to the marker's aliases."
)
#: A line of ours, as pytest shows it (a usage error, a failed test).
PREFIXED = "multidb: {line}"
#: Several usage errors of the collected tests, one per line.
PREFIXED_LINES = "multidb:\n{lines}"
#: Who commits on a read-only (``existing``) alias (the refusal: ``readonly.commit_refused_message``).
TEST_CLASS_COMMITS = "{nodeid}: {cls} (a TransactionTestCase) commits"
TEST_COMMITS = "{nodeid}: commits (transaction=)"
USES_DB_COMMITS = "{nodeid}: uses_db({alias!r}, transaction=...) commits"
#: ``--multidb-provision`` entries.
PROVISION_ENTRY_MALFORMED = "multidb: --multidb-provision {entry!r}: expected ALIAS=KIND, e.g. b=process"
PROVISION_ENTRY_UNKNOWN_ALIAS = (
    "multidb: --multidb-provision {entry!r}: there is no database alias {alias!r} (known: {known}). Fix: use one "
    "of them, or add the alias to DATABASES or OTHER_DATABASES."
)
#: Header notes: settings Django takes that mean something else here.
NOTE_SQLITE_TEST_NAME = (
    "alias {alias!r}: TEST['NAME'] = {test_name!r} is not where its test database goes (a file of ours under "
    "pytest's temp dir); it still decides which aliases share one, as in Django"
)
NOTE_EMPTY_NAME = (
    "alias {alias!r}: NAME is empty: its test database is named test__<run>, and code that opens the real "
    "database fails. Fix: set the database's name in {setting}[{alias!r}]['NAME']"
)

# -- the session's databases (session.py, alias_state.py) -------------------------------------------------------

LEFTOVER_REMOVED = "multidb: removed leftover {what}"
LEFTOVER_NOT_REMOVED = "multidb: could not remove leftover {what}"
NOT_REMOVED = "multidb: could not remove the test database of {alias!r}: {error}"
NOT_KEPT_WARM = "multidb: the test database of {alias!r} is not kept warm: {why}"
#: Why a test database is not kept warm.
NOT_CHECKED = "it cannot be checked ({error})"
SERVER_STOPPED = "its server stopped answering"
NO_SNAPSHOT = "no snapshot of its install was taken"
#: A server stopped answering: every later test of the alias fails with this line.
SERVER_GONE = (
    "alias {alias!r}: its database server ({kind}, {where}) stopped answering ({reason}); {look}. Every later "
    "test that uses {alias!r} fails with this line."
)
#: A schema install (a migration, the schema builder) failed: the run stops (a ``ProvisionError``).
SCHEMA_SETTING = "its migrations and models"
SCHEMA_NOT_INSTALLED = "its schema could not be installed in its test database ({error})"
SCHEMA_NOT_INSTALLED_FIX = (
    "correct the failing migration or model (`manage.py migrate --database {alias}` on a scratch database shows "
    "where it fails)"
)
LOOK_AT_LOG = "see its log {log}"
LOOK_AT_CONTAINER = "see `docker logs {container}`"
LOOK_AT_SERVER = "check that the server runs"

# -- the fixtures (plugin_fixtures.py, fixtures.py) -------------------------------------------------------------

UNKNOWN_OPENED_ALIAS = (
    "multidb: {nodeid}: unknown database alias {alias!r}; known aliases: {known}. Fix: {did_you_mean}use one of "
    "them or add it to DATABASES/OTHER_DATABASES."
)
#: A test fails with a line said elsewhere (a server gone).
TEST_FAILED = "multidb: {nodeid}: {line}"
SWAP_TO_EXISTING_WITHOUT_TABLE = (
    "multidb: swap_db({model}, {alias!r}): {alias!r} is TEST['PROVISION'] = 'existing' and has no table "
    "{table!r}; nothing is created in its real database. Fix: swap to an alias that has the table, or to a test "
    "database alias."
)
#: Teardown steps (a failed one is reported with this description).
UNDO_SWAP = "undoing the swap of {model} to {alias!r}"
DROP_TEST_TABLE = "dropping the table of {model} made on {alias!r} for the test"

# -- warm databases and the schema cache (warm.py, schema_cache.py) ---------------------------------------------

CLAIM_WARM = "claim warm test database {name!r}"
WARM_NOT_OURS = "test database {name!r} is no longer this run's: not kept warm"
NOT_STAMPED = (
    "test database {name!r} of alias {alias!r} is not stamped by pytest-multidb: not replacing it with the cached "
    "schema"
)
