"""The page language of a signed-in person (or guest): their own, whatever the browser says."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation

from .languages import page_language


class ProfileLanguageMiddleware:
    """After LocaleMiddleware (cookie, Accept-Language): a profile's choice wins."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        profile = getattr(user, "profile", None) if user.is_authenticated else None
        if profile is not None:
            language = page_language(chosen=profile.page_language, hears=profile.hear_language)
            translation.activate(language)
            request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        return self.get_response(request)
