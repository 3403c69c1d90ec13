"""Telephony pages: calls. Routes in ``urlpatterns``, collected by telephony.urls."""

urlpatterns = []
