"""/api/v1/ telephony endpoints (API.md "Telephony"): recordings. Routes in
``urlpatterns``, collected by telephony.api_urls."""

urlpatterns = []
