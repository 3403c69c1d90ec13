"""The benchmarks' URLs: the product's, and a floor page (``bench/floor/``):
a minimal authenticated page of the same server in the same layout (the
base template, through every middleware), against which a page's time is
compared. Used only by ``tests/bench``; the product has no such page."""

from django.shortcuts import render
from django.urls import path

from dcc.urls import urlpatterns as product_urlpatterns


def floor(request):
    return render(request, "base.html", {})


urlpatterns = [*product_urlpatterns, path("bench/floor/", floor, name="bench-floor")]

handler403 = "dcc.views.permission_denied"
handler404 = "dcc.views.page_not_found"
handler500 = "dcc.views.server_error"
