from django.conf import settings
from django.db import models


class Shelf(models.Model):
    name = models.CharField(max_length=50, unique=True)


class Book(models.Model):
    title = models.CharField(max_length=100)
    shelf = models.ForeignKey(Shelf, on_delete=models.CASCADE, related_name="books")
    borrowers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="borrowed")
