from __future__ import annotations

from django.urls import path, re_path
from django.views.i18n import JSONCatalog

from . import views

app_name = "rooms"

urlpatterns = [
    path("", views.home, name="home"),
    path("manifest.webmanifest", views.web_manifest, name="manifest"),
    path("profile/", views.profile, name="profile"),
    path("language/", views.language_set, name="language_set"),
    path("jsi18n/", JSONCatalog.as_view(), name="js_catalog"),
    path("rooms/", views.room_list, name="list"),
    path("rooms/new/", views.room_create, name="create"),
    path("r/<str:public_id>/", views.room_detail, name="detail"),
    path("r/<str:public_id>/language/", views.room_language, name="language"),
    path("r/<str:public_id>/rename/", views.room_rename, name="rename"),
    path("r/<str:public_id>/close/", views.room_close, name="close"),
    path("r/<str:public_id>/reopen/", views.room_reopen, name="reopen"),
    path("r/<str:public_id>/delete/", views.room_delete, name="delete"),
    path("r/<str:public_id>/transcripts/", views.room_transcripts, name="transcripts"),
    path("r/<str:public_id>/calls/<int:call_id>/", views.call_transcript, name="call"),
    re_path(
        r"^r/(?P<public_id>[^/]+)/calls/(?P<call_id>[0-9]+)/transcript\.(?P<kind>txt|vtt|srt)$",
        views.call_export,
        name="call_export",
    ),
    path("r/<str:public_id>/calls/<int:call_id>/delete/", views.call_transcript_delete, name="call_delete"),
    path("r/<str:public_id>/invites/", views.invite_create, name="invite_create"),
    path("r/<str:public_id>/invites/<int:invite_id>/revoke/", views.invite_revoke, name="invite_revoke"),
    path(
        "r/<str:public_id>/invites/<int:invite_id>/revoke-and-remove/",
        views.invite_revoke_and_remove,
        name="invite_revoke_and_remove",
    ),
    path("r/<str:public_id>/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("i/<str:token>/", views.invite, name="invite"),
    path("join/", views.join, name="join"),
]
