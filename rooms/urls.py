from __future__ import annotations

from django.urls import path

from . import views

app_name = "rooms"

urlpatterns = [
    path("", views.home, name="home"),
    path("rooms/", views.room_list, name="list"),
]
