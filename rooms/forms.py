"""Forms for rooms, invites, profiles and guests; they validate, services write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from .languages import LANGUAGE_CHOICES, language_name
from .models import Profile, Room


class RoomNameForm(forms.ModelForm):
    class Meta:
        model = Room
        fields = ["name"]
        labels = {"name": _("Room name")}
        widgets = {
            "name": forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("e.g. Family call")})
        }


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ["display_name", "hear_language", "speak_language", "page_language"]
        labels = {"display_name": _("Display name"), "page_language": _("Language of these pages")}
        help_texts = {
            "display_name": _("What others in a room see."),
            "hear_language": _("Everything said in a call is translated into this language for you."),
            "speak_language": _("Shown to others; the translator recognises what you speak by itself."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["page_language"].choices = [
            ("", _("The language I want to hear")),
            *settings.LANGUAGES,
        ]


class InviteForm(forms.Form):
    expires_in_days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=365)
    max_uses = forms.IntegerField(
        label=_("How many people may use it"),
        min_value=1,
        required=False,
        help_text=_("Leave empty for no limit."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read per form rather than at import, so a changed setting (or a test's override) applies.
        self.fields["expires_in_days"].initial = settings.INVITE_DEFAULT_EXPIRY_DAYS


class GuestJoinForm(forms.Form):
    display_name = forms.CharField(
        label=_("Your name"), max_length=60, help_text=_("What others in the room see.")
    )
    language = forms.ChoiceField(
        label=_("Your language"), choices=LANGUAGE_CHOICES, help_text=_("You hear everyone in this language.")
    )

    def clean_display_name(self) -> str:
        name = self.cleaned_data["display_name"].strip()
        if not name:
            raise forms.ValidationError(_("Please tell the others your name."))
        return name


class MembershipLanguageForm(forms.Form):
    hear_language = forms.ChoiceField(label=_("In this room I want to hear"), required=False)

    def __init__(self, *args: Any, profile_language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["hear_language"].choices = [
            ("", _("Same as my profile (%(language)s)") % {"language": language_name(profile_language)}),
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
