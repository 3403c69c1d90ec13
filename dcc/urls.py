from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from dcc import views

urlpatterns = [
    # The working screens first: their paths sit among the apps' (desk.urls).
    path("", include("desk.urls")),
    path("org/", views.directory, name="directory"),
    path("leads/", include("leads.urls")),
    path("followups/", include("followups.urls")),
    path("campaigns/events/", include("followups.campaigns.views_events")),
    path("campaigns/", include("followups.campaigns.urls")),
    path("telephony/", include("telephony.urls")),
    path("kpi/", include("kpi.urls")),
    path("org/teams/<int:pk>/", views.team_detail, name="team-detail"),
    path("org/access-log/", views.access_log, name="access-log"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/me/", views.account, name="account"),
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("dcc.api_urls")),
]

# 403, 404 and 500 in the layout, with a way back (dcc.views._error).
handler403 = "dcc.views.permission_denied"
handler404 = "dcc.views.page_not_found"
handler500 = "dcc.views.server_error"

# MEDIA_ROOT holds call recordings: they are served only through the scoped,
# logged views of telephony.playback, never as plain files, not even in DEBUG.
