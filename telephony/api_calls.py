"""/api/v1/ telephony endpoints (API.md "Telephony"): calls. Routes in
``urlpatterns``, collected by telephony.api_urls."""

urlpatterns = []
