"""A real browser against the live server, in rollback mode: headless Debian Chromium driven by
Selenium, with the conftest of docs/browser.md verbatim, on sqlite, PostgreSQL and MariaDB."""

import re

from tests.support.projects import ROOT


def recipe_conftest() -> str:
    """The first Python block of docs/browser.md: the documented conftest (browser fixtures, screenshots)."""
    text = (ROOT / "docs" / "browser.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


URLS = '''
    from django.http import HttpResponse, HttpResponseRedirect
    from django.template import engines
    from django.urls import path
    from django.views.decorators.csrf import csrf_protect, ensure_csrf_cookie
    from inner_helpers import MODELS, SERVER, add

    from sample_models.artists.models import Artist

    PAGE = """<html><body>
    <ul id="artists">{% for name in artists %}<li>{{ name }}</li>{% endfor %}</ul>
    <ul id="server">{% for name in server %}<li>{{ name }}</li>{% endfor %}</ul>
    <form method="post" action="/add/">{% csrf_token %}<input name="name"><button type="submit">Add</button></form>
    </body></html>"""


    @ensure_csrf_cookie
    def rows(request):
        model = MODELS[SERVER]
        field = "code" if SERVER == "b" else "name"
        context = {"artists": Artist.objects.order_by("name").values_list("name", flat=True),
                   "server": model.objects.order_by(field).values_list(field, flat=True)}
        return HttpResponse(engines["django"].from_string(PAGE).render(context, request))


    @csrf_protect
    def add_artist(request):
        Artist.objects.create(name=request.POST["name"])
        add(SERVER, request.POST["name"][:10])
        return HttpResponseRedirect("/rows/")


    urlpatterns = [path("rows/", rows), path("add/", add_artist)]
'''

BROWSER_TESTS = '''
    import pytest
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from inner_helpers import SERVER, add, committed, count

    from sample_models.artists.models import Artist

    pytestmark = [pytest.mark.uses_db("a", SERVER), pytest.mark.urls("browser_urls")]


    def listed(browser, list_id):
        # One script reads the whole list at once: element by element, a page being replaced loses the
        # nodes between two calls (Chrome then answers "unhandled inspector error", not a stale element).
        return browser.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]), li => li.textContent);", f"#{list_id} li")


    def test_1_the_page_lists_the_test_rows(live_server, browser):
        add("a", "ann")
        add("a", "bob")
        add(SERVER, "w1")
        browser.get(f"{live_server.url}/rows/")
        assert listed(browser, "artists") == ["ann", "bob"]
        assert listed(browser, "server") == ["w1"]
        assert committed("a") == committed(SERVER) == 0  # rollback mode: nothing was committed


    def test_2_a_form_the_browser_posts(live_server, browser):
        add("a", "ann")
        browser.get(f"{live_server.url}/rows/")
        browser.find_element(By.NAME, "name").send_keys("cleo")
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        # Until the page after the post is there (a script run while the old page unloads can fail: asked again).
        WebDriverWait(browser, 10, ignored_exceptions=[WebDriverException]).until(
            lambda b: "cleo" in listed(b, "artists"))
        assert listed(browser, "artists") == ["ann", "cleo"]
        assert listed(browser, "server") == ["cleo"]
        assert list(Artist.objects.order_by("name").values_list("name", flat=True)) == ["ann", "cleo"]
        assert count(SERVER) == 1
        assert committed("a") == committed(SERVER) == 0


    def test_3_nothing_left(live_server, browser):
        browser.get(f"{live_server.url}/rows/")
        assert listed(browser, "artists") == listed(browser, "server") == []
        assert count("a") == count(SERVER) == 0
        assert committed("a") == committed(SERVER) == 0
'''


def test_a_browser_sees_and_writes_rollback_data(inner, pytester, backend):
    pytester.makeconftest(recipe_conftest())
    pytester.makepyfile(browser_urls=URLS, test_browser=BROWSER_TESTS)
    run = inner("-v", backend=backend)
    run.result.assert_outcomes(passed=3)
    assert run.leftovers() == set()


FAILING = '''
    import pytest
    from inner_helpers import add


    @pytest.mark.uses_db("a")
    @pytest.mark.urls("browser_urls")
    def test_fails(live_server, browser):
        add("a", "ann")
        browser.get(f"{live_server.url}/rows/")
        assert browser.title == "not this page"
'''


def test_a_failing_browser_test_saves_a_screenshot(inner, pytester):
    pytester.makeconftest(recipe_conftest())
    pytester.makepyfile(browser_urls=URLS, test_failing=FAILING)
    run = inner()
    run.result.assert_outcomes(failed=1)
    section = re.search(r"-+ browser screenshot -+\n(\S+\.png)", run.out)
    assert section, run.out
    with open(section.group(1), "rb") as png:
        assert png.read(8) == b"\x89PNG\r\n\x1a\n"
