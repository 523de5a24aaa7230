from django.db import models


class Widget(models.Model):
    code = models.CharField(max_length=10, unique=True)
    weight = models.IntegerField()

    def __str__(self) -> str:
        return self.code


class Exhibit(models.Model):
    """Lives beside Widget but points at an Artist on another connection (multidb.W001)."""

    widget = models.ForeignKey(Widget, on_delete=models.CASCADE)
    # On another connection: no database constraint is possible, and Django cannot cascade deletes across
    # connections, so deleting an Artist leaves its exhibits alone.
    artist = models.ForeignKey("artists.Artist", on_delete=models.DO_NOTHING, related_name="exhibits")
    title = models.CharField(max_length=100, blank=True)
