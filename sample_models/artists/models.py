from django.db import models


class Artist(models.Model):
    name = models.CharField(max_length=100)
    alive = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name
