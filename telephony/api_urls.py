"""Telephony's part of /api/v1/ (API.md "Telephony")."""

from telephony import api_calls, api_recordings, api_sources

urlpatterns = [*api_calls.urlpatterns, *api_recordings.urlpatterns, *api_sources.urlpatterns]
