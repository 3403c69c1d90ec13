from django.urls import path

from kpi import views

app_name = "kpi"

urlpatterns = [
    path("", views.index, name="index"),
    path("drill/<slug:name>/<slug:part>/", views.drill, name="drill"),
    path("targets/", views.targets, name="targets"),
    path("meetings/", views.meetings, name="meetings"),
    path("settings/", views.kpi_settings, name="settings"),
]
