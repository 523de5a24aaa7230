"""pytest-django's vocabulary without pytest-django: one pytest-django-style suite
passes through pytest-multidb (``-p no:django``) on sqlite, PostgreSQL and MariaDB aliases, and unchanged through
pytest-django (``-p no:multidb``); every marker argument, fixture, option and ini key of docs/pytest-django.md is
exercised here."""

from __future__ import annotations

import pytest

INI = """
[pytest]
DJANGO_SETTINGS_MODULE = suite_settings
addopts = --reuse-db --strict-markers
"""

SETTINGS = '''
from sample_models.settings import *  # noqa: F403

STATIC_URL = "static/"  # the live server serves static files
'''

URLS = '''
from django.contrib.auth.models import User
from django.http import HttpResponse, JsonResponse
from django.urls import path


def users(request):
    return JsonResponse({"users": list(User.objects.order_by("username").values_list("username", flat=True))})


def whoami(request):
    return HttpResponse(request.user.username)


def hello(request):
    return HttpResponse("hello")


urlpatterns = [path("users/", users), path("whoami/", whoami), path("hello/", hello)]
'''

CONFTEST = '''
import pytest
from django.contrib.auth.models import Group

CALLS = []


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    CALLS.append("modify_db_settings")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    CALLS.append("django_db_setup")
    with django_db_blocker.unblock():
        Group.objects.create(name="from-setup")
'''

# Module pytestmark, the closest marker winning, every argument of the marker.
MARKED = '''
import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import connections, transaction
from inner_helpers import SERVER, add, count
from sample_models.artists.models import Artist

pytestmark = pytest.mark.django_db(databases=["default", "a", SERVER])

REFUSED = (AssertionError, RuntimeError)  # Django's DatabaseOperationForbidden / our DatabaseAccessError


def test_01_setup_data_and_every_alias():
    assert Group.objects.filter(name="from-setup").exists()   # the conftest's django_db_setup override
    User.objects.create(username="u")
    Artist.objects.create(name="x")
    add(SERVER, "w1")
    assert (User.objects.count(), Artist.objects.count(), count(SERVER)) == (1, 1, 1)


def test_02_rolled_back():
    assert (User.objects.count(), Artist.objects.count(), count(SERVER)) == (0, 0, 0)


@pytest.mark.django_db
def test_03_the_closest_marker_wins():
    User.objects.count()
    with pytest.raises(REFUSED):
        Artist.objects.count()


@pytest.mark.django_db(databases=["a"])
def test_04_db_fixture_follows_the_marker(db):
    Artist.objects.create(name="only a")
    with pytest.raises(REFUSED):
        User.objects.count()


@pytest.mark.django_db(databases="__all__", serialized_rollback=False, reset_sequences=False, transaction=False,
                       available_apps=None)
def test_05_all_databases():
    for alias in connections:
        connections[alias].ensure_connection()


@pytest.mark.django_db(available_apps=["django.contrib.auth", "django.contrib.contenttypes"])
def test_06_available_apps():
    assert apps.is_installed("django.contrib.auth")
    assert not apps.is_installed("django.contrib.admin")


def test_07_apps_back():
    assert apps.is_installed("django.contrib.admin")


@pytest.mark.django_db(transaction=True, databases=["default", "a"])
def test_08_transaction_commits():
    assert not connections["default"].in_atomic_block
    with transaction.atomic():
        User.objects.create(username="t")
    add("a", "committed")
    assert User.objects.count() == count("a") == 1


@pytest.mark.django_db(transaction=True, databases=["default", "a"])
def test_09_committed_rows_are_gone():
    assert User.objects.count() == count("a") == 0
    add("a", "again")  # moves the sequence on


@pytest.mark.django_db(reset_sequences=True, databases=["a"])
def test_10_reset_sequences():
    assert add("a", "first").pk == 1


@pytest.mark.django_db(serialized_rollback=True)
def test_11_serialized_rollback():
    assert ContentType.objects.filter(app_label="auth").exists()
    ContentType.objects.all().delete()


def test_12_rolled_back_contents_are_back():
    assert ContentType.objects.filter(app_label="auth").exists()
'''

FIXTURES = '''
import asyncio
import json
import threading
import urllib.request

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.signals import setting_changed
from django.db import connections, transaction
from sample_models.artists.models import Artist

from conftest import CALLS

pytestmark = pytest.mark.urls("suite_urls")
REFUSED = (AssertionError, RuntimeError)


def test_01_setup_override_ran_after_modify(db):
    assert CALLS == ["modify_db_settings", "django_db_setup"]
    assert Group.objects.filter(name="from-setup").exists()


def test_02_db(db):
    User.objects.create(username="d")
    assert User.objects.count() == 1
    assert connections["default"].in_atomic_block


def test_03_db_rolled_back(db):
    assert not User.objects.exists()


def test_04_no_declaration_is_blocked():
    with pytest.raises(REFUSED):
        User.objects.count()


def test_05_blocker(db, django_db_blocker):
    with django_db_blocker.block():
        with pytest.raises(REFUSED):
            User.objects.count()
    assert User.objects.count() == 0
    django_db_blocker.block()
    try:
        with pytest.raises(REFUSED):
            User.objects.count()
    finally:
        django_db_blocker.restore()
    with django_db_blocker.unblock():
        assert User.objects.count() == 0


def test_06_settings(settings):
    seen = []

    def changed(setting, value, enter, **kwargs):
        seen.append((setting, value, enter))

    setting_changed.connect(changed)
    try:
        settings.MULTIDB_SUITE_FLAG = 1
        del settings.SECRET_KEY
        assert django_settings.MULTIDB_SUITE_FLAG == settings.MULTIDB_SUITE_FLAG == 1
        assert not hasattr(django_settings, "SECRET_KEY")
    finally:
        setting_changed.disconnect(changed)
    assert ("MULTIDB_SUITE_FLAG", 1, True) in seen


def test_07_settings_restored():
    assert not hasattr(django_settings, "MULTIDB_SUITE_FLAG")
    assert django_settings.SECRET_KEY == "sample-only"


def test_08_keepdb_createdb_migrations(django_db_keepdb, django_db_createdb, django_db_use_migrations):
    assert (django_db_keepdb, django_db_createdb, django_db_use_migrations) == (True, False, True)
    assert django_settings.DEBUG is False  # ini django_debug_mode defaults to False


def test_09_transactional_db(transactional_db):
    assert not connections["default"].in_atomic_block
    User.objects.create(username="t")


def test_10_reset_sequences(django_db_reset_sequences):
    assert User.objects.create(username="s").pk == 1


def test_11_serialized_rollback(django_db_serialized_rollback):
    assert ContentType.objects.filter(app_label="auth").exists()


def test_12_client(client, db):
    User.objects.create(username="seen")
    assert client.get("/users/").json() == {"users": ["seen"]}


def test_13_async_client(async_client):
    response = asyncio.run(async_client.get("/hello/"))
    assert response.content == b"hello"


def test_14_request_factories(rf, async_rf):
    assert rf.get("/x/?a=1").GET["a"] == "1"
    assert async_rf.get("/y/").path == "/y/"


def test_15_admin(admin_client, admin_user, django_user_model, django_username_field):
    assert django_user_model is User and django_username_field == "username"
    assert admin_user.is_superuser and admin_user.check_password("password")
    assert admin_client.get("/whoami/").content == b"admin"


def test_16_live_server(live_server):
    User.objects.create(username="live")
    with urllib.request.urlopen(live_server + "/users/", timeout=10) as response:
        assert json.loads(response.read()) == {"users": ["live"]}
    assert live_server.url.startswith("http://localhost:") and str(live_server) == live_server.url


def test_17_mailoutbox(mailoutbox):
    mail.send_mail("subject", "body", "from@example.com", ["to@example.com"])
    assert len(mailoutbox) == 1 and mailoutbox[0].subject == "subject"
    assert "fake-tests.example.com" in mailoutbox[0].message()["Message-ID"]


def test_18_mailoutbox_empty_again(mailoutbox):
    assert mailoutbox == []


@pytest.mark.django_db(databases=["default", "a"])
def test_19_num_queries(django_assert_num_queries, django_assert_max_num_queries):
    with django_assert_num_queries(1):
        User.objects.count()
    with django_assert_num_queries(2, using="a"):
        Artist.objects.count()
        Artist.objects.count()
    with django_assert_max_num_queries(2, connection=connections["a"]):
        Artist.objects.count()
    with pytest.raises(pytest.fail.Exception, match="Expected to perform 0 queries but 1 was done"):
        with django_assert_num_queries(0, info="hint"):
            User.objects.count()
    with pytest.raises(pytest.fail.Exception, match="Expected to perform 0 queries or less but 1 was done"):
        with django_assert_max_num_queries(0, using="a"):
            Artist.objects.count()


def test_20_on_commit_callbacks(db, django_capture_on_commit_callbacks):
    ran = []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        transaction.on_commit(lambda: ran.append(1))
    assert len(callbacks) == 1 and ran == [1]
'''

# Only through pytest-multidb: where it differs from pytest-django (safer or faster).
OURS = '''
import pytest
from django.contrib.auth.models import Group, User
from django.db import connections
from django.contrib.contenttypes.models import ContentType
from inner_helpers import SERVER, add, committed


@pytest.mark.django_db(transaction=True, databases=["default", SERVER])
def test_1_commit_on_the_server(request):
    User.objects.create(username="t")
    add(SERVER, "committed")
    assert committed(SERVER) == 1
    assert request.config.getoption("multidb_rebuild") is False


@pytest.mark.django_db(databases=[SERVER], transaction=True)
def test_1b_committed_rows_are_gone():
    assert committed(SERVER) == 0
    add(SERVER, "again")  # moves the sequence on (PostgreSQL sequences ignore rollbacks)


@pytest.mark.django_db(databases=[SERVER])
def test_1c_rolled_back_row():
    add(SERVER, "rb")


@pytest.mark.django_db(reset_sequences=True, databases=[SERVER])
def test_1d_reset_sequences_on_the_server():
    assert add(SERVER, "first").pk == 1


def test_2_setup_data_survives_committing_tests(db):
    assert Group.objects.filter(name="from-setup").exists()
    assert not User.objects.exists()


def test_3_live_server_test_is_rolled_back(live_server):
    assert connections["default"].in_atomic_block


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_4_serialized_rollback_deletes():
    assert ContentType.objects.filter(app_label="auth").exists()
    ContentType.objects.all().delete()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_5_serialized_rollback_restored():
    assert ContentType.objects.filter(app_label="auth").exists()
'''


def _write_suite(pytester: pytest.Pytester, ours: bool) -> None:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(conftest=CONFTEST, suite_settings=SETTINGS, suite_urls=URLS, test_marked=MARKED,
                        test_fixtures=FIXTURES)
    if ours:
        pytester.makepyfile(test_ours=OURS)


def test_the_suite_through_pytest_multidb(inner, pytester, backend):
    _write_suite(pytester, ours=True)
    run = inner("-v", backend=backend, settings=False)
    run.result.assert_outcomes(passed=12 + 20 + 8)
    out = run.out
    assert "multidb: Django settings suite_settings (from ini option DJANGO_SETTINGS_MODULE)" in out
    assert "multidb: --reuse-db: accepted; test databases are kept warm between runs" in out
    assert run.leftovers() == set()


def test_the_same_suite_through_pytest_django(inner, pytester):
    _write_suite(pytester, ours=False)
    run = inner("-v", "-p", "no:multidb", "-p", "no:randomly", settings=False, plugins=False)
    run.result.assert_outcomes(passed=12 + 20)
    assert "django: version:" in run.out and "settings: suite_settings (from ini)" in run.out


OPTIONS = '''
def test_options(request, django_db_use_migrations, django_db_createdb):
    option = request.config.option
    print("OPTIONS", option.multidb_rebuild, option.multidb_no_migrations, django_db_use_migrations,
          django_db_createdb)
'''


@pytest.mark.parametrize(("args", "expected", "lines"), [
    (["--create-db", "--no-migrations"], "OPTIONS True True False True",
     ["--create-db: means --multidb-rebuild", "--nomigrations: means --multidb-no-migrations"]),
    (["--multidb-no-migrations", "--migrations"], "OPTIONS False False True False",
     ["--migrations: migrations run (the default; overrides --multidb-no-migrations)"]),
], ids=["create-db+no-migrations", "migrations"])
def test_options_map_onto_ours(inner, pytester, args, expected, lines):
    pytester.makepyfile(test_options=OPTIONS)
    run = inner("-s", *args)
    run.result.assert_outcomes(passed=1)
    assert expected in run.out
    for line in lines:
        assert f"multidb: {line}" in run.out


SETTINGS_CHECK = '''
import os
from django.conf import settings


def test_settings():
    print("SETTINGS", os.environ["DJANGO_SETTINGS_MODULE"], settings.SECRET_KEY)
'''


@pytest.mark.parametrize(("args", "ini", "env", "source"), [
    (["--multidb-settings", "sample_models.settings", "--ds", "missing.one"], "", None, "--multidb-settings"),
    (["--ds", "sample_models.settings"], "multidb_settings = missing.one", None, "--ds"),
    ([], "multidb_settings = sample_models.settings", "missing.one", "ini option multidb_settings"),
    ([], "DJANGO_SETTINGS_MODULE = missing.one", "sample_models.settings", "DJANGO_SETTINGS_MODULE"),
], ids=["multidb-settings>ds", "ds>ini-multidb_settings", "ini-multidb_settings>env", "env>ini"])
def test_settings_precedence(inner, pytester, args, ini, env, source):
    pytester.makefile(".ini", pytest=f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_settings=SETTINGS_CHECK)
    run = inner("-s", *args, settings=False, env={"DJANGO_SETTINGS_MODULE": env} if env else None)
    run.result.assert_outcomes(passed=1)
    assert "SETTINGS sample_models.settings sample-only" in run.out
    assert f"multidb: Django settings sample_models.settings (from {source})" in run.out


CONFIGURATIONS = '''
import os


def install():
    os.environ["FAKE_CONFIGURATIONS_IMPORTER"] = "installed"
'''

CONFIGURATION_CHECK = '''
import os


def test_configuration():
    assert os.environ["DJANGO_CONFIGURATION"] == os.environ["EXPECTED_CONFIGURATION"]
    assert os.environ["FAKE_CONFIGURATIONS_IMPORTER"] == "installed"
'''


def test_dc_and_ini_django_configuration_install_the_importer(inner, pytester):
    pytester.mkpydir("configurations")
    pytester.path.joinpath("configurations", "importer.py").write_text(CONFIGURATIONS)
    pytester.makepyfile(test_configuration=CONFIGURATION_CHECK)
    run = inner("--dc", "Dev", env={"EXPECTED_CONFIGURATION": "Dev"})
    run.result.assert_outcomes(passed=1)
    assert "multidb: django-configurations class Dev (from --dc)" in run.out
    pytester.makefile(".ini", pytest="[pytest]\nDJANGO_CONFIGURATION = Prod\n")
    run = inner(env={"EXPECTED_CONFIGURATION": "Prod"})
    run.result.assert_outcomes(passed=1)


def test_dc_without_django_configurations_is_one_clear_error(inner, pytester):
    pytester.makepyfile(test_configuration=CONFIGURATION_CHECK)
    run = inner("--dc", "Dev")
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    assert "the Django configuration 'Dev' (from --dc) needs django-configurations" in run.err
    assert "Fix: pip install django-configurations" in run.err


PROJECT_TEST = '''
from django.conf import settings


def test_project_settings():
    assert settings.SECRET_KEY == "from-the-project"
'''


def test_django_find_project(inner, pytester):
    project = pytester.mkdir("proj")
    project.joinpath("manage.py").write_text("")
    project.joinpath("projsettings.py").write_text(
        "from sample_models.settings import *  # noqa\nSECRET_KEY = 'from-the-project'\nDEBUG = True\n")
    project.joinpath("tests").mkdir()
    project.joinpath("tests", "test_project.py").write_text(PROJECT_TEST)
    pytester.makefile(".ini", pytest="[pytest]\nDJANGO_SETTINGS_MODULE = projsettings\n")
    run = inner("proj/tests", "--nomigrations", settings=False)
    run.result.assert_outcomes(passed=1)
    assert "multidb: --nomigrations: means --multidb-no-migrations" in run.out
    assert "multidb: found a Django project in proj (manage.py) and put it on sys.path" in run.out
    pytester.makefile(".ini", pytest="[pytest]\nDJANGO_SETTINGS_MODULE = projsettings\ndjango_find_project = false\n")
    run = inner("proj/tests", settings=False)
    assert run.result.ret == pytest.ExitCode.USAGE_ERROR
    assert "the Django settings module 'projsettings' (from ini option DJANGO_SETTINGS_MODULE) cannot be" in run.err


DEBUG_CHECK = '''
from django.conf import settings


def test_debug_kept():
    assert settings.DEBUG is True


def test_liveserver_address(live_server):
    assert live_server.url.startswith("http://127.0.0.1:")
'''


def test_django_debug_mode_keep_and_liveserver(inner, pytester):
    pytester.makepyfile(debug_settings="from sample_models.settings import *  # noqa\nDEBUG = True\n",
                        test_debug=DEBUG_CHECK)
    pytester.makefile(".ini", pytest="[pytest]\ndjango_debug_mode = keep\n")
    run = inner("--ds", "debug_settings", "--liveserver", "127.0.0.1:0", settings=False)
    run.result.assert_outcomes(passed=2)
