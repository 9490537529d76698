"""Pages for people: home, profile, rooms and invites. Each view checks, calls a service, renders."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language
from django_ratelimit.decorators import ratelimit

from . import selectors, services, transcripts
from .context_processors import THEME_COLOUR
from .forms import GuestJoinForm, InviteForm, MembershipLanguageForm, ProfileForm, RoomNameForm
from .languages import listener_language
from .models import Call, Invite, Membership, Room
from .selectors import InviteFailure

View = Callable[..., HttpResponse]

# A new invite's plain token waits in its owner's session until the room page has shown it once.
SESSION_TOKENS = "invite_tokens"

INVITE_FAILURE_PAGES: dict[InviteFailure, tuple[int, Promise, Promise]] = {
    InviteFailure.UNKNOWN: (
        404,
        gettext_lazy("This invite link doesn't work"),
        gettext_lazy(
            "There is no invite with this link. Check that you copied all of it, or ask for a new one."
        ),
    ),
    InviteFailure.EXPIRED: (
        410,
        gettext_lazy("This invite has expired"),
        gettext_lazy("Invites are valid for a limited time. Ask the person who invited you for a new link."),
    ),
    InviteFailure.REVOKED: (
        410,
        gettext_lazy("This invite was withdrawn"),
        gettext_lazy("The room's owner revoked this invite. Ask them for a new link."),
    ),
    InviteFailure.USED_UP: (
        410,
        gettext_lazy("This invite has been used up"),
        gettext_lazy("As many people as this invite allows have already joined with it. Ask for a new link."),
    ),
    InviteFailure.ROOM_CLOSED: (
        410,
        gettext_lazy("This room is closed"),
        gettext_lazy("The room's owner has closed it, so nobody can join for now."),
    ),
    InviteFailure.GUESTS_NOT_ALLOWED: (
        403,
        gettext_lazy("This room is for account holders"),
        gettext_lazy("The room's owner does not let guests in. Sign up or log in to join."),
    ),
    InviteFailure.GUEST_ELSEWHERE: (
        403,
        gettext_lazy("You are a guest in another room"),
        gettext_lazy(
            "A guest pass is good for one room only. Log out, then open this link again to join as a new "
            "guest, or sign up for an account."
        ),
    ),
    InviteFailure.INVITE_GUESTS_FULL: (
        403,
        gettext_lazy("This invite has let in all the guests it may"),
        gettext_lazy(
            "Each invite link lets in a limited number of guests. Ask the room's owner for a new link, "
            "or sign up or log in to join with an account."
        ),
    ),
    InviteFailure.ROOM_GUESTS_FULL: (
        403,
        gettext_lazy("This room has as many guests as it may"),
        gettext_lazy(
            "The room holds a limited number of guests. Sign up or log in to join with an account, "
            "or ask the room's owner to make room."
        ),
    ),
}


def origin_only_referrer(view: View) -> View:
    """Pages whose address holds an invite token: no request from them carries more than our origin.

    Not `no-referrer`: under it browsers send `Origin: null` with the page's own form posts,
    and Django's CSRF check (rightly) refuses those, so nobody could join as a guest.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "strict-origin"
        return response

    return wrapper


def account_required(view: View) -> View:
    """Signed-in people with an account; guests are sent back to the one room they may use."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if selectors.is_guest(request.user):
            room = selectors.guest_room(request.user)
            if room is None:
                return render(request, "rooms/guest_ended.html", status=410)
            return redirect(room_url(room))
        return view(request, *args, **kwargs)

    return wrapper


def room_url(room: Room) -> str:
    return reverse("rooms:detail", args=[room.public_id])


def _remember_token(request: HttpRequest, invite: Invite, token: str) -> None:
    tokens = request.session.get(SESSION_TOKENS, {})
    tokens[str(invite.pk)] = token
    request.session[SESSION_TOKENS] = tokens


def _forget_token(request: HttpRequest, invite: Invite) -> None:
    tokens = request.session.get(SESSION_TOKENS, {})
    if tokens.pop(str(invite.pk), None) is not None:
        request.session[SESSION_TOKENS] = tokens


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("rooms:list")
    return render(request, "home.html")


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The footer's switcher: the language cookie (Django's set_language) and, for someone
    signed in, their profile, which wins over the cookie on every device."""
    code = request.POST.get("language", "")
    if code not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest("Unknown language")
    if request.user.is_authenticated:
        services.profile_set_page_language(profile=request.user.profile, page_language=code)
    return set_language(request)


@require_GET
def web_manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: "Add to Home Screen" opens the service full screen, like an app."""
    icons = [
        {"src": static(f"icons/icon-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png"}
        for size in (192, 512)
    ]
    manifest = {
        "name": "openai-translate",
        "short_name": "Translate",
        "description": "Live spoken translation between people in a call.",
        "start_url": reverse("rooms:home"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#f6f7f9",
        "theme_color": THEME_COLOUR,
        "icons": icons,
    }
    return JsonResponse(manifest, content_type="application/manifest+json")


@account_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user.profile)
    if request.method == "POST" and form.is_valid():
        services.profile_update(profile=request.user.profile, **form.cleaned_data)
        messages.success(request, _("Your profile is saved."))
        return redirect("rooms:profile")
    quota = selectors.quota_status(request.user.pk)
    return render(request, "rooms/profile.html", {"form": form, "quota": quota})


@account_required
def room_list(request: HttpRequest) -> HttpResponse:
    rooms = selectors.rooms_for_user(request.user)
    # After confirming their e-mail address and logging in, an invited person lands here.
    invite = selectors.pending_invite(request.session)
    pending = invite if invite is not None and not rooms.filter(pk=invite.room_id).exists() else None
    context = {"rooms": rooms, "form": RoomNameForm(), "pending_invite": pending}
    return render(request, "rooms/list.html", context)


@account_required
def room_create(request: HttpRequest) -> HttpResponse:
    form = RoomNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        room, issued = services.room_create(owner=request.user, name=form.cleaned_data["name"])
        _remember_token(request, issued.invite, issued.token)
        messages.success(
            request, _("Room created. Share the invite link below with the people you want to talk to.")
        )
        return redirect(room_url(room))
    return render(request, "rooms/create.html", {"form": form})


@login_required
def room_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    room = selectors.room_for_viewer(public_id=public_id, user=request.user)
    membership = selectors.membership_for(room=room, user=request.user)
    context: dict[str, Any] = {
        "room": room,
        "membership": membership,
        "members": selectors.room_members(room),
        "ws_path": f"/ws/rooms/{room.public_id}/",
        "is_owner": room.owner_id == request.user.pk,
        "past_calls": selectors.past_calls(room=room, user=request.user),
    }
    if membership is not None:
        context["language_form"] = MembershipLanguageForm(
            initial={"hear_language": membership.hear_language},
            profile_language=request.user.profile.hear_language,
        )
    if context["is_owner"]:
        tokens = request.session.get(SESSION_TOKENS, {})
        invites = list(selectors.active_invites(room))
        context["shared_invites"] = [
            (invite, selectors.invite_link(tokens[str(invite.pk)]))
            for invite in invites
            if str(invite.pk) in tokens
        ]
        context["other_invites"] = [invite for invite in invites if str(invite.pk) not in tokens]
        context["invite_form"] = InviteForm()
        # Shown once: from now on the plain token exists only in what the owner copied.
        for invite, _link in context["shared_invites"]:
            _forget_token(request, invite)
    return render(request, "rooms/detail.html", context)


@login_required
@require_POST
def room_language(request: HttpRequest, public_id: str) -> HttpResponse:
    room = selectors.room_for_viewer(public_id=public_id, user=request.user)
    membership = get_object_or_404(room.memberships, user=request.user)
    form = MembershipLanguageForm(request.POST, profile_language=request.user.profile.hear_language)
    if form.is_valid():
        services.membership_set_language(
            membership=membership, hear_language=form.cleaned_data["hear_language"]
        )
        messages.success(request, _("Your language for this room is saved."))
    else:
        messages.error(request, _("Please choose one of the listed languages."))
    return redirect(room_url(room))


@account_required
def room_rename(request: HttpRequest, public_id: str) -> HttpResponse:
    room = selectors.room_for_owner(public_id=public_id, user=request.user)
    form = RoomNameForm(request.POST or None, instance=room)
    if request.method == "POST" and form.is_valid():
        services.room_rename(room=room, name=form.cleaned_data["name"])
        messages.success(request, _("Room renamed."))
        return redirect(room_url(room))
    return render(request, "rooms/rename.html", {"room": room, "form": form})


@account_required
@require_POST
def room_close(request: HttpRequest, public_id: str) -> HttpResponse:
    room = selectors.room_for_owner(public_id=public_id, user=request.user)
    services.room_close(room=room)
    messages.success(request, _("Room closed. Nobody can join until you reopen it."))
    return redirect(room_url(room))


@account_required
@require_POST
def room_reopen(request: HttpRequest, public_id: str) -> HttpResponse:
    room = selectors.room_for_owner(public_id=public_id, user=request.user)
    services.room_reopen(room=room)
    messages.success(request, _("Room reopened."))
    return redirect(room_url(room))


@account_required
def room_delete(request: HttpRequest, public_id: str) -> HttpResponse:
    room = selectors.room_for_owner(public_id=public_id, user=request.user)
    if request.method == "POST":
        services.room_delete(room=room)
        messages.success(request, _("Room “%(name)s” deleted.") % {"name": room.name})
        return redirect("rooms:list")
    return render(request, "rooms/delete.html", {"room": room})


@account_required
@require_POST
def room_transcripts(request: HttpRequest, public_id: str) -> HttpResponse:
    room = selectors.room_for_owner(public_id=public_id, user=request.user)
    keep = request.POST.get("keep") == "on"
    services.room_set_keep_transcripts(room=room, keep=keep)
    if keep:
        messages.success(
            request, _("Transcripts are on from now. Everyone is told before they join and during the call.")
        )
    else:
        messages.success(request, _("Transcripts are off: from now on nothing said in this room is kept."))
    return redirect(room_url(room))


def _reader_language(request: HttpRequest, call: Call) -> str:
    membership = selectors.membership_for(room=call.room, user=request.user)
    return membership.listener_language if membership else request.user.profile.hear_language


@login_required
@require_GET
def call_transcript(request: HttpRequest, public_id: str, call_id: int) -> HttpResponse:
    call = selectors.call_for_reader(public_id=public_id, call_id=call_id, user=request.user)
    language = _reader_language(request, call)
    context = {
        "room": call.room,
        "call": call,
        "people": selectors.call_people(call),
        "lines": transcripts.lines_for(call, call.utterances.all(), language),
        "is_owner": call.room.owner_id == request.user.pk,
    }
    return render(request, "rooms/call.html", context)


EXPORTS = {
    "txt": "text/plain; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
}


@login_required
@require_GET
def call_export(request: HttpRequest, public_id: str, call_id: int, kind: str) -> HttpResponse:
    """The transcript as a file: plain text, WebVTT or SRT, in the reader's language."""
    call = selectors.call_for_reader(public_id=public_id, call_id=call_id, user=request.user)
    lines = transcripts.lines_for(call, call.utterances.all(), _reader_language(request, call))
    if kind == "vtt":
        body = transcripts.as_webvtt(lines)
    elif kind == "srt":
        body = transcripts.as_srt(lines)
    else:
        body = transcripts.as_text(room_name=call.room.name, call=call, lines=lines)
    response = HttpResponse(body, content_type=EXPORTS[kind])
    filename = f"call-{call.started_at:%Y%m%d-%H%M}.{kind}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@account_required
@require_POST
def call_transcript_delete(request: HttpRequest, public_id: str, call_id: int) -> HttpResponse:
    room = selectors.room_for_owner(public_id=public_id, user=request.user)
    call = get_object_or_404(room.calls, pk=call_id)
    transcripts.transcript_delete(call=call)
    messages.success(request, _("Transcript deleted."))
    return redirect(room_url(room))


def _rate(setting: str) -> Callable[[str, HttpRequest], str]:
    """A rate read from settings on every request, so it can change without a restart."""
    return lambda group, request: str(getattr(settings, setting))


def _too_many(request: HttpRequest, explanation: str) -> HttpResponse:
    context = {
        "title": _("Too many attempts"),
        "explanation": explanation,
        "reason": "rate_limited",
    }
    return render(request, "rooms/invite_error.html", context, status=429)


@account_required
@require_POST
@ratelimit(key="user", rate=_rate("INVITE_CREATE_RATE"), method="POST", block=False)
def invite_create(request: HttpRequest, public_id: str) -> HttpResponse:
    room = selectors.room_for_owner(public_id=public_id, user=request.user)
    if getattr(request, "limited", False):
        return _too_many(
            request, _("Too many new invites from here in a short time. Wait a few minutes and try again.")
        )
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The invite was not created: days must be 1 to 365 and uses at least 1."))
        return redirect(room_url(room))
    issued = services.invite_create(room=room, created_by=request.user, **form.cleaned_data)
    _remember_token(request, issued.invite, issued.token)
    messages.success(request, _("New invite created."))
    return redirect(room_url(room))


@account_required
@require_POST
def invite_revoke(request: HttpRequest, public_id: str, invite_id: int) -> HttpResponse:
    room = selectors.room_for_owner(public_id=public_id, user=request.user)
    invite = get_object_or_404(room.invites, pk=invite_id)
    services.invite_revoke(invite=invite)
    _forget_token(request, invite)
    messages.success(request, _("Invite revoked. Its link no longer lets anyone in."))
    return redirect(room_url(room))


@account_required
@require_POST
def invite_revoke_and_remove(request: HttpRequest, public_id: str, invite_id: int) -> HttpResponse:
    room = selectors.room_for_owner(public_id=public_id, user=request.user)
    invite = get_object_or_404(room.invites, pk=invite_id)
    removed = services.invite_revoke_and_remove(invite=invite)
    _forget_token(request, invite)
    messages.success(
        request,
        ngettext(
            "Invite revoked, and the person who joined through it removed.",
            "Invite revoked, and the %(count)d people who joined through it removed.",
            removed,
        )
        % {"count": removed},
    )
    return redirect(room_url(room))


@account_required
@require_POST
def member_remove(request: HttpRequest, public_id: str, membership_id: int) -> HttpResponse:
    room = selectors.room_for_owner(public_id=public_id, user=request.user)
    membership = get_object_or_404(
        room.memberships.exclude(role=Membership.Role.OWNER).select_related("user__profile"), pk=membership_id
    )
    services.membership_remove(membership=membership)
    messages.success(request, f"{membership.user.profile.name} was removed from the room.")
    return redirect(room_url(room))


def _invite_failure(request: HttpRequest, reason: InviteFailure) -> HttpResponse:
    status, title, explanation = INVITE_FAILURE_PAGES[reason]
    context = {"title": title, "explanation": explanation, "reason": reason.value}
    return render(request, "rooms/invite_error.html", context, status=status)


def _confirm_join(request: HttpRequest, invite: Invite) -> HttpResponse:
    """A signed-in person sees whose room this is and joins by POST (a GET never makes a member)."""
    if selectors.membership_for(room=invite.room, user=request.user) is not None:
        request.session.pop(selectors.SESSION_PENDING_INVITE, None)
        return redirect(room_url(invite.room))
    if selectors.is_guest(request.user):
        return _invite_failure(request, InviteFailure.GUEST_ELSEWHERE)
    problem = selectors.invite_problem(invite)
    if problem is not None:
        return _invite_failure(request, problem)
    if request.method == "POST":
        try:
            membership = services.member_join(invite=invite, user=request.user)
        except services.InviteError as error:
            return _invite_failure(request, error.reason)
        request.session.pop(selectors.SESSION_PENDING_INVITE, None)
        return redirect(room_url(membership.room))
    return render(request, "rooms/invite_confirm.html", {"room": invite.room})


# Per address: bounds guessing of invite tokens and the guest accounts one address can make.
@origin_only_referrer
@ratelimit(key="ip", rate=_rate("INVITE_OPEN_RATE"), method=ratelimit.ALL, block=False)
def invite(request: HttpRequest, token: str) -> HttpResponse:
    if getattr(request, "limited", False):
        return _too_many(
            request,
            _(
                "Too many attempts with invite links from here in a short time. "
                "Wait a few minutes and try again."
            ),
        )
    found = selectors.invite_lookup(token)
    if request.user.is_authenticated:
        if found is None:
            return _invite_failure(request, InviteFailure.UNKNOWN)
        return _confirm_join(request, found)
    problem = InviteFailure.UNKNOWN if found is None else selectors.invite_problem(found)
    if problem is not None:
        return _invite_failure(request, problem)
    request.session[selectors.SESSION_PENDING_INVITE] = found.pk
    form = (
        GuestJoinForm(request.POST or None, initial={"language": listener_language(get_language())})
        if found.room.allow_guests
        else None
    )
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            guest = services.guest_join(
                token=token,
                display_name=form.cleaned_data["display_name"],
                language=form.cleaned_data["language"],
            )
        except services.InviteError as error:
            return _invite_failure(request, error.reason)
        login(request, guest, backend="django.contrib.auth.backends.ModelBackend")
        request.session.pop(selectors.SESSION_PENDING_INVITE, None)
        return redirect(room_url(found.room))
    return render(request, "rooms/invite.html", {"room": found.room, "form": form})


@origin_only_referrer
@login_required
def join(request: HttpRequest) -> HttpResponse:
    """Where signing up or logging in from an invite page leads: that invite's confirmation."""
    invite = selectors.pending_invite(request.session)
    if invite is None:
        return _invite_failure(request, InviteFailure.UNKNOWN)
    return _confirm_join(request, invite)
