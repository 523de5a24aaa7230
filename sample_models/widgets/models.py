from django.db import models


class Widget(models.Model):
    code = models.CharField(max_length=10, unique=True)
    weight = models.IntegerField()

    def __str__(self) -> str:
        return self.code


class Exhibit(models.Model):
    """Lives beside Widget but points at an Artist on another connection (multidb.W001)."""

    widget = models.ForeignKey(Widget, on_delete=models.CASCADE)
    artist = models.ForeignKey("artists.Artist", on_delete=models.CASCADE, related_name="exhibits")
    title = models.CharField(max_length=100, blank=True)
