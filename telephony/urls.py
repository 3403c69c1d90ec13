from telephony.views import calls, recordings, stats

app_name = "telephony"

urlpatterns = [*calls.urlpatterns, *recordings.urlpatterns, *stats.urlpatterns]
