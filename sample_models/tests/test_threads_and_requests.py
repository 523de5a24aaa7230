"""Threads and requests see the test's (uncommitted) data; the next test sees none of it."""

import json
import threading

import pytest
from django.test import Client

from sample_models.artists.models import Artist


@pytest.mark.uses_db("a")
def test_thread_sees_test_data():
    Artist.objects.create(name="visible")
    seen = []
    worker = threading.Thread(target=lambda: seen.append(list(Artist.objects.values_list("name", flat=True))))
    worker.start()
    worker.join()
    assert seen == [["visible"]]


@pytest.mark.uses_db("a")
def test_client_request_sees_test_data():
    Artist.objects.create(name="Ada")
    response = Client().get("/artists/")
    assert json.loads(response.content) == {"names": ["Ada"]}


@pytest.mark.uses_db("a")
def test_nothing_leaked():
    assert Artist.objects.count() == 0
