from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("openai-translate")


def room_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("rooms")
