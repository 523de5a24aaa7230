"""The objects behind pytest-django's fixtures when pytest-multidb serves them (``compat/pytest_django.py``).

No fixtures here (they all live in ``compat/pytest_django.py``): the blocker mapped onto our access guard, the
``settings`` wrapper, the live server, the query-count assertion, and the bootstrap pieces (settings module,
``manage.py`` discovery, django-configurations).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..run import MultiDB

SETTINGS_MODULE_ENV = "DJANGO_SETTINGS_MODULE"
CONFIGURATION_ENV = "DJANGO_CONFIGURATION"

# -- bootstrap: which settings module, manage.py discovery, django-configurations ----------------------------

_BOOTSTRAP_KEY = pytest.StashKey[dict[str, Any]]()


def _bootstrap(config: pytest.Config) -> dict[str, Any]:
    return config.stash.setdefault(_BOOTSTRAP_KEY, {})


def find_project(config: pytest.Config) -> str:
    """pytest-django's ``django_find_project``: the first directory holding ``manage.py`` among the path
    arguments, their parents, the current directory and its parents goes first on ``sys.path`` (once).
    Returns what was done, for messages."""
    done = _bootstrap(config)
    if "project" in done:
        return done["project"]
    value = config.getini("django_find_project")
    if not _boolean(value, "django_find_project"):
        done["project"] = "django_find_project = false: no manage.py search"
        return done["project"]
    args = [str(a).split("::", 1)[0] for a in config.invocation_params.args if not str(a).startswith("-")]
    cwd = Path.cwd()
    paths = [Path(a) for a in args]
    if cwd not in paths:
        paths.append(cwd)
    for path in paths:
        for candidate in (path, *path.parents):
            try:
                found = candidate.is_dir() and (candidate / "manage.py").exists()
            except OSError:
                found = False
            if found:
                sys.path.insert(0, str(candidate.absolute()))
                done["project"] = f"found a Django project in {candidate} (manage.py) and put it on sys.path"
                return done["project"]
    done["project"] = "no manage.py found"
    return done["project"]


def _boolean(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise pytest.UsageError(f"multidb: ini option {name} = {value!r}: expected true or false")


def settings_source(config: pytest.Config) -> tuple[str, str] | None:
    """Where the Django settings module comes from, pytest-django's sources included. First found wins:
    ``--multidb-settings`` > ``--ds`` > ini ``multidb_settings`` > env ``DJANGO_SETTINGS_MODULE`` > ini
    ``DJANGO_SETTINGS_MODULE``. Also runs the ``manage.py`` discovery (``django_find_project``) and, with a
    configuration (``--dc`` > env ``DJANGO_CONFIGURATION`` > ini ``DJANGO_CONFIGURATION``), installs
    django-configurations' importer."""
    options = config.known_args_namespace
    find_project(config)
    found = next(
        (
            (source, value)
            for source, value in (
                ("--multidb-settings", getattr(options, "multidb_settings", None)),
                ("--ds", getattr(options, "ds", None)),
                ("ini option multidb_settings", config.getini("multidb_settings")),
                (SETTINGS_MODULE_ENV, os.environ.get(SETTINGS_MODULE_ENV)),
                (f"ini option {SETTINGS_MODULE_ENV}", config.getini(SETTINGS_MODULE_ENV)),
            )
            if value
        ),
        None,
    )
    done = _bootstrap(config)
    done["settings"] = found
    if found is not None:
        configure_class(config)
    return found


def configuration_source(config: pytest.Config) -> tuple[str, str] | None:
    """The django-configurations class: ``--dc`` > env ``DJANGO_CONFIGURATION`` > ini ``DJANGO_CONFIGURATION``."""
    for source, value in (
        ("--dc", getattr(config.known_args_namespace, "dc", None)),
        (CONFIGURATION_ENV, os.environ.get(CONFIGURATION_ENV)),
        (f"ini option {CONFIGURATION_ENV}", config.getini(CONFIGURATION_ENV)),
    ):
        if value:
            return source, value
    return None


def configure_class(config: pytest.Config) -> None:
    """With a configuration class: set ``DJANGO_CONFIGURATION`` and install django-configurations' importer
    (once), as pytest-django does; a usage error naming the fix when the package is missing."""
    done = _bootstrap(config)
    found = configuration_source(config)
    if found is None or "configuration" in done:
        return
    source, value = found
    os.environ[CONFIGURATION_ENV] = value
    try:
        import configurations.importer
    except ImportError as error:
        raise pytest.UsageError(
            f"multidb: the Django configuration {value!r} (from {source}) needs django-configurations, which "
            f"cannot be imported ({error}). Fix: pip install django-configurations, or drop {source}."
        ) from error
    configurations.importer.install()
    done["configuration"] = found


def bootstrap_lines(config: pytest.Config) -> list[str]:
    """What the bootstrap used: settings module, configuration, manage.py discovery (for the header)."""
    done = config.stash.get(_BOOTSTRAP_KEY, {})
    lines = []
    if done.get("settings"):
        source, module = done["settings"]
        lines.append(f"Django settings {module} (from {source})")
    if done.get("configuration"):
        source, value = done["configuration"]
        lines.append(f"django-configurations class {value} (from {source})")
    if done.get("project", "").startswith("found"):
        lines.append(done["project"])
    return lines


# -- django_db_blocker ------------------------------------------------------------------------------------


class _Restore:
    """What ``unblock()`` / ``block()`` return: usable as a context manager, which restores on exit."""

    def __init__(self, blocker: DjangoDbBlocker) -> None:
        self._blocker = blocker

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._blocker.restore()


class DjangoDbBlocker:
    """pytest-django's ``django_db_blocker``, mapped onto pytest-multidb's access guard.

    ``unblock()`` lets the code that follows use every alias provisioned so far (the test databases; an
    alias not provisioned stays blocked: it still points at a configured database); ``block()`` blocks every
    alias; ``restore()`` undoes the last of them. Both are context managers too.
    """

    def __init__(self, run: MultiDB) -> None:
        self._run = run
        self._history: list[frozenset[str]] = []

    def _push(self, allowed: frozenset[str]) -> _Restore:
        guard = self._run.guard
        self._history.append(guard.allowed)
        guard.allowed = allowed
        return _Restore(self)

    def unblock(self) -> _Restore:
        """Allow database access: every alias provisioned so far."""
        session = self._run.session
        return self._push(self._run.guard.allowed | frozenset(session.provisioned if session else ()))

    def block(self) -> _Restore:
        """Block every database alias."""
        return self._push(frozenset())

    def restore(self) -> None:
        """Undo the last ``block()`` or ``unblock()``."""
        self._run.guard.allowed = self._history.pop()

    @property
    def is_active(self) -> bool:
        """Whether a ``block()`` or ``unblock()`` is in effect."""
        return bool(self._history)


# -- settings ---------------------------------------------------------------------------------------------


class SettingsWrapper:
    """pytest-django's ``settings`` fixture object: set, delete and read Django settings for one test.

    Every change goes through ``override_settings`` (so ``setting_changed`` is sent) and is undone, in
    reverse order, after the test.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_to_restore", [])

    def __setattr__(self, name: str, value: Any) -> None:
        from django.test import override_settings

        override = override_settings(**{name: value})
        override.enable()
        self._to_restore.append(override)

    def __delattr__(self, name: str) -> None:
        from django.conf import settings
        from django.test import override_settings

        override = override_settings()
        override.enable()
        delattr(settings, name)
        self._to_restore.append(override)

    def __getattr__(self, name: str) -> Any:
        from django.conf import settings

        return getattr(settings, name)

    def finalize(self) -> None:
        for override in reversed(self._to_restore):
            override.disable()
        del self._to_restore[:]


# -- live_server ------------------------------------------------------------------------------------------


def _one_request_per_connection(handler: type) -> type:
    """``handler`` serving one request per connection. A browser keeps its connections alive between page loads:
    the request thread would wait in it (having used the test's database connection) until the browser lets
    go, long after the test. Closing the connection after the response is what HTTP allows a server at any time;
    the browser opens a new one for its next request."""

    class OneRequestPerConnection(handler):  # type: ignore[misc, valid-type]
        def parse_request(self) -> bool:  # a request line has arrived: its thread is serving a request now
            self.server.serving.add(threading.current_thread())
            return super().parse_request()

        def handle_one_request(self) -> None:
            super().handle_one_request()
            self.close_connection = True

    return OneRequestPerConnection


def _server_class() -> type:
    from django.core.servers.basehttp import ThreadedWSGIServer

    class TrackedWSGIServer(ThreadedWSGIServer):
        """Django's threaded test server, keeping its request threads so each test can wait for them: a
        request thread uses the test's connection (shared, see ``isolation.SharedConnections``)."""

        def __init__(self, server_address: Any, handler: type, *args: Any, **kwargs: Any) -> None:
            super().__init__(server_address, _one_request_per_connection(handler), *args, **kwargs)
            #: Each connection's thread and socket; the threads that got a request on theirs.
            self.request_threads: dict[threading.Thread, Any] = {}
            self.serving: set[threading.Thread] = set()

        def process_request(self, request: Any, client_address: Any) -> None:
            thread = threading.Thread(target=self.process_request_thread, args=(request, client_address),
                                      daemon=True, name=f"live_server request {client_address}")
            for ended in [t for t in self.request_threads if not t.is_alive()]:
                del self.request_threads[ended]
                self.serving.discard(ended)
            self.request_threads[thread] = request
            thread.start()

    return TrackedWSGIServer


class LiveServer:
    """pytest-django's ``live_server`` object: ``.url``, ``str()``, ``live_server + "/path"``, ``.thread``."""

    def __init__(self, addr: str) -> None:
        from django.conf import settings
        from django.test.testcases import LiveServerThread
        from django.test.utils import modify_settings

        kwargs: dict[str, Any] = {}
        if not getattr(settings, "STATIC_URL", None):  # nothing to serve (Django's handler would fail on it)
            kwargs["static_handler"] = lambda handler: handler
        elif "django.contrib.staticfiles" in settings.INSTALLED_APPS:
            from django.contrib.staticfiles.handlers import StaticFilesHandler

            kwargs["static_handler"] = StaticFilesHandler
        else:
            from django.test.testcases import _StaticFilesHandler

            kwargs["static_handler"] = _StaticFilesHandler
        host, _, port = addr.partition(":")
        if port:
            kwargs["port"] = int(port)
        thread_class = type("MultiDBLiveServerThread", (LiveServerThread,), {"server_class": _server_class()})
        self.thread = thread_class(host, **kwargs)
        self.thread.daemon = True
        self.modified_settings = modify_settings(ALLOWED_HOSTS={"append": host})
        self.thread.start()
        self.thread.is_ready.wait()
        if self.thread.error:
            error = self.thread.error
            self.stop()
            raise error

    def wait_for_requests(self, timeout: float = 10) -> None:
        """Wait until the requests being served are done (they use the test's connections), the ones that arrive
        meanwhile too (a browser's late favicon request); close the connections no request came on (a browser
        opens some ahead of need), whose threads would wait on them."""
        server = getattr(self.thread, "httpd", None)
        threads = getattr(server, "request_threads", {})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = [thread for thread in list(threads) if thread.is_alive()]
            if not alive:
                return
            for thread in alive:
                if thread not in server.serving:
                    with suppress(OSError):
                        threads[thread].shutdown(socket.SHUT_RDWR)
            alive[0].join(min(0.1, max(0.0, deadline - time.monotonic())))

    def stop(self) -> None:
        self.thread.terminate()

    @property
    def url(self) -> str:
        return f"http://{self.thread.host}:{self.thread.port}"

    def __str__(self) -> str:
        return self.url

    def __add__(self, other: str) -> str:
        return f"{self}{other}"

    def __repr__(self) -> str:
        return f"<LiveServer listening at {self.url}>"


# -- django_assert_num_queries ----------------------------------------------------------------------------


@contextmanager
def assert_num_queries(config: pytest.Config, num: int, exact: bool = True, connection: Any = None,
                       info: str | None = None, *, using: str | None = None) -> Iterator[Any]:
    """pytest-django's ``django_assert_num_queries`` / ``django_assert_max_num_queries`` context manager."""
    from django.db import connection as default_connection
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    if connection is not None and using is not None:
        raise ValueError('The "connection" and "using" parameter cannot be used together')
    conn = connection if connection is not None else connections[using] if using is not None else default_connection
    with CaptureQueriesContext(conn) as context:
        yield context
        done = len(context)
        if (num != done) if exact else (done > num):
            message = f"Expected to perform {num} queries {'' if exact else 'or less '}"
            message += f"but {done} {'was' if done == 1 else 'were'} done"
            if info:
                message += f"\n{info}"
            if config.getoption("verbose") > 0:
                message += "\n\nQueries:\n========\n\n" + "\n\n".join(q["sql"] for q in context.captured_queries)
            else:
                message += " (add -v option to show queries)"
            pytest.fail(message)


AssertNumQueries = Callable[..., Any]
