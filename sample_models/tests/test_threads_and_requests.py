"""Threads and requests see the test's (uncommitted) data; the next test sees none of it."""

import json
import threading

import pytest
from django.test import Client

from sample_models.artists.models import Artist


@pytest.mark.uses_db("a")
@pytest.mark.parametrize("n", range(2))  # the second, whichever it is, sees nothing of the first
def test_thread_sees_test_data(n):
    assert Artist.objects.count() == 0
    Artist.objects.create(name="visible")
    seen = []
    worker = threading.Thread(target=lambda: seen.append(list(Artist.objects.values_list("name", flat=True))))
    worker.start()
    worker.join()
    assert seen == [["visible"]]
    writer = threading.Thread(target=lambda: Artist.objects.create(name="from a thread"))
    writer.start()
    writer.join()
    assert Artist.objects.count() == 2


@pytest.mark.uses_db("a")
@pytest.mark.parametrize("n", range(2))
def test_client_request_sees_test_data(n):
    assert Artist.objects.count() == 0
    Artist.objects.create(name="Ada")
    response = Client().get("/artists/")
    assert json.loads(response.content) == {"names": ["Ada"]}
