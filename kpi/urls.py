from django.urls import path

from kpi import views
from kpi.views_campaigns import campaign_urlpatterns
from kpi.views_dashboard import dashboard_urlpatterns
from kpi.views_export import export_urlpatterns
from kpi.views_scorecard import scorecard_urlpatterns

app_name = "kpi"

urlpatterns = [
    path("", views.index, name="index"),
    path("drill/<slug:name>/<slug:part>/", views.drill, name="drill"),
    path("targets/", views.targets, name="targets"),
    path("meetings/", views.meetings, name="meetings"),
    path("settings/", views.kpi_settings, name="settings"),
    *dashboard_urlpatterns,
    *scorecard_urlpatterns,
    *export_urlpatterns,
    *campaign_urlpatterns,
]
