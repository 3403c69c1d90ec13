"""The working screens keep the addresses they had (``dcc.urls`` mounts this
at the root, before the apps): the lead page under ``leads/``, the queue and
the visits under ``followups/``. Their ids are ``int`` and their keys never
one of the apps' fixed words, so the apps' own pages resolve as before."""

from django.urls import path

from desk.views import home, lead, queue, visits
from desk.views.campaign_calls import campaign_call_urlpatterns

app_name = "desk"

urlpatterns = [
    path("", home.home, name="home"),
    path("leads/<int:pk>/", lead.lead_detail, name="lead"),
    path("leads/<int:pk>/sms-preview/", lead.sms_preview, name="lead-sms-preview"),
    path("leads/<int:pk>/<slug:action>/", lead.lead_action, name="lead-action"),
    path("followups/queue/", queue.queue_list, name="queue-list"),
    path("followups/desk-extras/", queue.desk_extras, name="desk-extras"),
    path("followups/queue/<slug:key>/", queue.queue_item, name="queue-item"),
    path("followups/queue/<slug:key>/log/", queue.queue_log, name="queue-log"),
    path("followups/appointments/", visits.appointments, name="appointments"),
    path(
        "followups/appointments/<int:pk>/<slug:action>/",
        visits.appointment_action,
        name="appointment-action",
    ),
    *campaign_call_urlpatterns,
]
