"""Messages of provisioning: choosing a kind (``base``), the configured server (``server``), a server process
(``server_process``, ``process``), a container (``container``), an ``existing`` database (``existing``), the
records of what a run made (``registry``, ``owner``) and the servers of all xdist workers (``xdist``).

A ``ProvisionError`` is ``PROVISION_ERROR`` filled with a setting, a problem and a fix: each problem below is
followed by its fix (``..._FIX``). A leftover's removal returns a note (``ALREADY_GONE``, ``NOT_OURS``, ...) that
completes its report line.
"""

#: Every ProvisionError: the alias, the setting to change, what went wrong and the fix.
PROVISION_ERROR = "alias {alias!r} ({setting}): {problem}. Fix: {fix}."

# -- the kind of an alias (base.py) -----------------------------------------------------------------------------

#: The settings that choose a kind.
KIND_SETTING = "TEST['PROVISION'] / --multidb-provision"
PROVISION_SETTING = "TEST['PROVISION'] = {kind!r}"
#: A kind that no provisioner has.
UNKNOWN_KIND = "unknown kind {kind!r}"
UNKNOWN_KIND_FIX = "use one of {kinds}"
#: 'sqlite' for a server engine, or a server kind for sqlite.
KIND_DOES_NOT_FIT = "kind {kind!r} does not fit engine {engine!r}"
KIND_DOES_NOT_FIT_FIX = "use 'sqlite' for sqlite aliases and 'server', 'process' or 'container' for server engines"
#: A process or container kind for an engine it has no server for.
KIND_CANNOT_RUN_ENGINE = "kind {kind!r} cannot run engine {engine!r}"
KIND_CANNOT_RUN_ENGINE_FIX = "use it for {vendors} aliases, or choose another kind"

# -- the configured server (server.py) --------------------------------------------------------------------------

#: The engine's backend cannot be loaded (its driver is missing).
BACKEND_NOT_LOADED = "cannot load the backend ({driver} missing?): {error}"
OTHER_DRIVER = "the driver for {engine}"
OTHER_DRIVER_FIX = "install the database driver"
#: No connection to the server could be made (the reason a record is kept, or a ProvisionError's cause).
SERVER_UNREACHABLE = "server unreachable at {where}: {error}"
#: The server cannot be reached while we ``what`` (``CREATE_TEST_DATABASE``).
CANNOT_REACH = "cannot {what} on {where}: {error}"
CANNOT_REACH_FIX = (
    "start the server or fix the connection settings, or choose --multidb-provision {alias}=process|container"
)
CREATE_TEST_DATABASE = "create test database {name!r}"
#: TEST['NAME'] names a database that exists and is not this run's.
TEST_DATABASE_EXISTS = (
    "test database {name!r} already exists on {where} and was not made by this run, so it is left alone"
)
TEST_DATABASE_EXISTS_FIX = (
    "drop it yourself if nobody needs it, choose another TEST['NAME'], or remove TEST['NAME'] to get a unique name "
    "per run"
)
#: CREATE DATABASE failed (privileges, ...).
CANNOT_CREATE = "cannot create test database {name!r} on {where}: {error}"
CANNOT_CREATE_FIX = "check that the user may create databases, or fix the connection settings"
#: The test database's name is the name of a configured (real) database.
NAME_CLASH = "test database name {name!r} is the name of a configured database"
NAME_CLASH_FIX = "give TEST['NAME'] a name that no alias uses, or remove it"
#: This run's test database carries another stamp at the end of the session: it is not dropped.
NO_LONGER_THIS_RUNS = "test database {name!r} is no longer this run's: {note}"

# -- a server process (server_process.py) -----------------------------------------------------------------------

PROCESS_SETTING = "--multidb-provision / TEST['PROVISION'] = 'process'"
#: A binary of the server (initdb, postgres, mariadbd, ...) is on no searched path.
BINARY_NOT_FOUND = "{name} not found (searched {where})"
BINARY_NOT_FOUND_FIX = (
    "apt-get install {package} (or your system's {label} server package), set {bindir_env} to the directory holding "
    "{name}, or choose another kind (server, container)"
)
#: As root, with no unprivileged user to run the server as.
NO_SYSTEM_USER = "running as root, and no user ({users}, nobody) exists to run {label} as"
NO_SYSTEM_USER_FIX = "create one (useradd --system {user}) or run pytest as a normal user"
#: The server did not start: ``SERVER_FAILED`` with one of the problems below and the end of its log.
SERVER_FAILED = "{label}: {problem}; the end of {log}:\n{tail}\n"
SERVER_FAILED_FIX = "see the server log above; or choose another kind for {alias!r} (server, container)"
NO_FREE_PORT = "could not get a free port in {attempts} attempts"
INIT_TIMED_OUT = "{name} did not finish within {timeout:.0f} s"
INIT_FAILED = "{name} failed (exit code {code})"
SERVER_EXITED = "the server exited (code {code}) while starting"
SERVER_NOT_READY = "the server was not ready within {timeout:.0f} s"

# -- a container (container.py) ---------------------------------------------------------------------------------

#: testcontainers (or the docker package) is missing.
CONTAINERS_EXTRA_FIX = "pip install 'pytest-multidb[containers]'"
TESTCONTAINERS_MISSING = "testcontainers is not installed"
DOCKER_PACKAGE_MISSING = "the docker package is not installed: {fix}"
#: The image cannot be found or pulled.
IMAGE_NOT_AVAILABLE = "image {image!r} is not available ({error})"
IMAGE_NOT_AVAILABLE_FIX = "pull or build it, or set TEST['IMAGE'] to an image you have"
#: No Docker engine answers.
NO_DOCKER_ENGINE = "no Docker engine at {where} ({error})"
NO_DOCKER_ENGINE_FIX = "start Docker (dockerd) or point DOCKER_HOST at a running engine, or choose another kind"
#: The container was created but did not start.
CONTAINER_DID_NOT_START = "container from {image!r} did not start: {error}"
CONTAINER_DID_NOT_START_FIX = "check the image and `docker logs`, or choose another kind"
#: A leftover container's engine cannot be reached: its record is kept.
DOCKER_UNREACHABLE = "Docker engine unreachable at {where}: {error}"

# -- an existing database (existing.py) -------------------------------------------------------------------------

#: The configured database of an ``existing`` server alias does not exist.
EXISTING_NAME_SETTING = "{setting}[{alias!r}]['NAME'] with TEST['PROVISION'] = {kind!r}"
EXISTING_DATABASE_MISSING = (
    "the database {name!r} does not exist on the {vendor} server {place} (an existing alias reads its configured "
    "database; nothing is created)"
)
EXISTING_DATABASE_MISSING_FIX = (
    "point NAME at the database the tests should read, create it there, or choose another TEST['PROVISION'] kind "
    "(e.g. 'server': a test database made for the run)"
)
#: The server of an ``existing`` alias does not answer.
EXISTING_CONNECTION_SETTING = "HOST/PORT/USER/PASSWORD with TEST['PROVISION'] = {kind!r}"
EXISTING_UNREACHABLE = "cannot connect to its configured database {name!r} on {place}: {error}"
EXISTING_UNREACHABLE_FIX = "start the server or fix the connection settings"
#: An ``existing`` sqlite alias whose NAME is no file.
EXISTING_FILE_SETTING = "NAME with TEST['PROVISION'] = {kind!r}"
NO_SQLITE_FILE = "no sqlite database file {name!r}"
NO_SQLITE_FILE_FIX = "point NAME at the existing database file, or choose another TEST['PROVISION']"
#: The header line of each ``existing`` alias: may its configured USER write?
EXISTING_SQLITE_READ_ONLY = (
    "multidb: existing alias {alias!r}: its sqlite file is opened read-only (mode=ro); no statement can write to it"
)
EXISTING_PRIVILEGES_UNKNOWN = (
    "multidb: existing alias {alias!r}: cannot tell whether USER {user!r} may write (no connection now); read-only "
    "only by its session and transactions"
)
EXISTING_NO_WRITE_PRIVILEGE = (
    "multidb: existing alias {alias!r}: USER {user!r} has no write privilege on it; read-only by its role, its "
    "session and its transactions"
)
EXISTING_MAY_WRITE = (
    "multidb: existing alias {alias!r}: USER {user!r} may write ({privileges}); tests are read-only by their session "
    "and transactions only. Fix: connect it as a role with SELECT only (the real guarantee)"
)
#: The USER of those lines when none is configured.
DEFAULT_USER = "(the default user)"

# -- records and leftovers (registry.py, owner.py, and each kind's remove_record) -------------------------------

#: What a record names, in the "removed leftover ..." lines.
RECORD_OF_ALIAS = "{what} of alias {alias!r}, left by pid {pid}"
DATABASE_RECORD = "database {name!r} ({engine} {host}:{port})"
PROCESS_RECORD = "server process {pid} ({directory})"
NOT_STARTED = "(not started)"
CONTAINER_RECORD = "container {id}"
CONTAINER_BEING_STARTED = "container labelled {label}={token} (being started)"
#: Why a record is forgotten without touching anything.
ALREADY_GONE = "already gone"
NEVER_MADE = "never made"
NOT_OURS = "not ours: left alone ({why})"
DATABASE_NOT_STAMPED = "it has no stamp"
DATABASE_STAMPED = "it is stamped {stamp!r}"
DIRECTORY_NOT_STAMPED = "no stamp in {root}"
DIRECTORY_STAMPED_BY_ANOTHER_RUN = "another run stamped it in {root}"
PID_REUSED = "pid {pid} is another process now: left alone; directory {left}"
#: A record file that cannot be used (the first is retried next run, the others removed).
RECORD_CANNOT_BE_READ = "cannot be read: {error}"
RECORD_EMPTY = "empty"
RECORD_NOT_JSON = "not JSON ({size} bytes)"
NOT_A_RECORD = "not a record of pytest-multidb"
RECORD_PROBLEM = "record {path}: {problem}"
UNREADABLE_RECORD = "unreadable record {path} ({problem}); nothing else touched"
RECORD_OF_OTHER_VERSION = (
    "record of {what}: written by another version of pytest-multidb, which cannot prove what it made: left alone"
)
RECORD_FORGOTTEN = "record of {what}: {note}"
#: A removal that failed: its record is kept.
RETRIED_NEXT_RUN = "{what} ({error}; retried next run)"
#: A stamp asked for a token that is not one of ours (stamps are inlined in SQL).
NOT_A_RUN_TOKEN = "not a run token: {token!r}"
#: A leftover server process that does not die.
KILL_TIMED_OUT = "process {pid} did not exit within {timeout:.0f} s of SIGKILL"

# -- the servers of all xdist workers (xdist.py) ----------------------------------------------------------------

#: A server process or container started for every worker, in the controller's summary lines.
XDIST_SERVER = "shared {type} of alias {alias!r}"
XDIST_SERVER_NOT_STOPPED = "{what}: {error_type}: {error}"
