"""A foreign-key cycle (Author <-> Book, declared before its target) and a self-reference (Category)."""

from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)
    favourite_book = models.ForeignKey("Book", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="fans")


class Book(models.Model):
    title = models.CharField(max_length=100)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    categories = models.ManyToManyField("Category", blank=True)


class Category(models.Model):
    name = models.CharField(max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
