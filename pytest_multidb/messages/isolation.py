"""Messages of a test's isolation: opening its aliases and undoing them after it (``isolation``), the test's
connections handed to its threads (``thread_sharing``) and the rows it left behind (``emptying``).

A step of the teardown that fails is reported as ``STEP_FAILED`` with one of the ``STEP_...`` descriptions.
"""

#: uses_db(alias, transaction=...) in a fixture after the alias was opened rolled back (by the marker).
COMMIT_AFTER_ROLLBACK = (
    "{test}: uses_db({alias!r}, transaction=...) asks {alias!r} to commit, but an earlier declaration (the test's "
    "marker, or a fixture set up before) opened it rolled back. Fix: ask for the commit where {alias!r} is first "
    "declared, e.g. @pytest.mark.uses_db({alias!r}, transaction=[{alias!r}])."
)
#: The ``who`` of ``layer.COMMIT_REFUSED`` for a test that asks an existing alias to commit.
TRANSACTION_TRUE = "{test}: transaction=True"

#: A step of the teardown failed (the test's line in the summary).
STEP_FAILED = "{test}: {step} failed: {error}"
#: The steps of the teardown, as STEP_FAILED names them.
STEP_END_ACCESS = "ending the test's database access"
STEP_CLOSE_THREAD_CONNECTIONS = "closing connections of the test's threads"
STEP_EMPTY = "emptying what the test committed on {alias!r}"
STEP_ROLL_BACK = "rolling back {alias!r}"
STEP_END_SHARING = "ending the sharing of {alias!r}"
STEP_CHECK_THREADS = "checking the test's threads"
STEP_CLOSE_CONNECTIONS = "closing the connections after a committing test"

#: A thread waited too long for the test's connection that another thread holds with an open cursor.
CURSOR_HELD = (
    "multidb: thread {thread!r} waited {timeout:.0f} s for the test's connection of alias {alias!r}, which thread "
    "{holder!r} holds with an open cursor. Fix: close the cursor (or finish iterating .iterator()) before another "
    "thread queries."
)
#: A thread the test started still has a connection of its own open after the test.
THREAD_HOLDS_CONNECTION = (
    "thread {thread!r} started by {test} still holds a database connection ({alias}) after the test; join it before "
    "the test ends"
)
#: An asgiref executor thread still busy with the test's work after the test.
EXECUTOR_BUSY = (
    "asgiref's executor thread {thread!r} was still busy {timeout:.0f} s after {test} ended, holding a database "
    "connection ({alias}); await every sync_to_async call before the test ends"
)
#: A thread the test started still uses the test's (shared) connection after the test.
THREAD_HOLDS_TEST_CONNECTION = (
    "thread {thread!r} started by {test} still holds the test's database connection ({aliases}) after the test; "
    "join it before the test ends"
)

#: How an alias's database differs from its baseline (tables, or rows), after a test.
TABLES_CHANGED = "tables were added or dropped since its schema was installed ({tables})"
ROWS_CHANGED = "rows were left in or changed in {tables}"
SCHEMA_CHANGED = "columns, views, indexes or triggers were added, dropped or altered since its schema was installed"
VIEWS_CHANGED = "materialized views were refreshed since its schema was installed ({views})"
