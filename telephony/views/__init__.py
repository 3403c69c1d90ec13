"""Telephony pages, one module per area; each module lists its routes in
``urlpatterns`` and ``telephony.urls`` joins them."""
