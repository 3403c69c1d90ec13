"""Telephony pages: stats. Routes in ``urlpatterns``, collected by telephony.urls."""

urlpatterns = []
