from django.urls import path

from followups.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_edit, name="new"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/launch/", views.campaign_launch, name="launch"),
    path("<int:pk>/rounds/", views.round_new, name="round-new"),
    path("<int:pk>/close/", views.campaign_close, name="close"),
    path("<int:pk>/calls/", views.call_group, name="call-group"),
    path("<int:pk>/members/<int:member_pk>/", views.member_detail, name="member"),
    path("segments/new/", views.segment_edit, name="segment-new"),
    path("segments/<int:pk>/", views.segment_edit, name="segment-edit"),
    path("segments/count/", views.segment_count, name="segment-count"),
]
