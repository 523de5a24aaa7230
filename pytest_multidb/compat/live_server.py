"""pytest-django's ``live_server`` object: Django's ``LiveServerThread``, whose request threads each test waits for
(they use the test's own connections)."""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress
from typing import Any


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
        request thread uses the test's connection (thread sharing, see ``thread_sharing.ThreadSharingStorage``)."""

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
