from django.urls import path

from followups import views

app_name = "followups"

urlpatterns = [
    path("breaches/", views.breaches, name="breaches"),
    path("breaches/<int:pk>/acknowledge/", views.breach_acknowledge, name="breach-acknowledge"),
    path("first-contact/", views.first_contact, name="first-contact"),
    path("sms/", views.sms_outbox, name="sms"),
    path("sms/<int:pk>/retry/", views.sms_retry, name="sms-retry"),
    path("settings/", views.store_rules, name="settings"),
    # The SMS provider's pushes (Tencent Cloud SMS: replies, status reports).
    path("sms/callback/<str:token>/reply/", views.sms_reply_callback, name="sms-reply-callback"),
    path("sms/callback/<str:token>/status/", views.sms_status_callback, name="sms-status-callback"),
]
