"""The "notes" app of the Django-test-class and committing-cleanup tests: one model, a data migration writing a
row."""

from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=100)
