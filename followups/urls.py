from django.urls import path

from followups import views

app_name = "followups"

urlpatterns = [
    path("queue/", views.queue_list, name="queue-list"),
    path("queue/<slug:key>/", views.queue_item, name="queue-item"),
    path("queue/<slug:key>/log/", views.queue_log, name="queue-log"),
    path("appointments/", views.appointments, name="appointments"),
    path(
        "appointments/<int:pk>/<slug:action>/",
        views.appointment_action,
        name="appointment-action",
    ),
    path("breaches/", views.breaches, name="breaches"),
    path("breaches/<int:pk>/acknowledge/", views.breach_acknowledge, name="breach-acknowledge"),
    path("first-contact/", views.first_contact, name="first-contact"),
    path("sms/", views.sms_outbox, name="sms"),
    path("sms/<int:pk>/retry/", views.sms_retry, name="sms-retry"),
    path("settings/", views.store_rules, name="settings"),
]
