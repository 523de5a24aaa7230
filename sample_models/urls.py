from django.http import JsonResponse
from django.urls import path

from sample_models.artists.models import Artist


def artist_names(request):
    return JsonResponse({"names": list(Artist.objects.order_by("name").values_list("name", flat=True))})


urlpatterns = [path("artists/", artist_names)]
