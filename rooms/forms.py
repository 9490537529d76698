"""Forms for rooms, invites, profiles and guests; they validate, services write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from .languages import LANGUAGE_CHOICES, language_name
from .models import Profile, Room


class RoomNameForm(forms.ModelForm):
    class Meta:
        model = Room
        fields = ["name"]
        labels = {"name": "Room name"}
        widgets = {"name": forms.TextInput(attrs={"autocomplete": "off", "placeholder": "e.g. Family call"})}


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ["display_name", "hear_language", "speak_language"]
        labels = {"display_name": "Display name"}
        help_texts = {
            "display_name": "What others in a room see.",
            "hear_language": "Everything said in a call is translated into this language for you.",
            "speak_language": "Shown to others; the translator recognises what you speak by itself.",
        }


class InviteForm(forms.Form):
    expires_in_days = forms.IntegerField(label="Valid for (days)", min_value=1, max_value=365)
    max_uses = forms.IntegerField(
        label="How many people may use it", min_value=1, required=False, help_text="Leave empty for no limit."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read per form rather than at import, so a changed setting (or a test's override) applies.
        self.fields["expires_in_days"].initial = settings.INVITE_DEFAULT_EXPIRY_DAYS


class GuestJoinForm(forms.Form):
    display_name = forms.CharField(label="Your name", max_length=60, help_text="What others in the room see.")
    language = forms.ChoiceField(
        label="Your language", choices=LANGUAGE_CHOICES, help_text="You hear everyone in this language."
    )

    def clean_display_name(self) -> str:
        name = self.cleaned_data["display_name"].strip()
        if not name:
            raise forms.ValidationError("Please tell the others your name.")
        return name


class MembershipLanguageForm(forms.Form):
    hear_language = forms.ChoiceField(label="In this room I want to hear", required=False)

    def __init__(self, *args: Any, profile_language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["hear_language"].choices = [
            ("", f"Same as my profile ({language_name(profile_language)})"),
            *LANGUAGE_CHOICES,
        ]
