"""Forms for rooms, invites, profiles and guests; they validate, services write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model

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


class UsageFilterForm(forms.Form):
    """The staff dashboard's filters: a date range (UTC) and optionally one owner and one room."""

    MAX_DAYS = 366

    first_day = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    last_day = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    owner = forms.CharField(label="Owner (email)", required=False)
    room = forms.CharField(label="Room (id)", required=False)

    def clean_owner(self) -> Any:
        email = self.cleaned_data["owner"].strip()
        if not email:
            return None
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise forms.ValidationError("Nobody has that email address.")
        return user

    def clean_room(self) -> Room | None:
        public_id = self.cleaned_data["room"].strip()
        if not public_id:
            return None
        room = Room.objects.filter(public_id=public_id).first()
        if room is None:
            raise forms.ValidationError("There is no room with that id.")
        return room

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("first_day"), data.get("last_day")
        if first and last:
            if first > last:
                raise forms.ValidationError("The range must start before it ends.")
            if (last - first).days >= self.MAX_DAYS:
                raise forms.ValidationError(f"Choose at most {self.MAX_DAYS} days.")
        return data
