"""Telephony pages: recordings. Routes in ``urlpatterns``, collected by telephony.urls."""

urlpatterns = []
