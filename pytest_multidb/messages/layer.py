"""Messages of the multi-database layer the tests and the project's code use: ``atomic()`` across connections
(``transaction``, ``two_phase``), read-only ``existing`` aliases (``readonly``), undeclared database access
(``guard``), the schema builder (``schema``), ``multidb_migrate`` (``migrate_all``) and ``factories``.
"""

#: A write the database of a TEST['PROVISION'] = 'existing' alias refused (its error, or ``REFUSED_DDL``).
WRITE_REFUSED = (
    "alias {alias!r} is TEST['PROVISION'] = 'existing': its database is read-only in tests and refused a write "
    "({said}). Fix: write to a test database alias, or give {alias!r} another TEST['PROVISION'] kind."
)
#: A DDL statement on MariaDB/MySQL that would commit the test's transaction (refused before it runs).
REFUSED_DDL = "{statement!r}, which would {why}"
#: A test (``who``: the test, and how it would commit) that would commit on an existing alias.
COMMIT_REFUSED = (
    "{who} on {alias!r}, which is TEST['PROVISION'] = 'existing': its real database, read-only in tests. Fix: keep "
    "{alias!r} in rollback mode, or write to a test database alias."
)
#: A statement that would end the test's transaction or lift the read-only mode, refused before it runs.
STATEMENT_REFUSED = (
    "alias {alias!r} is TEST['PROVISION'] = 'existing': its database is read-only in tests and refused "
    "{statement!r}, which would {why}. Fix: leave the transaction and the read-only mode of {alias!r} as they are, "
    "and write to a test database alias."
)
#: Why a statement is refused (the ``why`` of STATEMENT_REFUSED and REFUSED_DDL).
WOULD_END_TRANSACTION = "end the test's read-only transaction"
WOULD_LIFT_READ_ONLY = "lift the read-only mode"
WOULD_COMMIT_IMPLICITLY = "commit the test's transaction before it: DDL commits implicitly on MariaDB/MySQL"
#: migrate or a schema editor on an existing alias (``how``: ``MIGRATE_REFUSED`` or ``SCHEMA_EDITOR_REFUSED``).
SCHEMA_REFUSED = (
    "alias {alias!r} is TEST['PROVISION'] = 'existing': its real database is read-only in tests and gets no schema; "
    "refused {how}. Fix: migrate a test database alias (only those have a schema installed), or give {alias!r} "
    "another TEST['PROVISION'] kind."
)
MIGRATE_REFUSED = "migrate (database={alias!r})"
SCHEMA_EDITOR_REFUSED = "a schema editor (connection.schema_editor())"

#: A Django test class touched an alias its ``databases`` does not list.
UNDECLARED_BY_CLASS = (
    "{test} touched database alias {alias!r}, which its class does not declare (databases = {{{declared}}}). "
    "Fix: add {alias!r} to {test_class}.databases."
)
#: The ``declared`` of UNDECLARED_BY_CLASS when the class lists no alias.
NOTHING_DECLARED = "nothing"
#: The ``who`` of the next two: database access outside any test.
OUTSIDE_A_TEST = "code outside a test (a conftest, a module imported at collection, a session fixture)"
#: A test (or code outside one) touched an alias without declaring any.
UNDECLARED_ANY = (
    "{who} touched database alias {alias!r} without declaring any database. Add @pytest.mark.uses_db({wanted}) to "
    "the test, or call uses_db({alias!r}) in a fixture it uses."
)
#: A test touched an alias it did not declare (it declared others).
UNDECLARED = (
    "{who} touched database alias {alias!r}, which it did not declare (declared: {declared}). "
    "Use @pytest.mark.uses_db({wanted})."
)

#: atomic() without two_phase: a commit failed after other aliases had committed.
PARTIAL_COMMIT = (
    "atomic(): partial commit. Committed: {committed}. Commit failed (rolled back): {failed!r} ({error}). Rolled "
    "back: {rolled_back}. The databases now disagree: {committed} kept the block's changes, the others did not; "
    "repair them by hand. Use atomic(..., two_phase=True) (PostgreSQL, MySQL/MariaDB) so that a failed commit cannot "
    "leave some databases committed and others not."
)
#: atomic(two_phase=True) left prepared transactions behind (``what``: IN_DOUBT_COMMITTING or ..._ROLLING_BACK;
#: ``steps``: RESOLVE_STEP per alias).
IN_DOUBT = (
    "atomic(two_phase=True): {what} failed on {aliases} ({error}). Their prepared transactions are left to resolve "
    "(they hold locks until then); run {steps}. Committed: {committed}."
)
IN_DOUBT_COMMITTING = "committing after every database prepared"
IN_DOUBT_ROLLING_BACK = "rolling back after a failed prepare"
RESOLVE_STEP = "on {alias!r}: {sql}"
#: atomic(two_phase=True) on a PostgreSQL server that has prepared transactions disabled.
NO_PREPARED_TRANSACTIONS = (
    "atomic(two_phase=True): alias {alias!r} is a PostgreSQL server with max_prepared_transactions = 0, which "
    "disables PREPARE TRANSACTION. Set max_prepared_transactions above 0 (e.g. to max_connections) in "
    "postgresql.conf or with ALTER SYSTEM, and restart the server."
)
#: atomic(two_phase=True) on a backend without two-phase commit (sqlite, ...).
NO_TWO_PHASE = (
    "atomic(two_phase=True): alias {alias!r} is {backend}, which has no two-phase commit. Keep {alias!r} out of "
    "two-phase blocks (name the others in connections=[...]) or use two_phase=False. Two-phase commit works on "
    "PostgreSQL and MySQL/MariaDB."
)

#: A foreign key the schema builder left out: its table is not installed yet, or lives on another alias.
CONSTRAINT_DEFERRED = (
    "alias {alias!r}: {column} has no foreign-key constraint yet: {target} has no table {table!r} there. Install it "
    "({target_name}.objects.schema.install() adds this constraint too), or once the table exists run "
    "{owner_name}.objects.schema.add_missing_constraints()."
)
CONSTRAINT_ACROSS_CONNECTIONS = (
    "alias {alias!r}: {column} has no foreign-key constraint: {target} lives on alias {target_alias!r}, and a "
    "database cannot enforce a reference into another one (multidb.W001). Put both models on one alias, or set "
    "db_constraint=False on the field if intended."
)

#: multidb_migrate --plan could not read an alias.
PLAN_FAILED = (
    "multidb_migrate --plan cannot read alias {alias!r} ({where}): {error}. Fix {alias!r} (its DATABASES entry or "
    "its server) and run it again."
)
#: multidb_migrate failed on an alias: the ones before it are migrated, the ones after it untouched.
MIGRATE_FAILED = (
    "multidb_migrate stopped at alias {alias!r} ({where}): {error}. Migrated before it: {done}; not attempted: "
    "{left}. Fix {alias!r} (its DATABASES entry, its server or the failing migration; --traceback shows where it "
    "failed) and run multidb_migrate again."
)

#: ``import pytest_multidb.factories`` without factory_boy.
FACTORY_BOY_MISSING = "pytest_multidb.factories needs factory_boy: pip install 'pytest-multidb[factories]'"
