from telephony.views import calls, recordings, sources, stats

app_name = "telephony"

urlpatterns = [
    *calls.urlpatterns,
    *recordings.urlpatterns,
    *stats.urlpatterns,
    *sources.urlpatterns,
]
