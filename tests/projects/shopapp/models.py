"""The "shop" app of the schema cache and warm database tests: three models, one per alias."""

from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=20)


class Order(models.Model):
    code = models.CharField(max_length=20)


class Invoice(models.Model):
    total = models.IntegerField(default=0)
