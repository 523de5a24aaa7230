"""pytest-django's fixtures for Django's test tools (as in its ``fixtures.py``): ``settings``, ``client``, ``rf``,
``admin_user``, ``live_server``, ``mailoutbox``, ``django_assert_num_queries``, ... ``compat.pytest_django``
registers this module as part of its plugin.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ..messages import compat as texts
from .live_server import LiveServer

#: What ``django_assert_num_queries`` and ``django_assert_max_num_queries`` give a test.
AssertNumQueries = Callable[..., Any]


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


@pytest.fixture
def settings() -> Iterator[SettingsWrapper]:
    """Django settings for this test: ``settings.X = ...`` and ``del settings.X`` are undone after it
    (through ``override_settings``: ``setting_changed`` is sent both ways)."""
    wrapper = SettingsWrapper()
    yield wrapper
    wrapper.finalize()


@pytest.fixture
def django_isolated_apps(_multidb_django_isolate_apps: Any) -> Any:
    """The isolated app registry of a test marked ``@pytest.mark.django_isolate_apps(...)``."""
    return _multidb_django_isolate_apps


@pytest.fixture
def client() -> Any:
    """A Django test client (``django.test.Client``)."""
    from django.test import Client

    return Client()


@pytest.fixture
def async_client() -> Any:
    """A Django async test client (``django.test.AsyncClient``)."""
    from django.test import AsyncClient

    return AsyncClient()


@pytest.fixture
def rf() -> Any:
    """A Django ``RequestFactory``."""
    from django.test import RequestFactory

    return RequestFactory()


@pytest.fixture
def async_rf() -> Any:
    """A Django ``AsyncRequestFactory``."""
    from django.test import AsyncRequestFactory

    return AsyncRequestFactory()


@pytest.fixture
def django_user_model(db: None) -> Any:
    """The class of Django's user model (requires ``db``)."""
    from django.contrib.auth import get_user_model

    return get_user_model()


@pytest.fixture
def django_username_field(django_user_model: Any) -> str:
    """The name of the user model's username field."""
    return str(django_user_model.USERNAME_FIELD)


@pytest.fixture
def admin_user(db: None, django_user_model: Any, django_username_field: str) -> Any:
    """A superuser: the existing user "admin", else a new one with password "password" (requires ``db``)."""
    username = "admin@example.com" if django_username_field == "email" else "admin"
    try:
        return django_user_model._default_manager.get_by_natural_key(username)
    except django_user_model.DoesNotExist:
        data = {"password": "password", django_username_field: username}
        if "email" in django_user_model.REQUIRED_FIELDS:
            data["email"] = "admin@example.com"
        return django_user_model._default_manager.create_superuser(**data)


@pytest.fixture
def admin_client(db: None, admin_user: Any) -> Any:
    """A Django test client logged in as ``admin_user``."""
    from django.test import Client

    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A live Django server in a background thread, for the session (``live_server.url``).

    Address: ``--liveserver``, else ``DJANGO_LIVE_TEST_SERVER_ADDRESS``, else ``localhost`` (a free port). A
    test using it declares ``default`` (rolled back): the server's request threads use the test's own
    connections, so they see its uncommitted rows, and the test sees what they wrote.
    """
    address = request.config.getoption("liveserver") or os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = LiveServer(address)
    yield server
    server.stop()


@pytest.fixture
def mailoutbox(django_mail_patch_dns: None, _dj_autoclear_mailbox: None) -> list[Any]:
    """The e-mails Django sent during the test (the locmem backend's outbox, emptied before each test)."""
    from django.core import mail

    return mail.outbox if hasattr(mail, "outbox") else []


@pytest.fixture
def django_mail_patch_dns(monkeypatch: pytest.MonkeyPatch, django_mail_dnsname: str) -> None:
    """Use ``django_mail_dnsname`` as the host name in the e-mails' Message-IDs."""
    from django.core import mail

    monkeypatch.setattr(mail.message, "DNS_NAME", django_mail_dnsname)


@pytest.fixture
def django_mail_dnsname() -> str:
    """The host name used in e-mail Message-IDs during tests."""
    return "fake-tests.example.com"


@pytest.fixture
def django_assert_num_queries(pytestconfig: pytest.Config) -> AssertNumQueries:
    """``with django_assert_num_queries(3, using="a"): ...`` fails unless exactly 3 queries ran on that alias
    (default: ``default``; or ``connection=``). ``info=`` is added to the failure message."""
    return lambda num, connection=None, info=None, *, using=None: assert_num_queries(
        pytestconfig, num, True, connection, info, using=using)


@pytest.fixture
def django_assert_max_num_queries(pytestconfig: pytest.Config) -> AssertNumQueries:
    """``with django_assert_max_num_queries(3, using="a"): ...`` fails if more than 3 queries ran."""
    return lambda num, connection=None, info=None, *, using=None: assert_num_queries(
        pytestconfig, num, False, connection, info, using=using)


@pytest.fixture
def django_capture_on_commit_callbacks() -> Callable[..., Any]:
    """``with django_capture_on_commit_callbacks(using="default", execute=False) as callbacks: ...``: the
    ``transaction.on_commit`` callbacks registered in the block (Django's ``TestCase.captureOnCommitCallbacks``)."""
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks


@contextmanager
def assert_num_queries(config: pytest.Config, num: int, exact: bool = True, connection: Any = None,
                       info: str | None = None, *, using: str | None = None) -> Iterator[Any]:
    """pytest-django's ``django_assert_num_queries`` / ``django_assert_max_num_queries`` context manager."""
    from django.db import connection as default_connection
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    if connection is not None and using is not None:
        raise ValueError(texts.CONNECTION_AND_USING)
    conn = connection if connection is not None else connections[using] if using is not None else default_connection
    with CaptureQueriesContext(conn) as context:
        yield context
        done = len(context)
        if (num != done) if exact else (done > num):
            message = texts.NUM_QUERIES.format(num=num, or_less="" if exact else texts.OR_LESS, done=done,
                                               verb="was" if done == 1 else "were")
            if info:
                message += f"\n{info}"
            if config.getoption("verbose") > 0:
                message += texts.QUERIES.format(queries="\n\n".join(q["sql"] for q in context.captured_queries))
            else:
                message += texts.SHOW_QUERIES
            pytest.fail(message)
