"""The machine-facing URLs: room callbacks from the vendors, the ban check for token servers."""

from django.urls import path

from . import api, callbacks

urlpatterns = [
    path("callbacks/<str:callback_id>/", callbacks.room_callback, name="room_callback"),
    path("api/v1/bans/check", api.ban_check, name="ban_check"),
]
