from __future__ import annotations

import csv
import logging
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import AbstractUser
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from redis.exceptions import RedisError

from . import dashboard, live, selectors
from .forms import UsageFilterForm
from .models import (
    CallParticipation,
    DailyUsage,
    Invite,
    Membership,
    Profile,
    Room,
    TranslationUsage,
    UsageDashboard,
)

logger = logging.getLogger(__name__)

User = get_user_model()


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = [
        "display_name",
        "hear_language",
        "speak_language",
        "is_guest",
        "monthly_minutes_quota",
        "created_at",
    ]
    readonly_fields = ["created_at"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "hear_language", "joined_at", "invite"]
    raw_id_fields = ["user", "invite"]


class InviteInline(admin.TabularInline):
    model = Invite
    extra = 0
    fields = ["created_by", "expires_at", "max_uses", "uses", "revoked_at", "created_at"]
    readonly_fields = ["created_by", "uses", "created_at"]

    # Invites are made on the room page: the plain token must be shown to someone at creation.
    def has_add_permission(self, request: HttpRequest, obj: Room | None = None) -> bool:
        return False


admin.site.unregister(User)


@admin.register(User)
class UserWithProfileAdmin(UserAdmin):
    inlines = [ProfileInline]
    list_display = [*UserAdmin.list_display, "is_guest"]
    list_filter = [*UserAdmin.list_filter, "profile__is_guest"]

    @admin.display(boolean=True, description="Guest", ordering="profile__is_guest")
    def is_guest(self, user: AbstractUser) -> bool:
        return bool(getattr(user, "profile", None) and user.profile.is_guest)


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "display_name",
        "hear_language",
        "speak_language",
        "is_guest",
        "monthly_minutes_quota",
        "created_at",
    ]
    list_filter = ["is_guest", "hear_language", "speak_language"]
    search_fields = ["display_name", "user__username", "user__email"]
    raw_id_fields = ["user"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "public_id",
        "owner",
        "allow_guests",
        "keep_transcripts",
        "created_at",
        "closed_at",
    ]
    list_filter = [
        "allow_guests",
        "keep_transcripts",
        ("closed_at", admin.EmptyFieldListFilter),
        "created_at",
    ]
    search_fields = ["name", "public_id", "owner__email", "owner__username"]
    # Only the owner turns transcripts on, where everyone in the room is told (rooms:transcripts).
    readonly_fields = ["public_id", "keep_transcripts", "created_at"]
    raw_id_fields = ["owner"]
    inlines = [MembershipInline, InviteInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "room", "role", "hear_language", "joined_at"]
    list_filter = ["role", "hear_language"]
    search_fields = [
        "user__username",
        "user__email",
        "user__profile__display_name",
        "room__name",
        "room__public_id",
    ]
    raw_id_fields = ["user", "room", "invite"]


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ["pk", "room", "created_by", "created_at", "expires_at", "uses", "max_uses", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "expires_at", "created_at"]
    search_fields = ["room__name", "room__public_id", "created_by__email"]
    readonly_fields = ["token_hash", "uses", "created_at"]
    raw_id_fields = ["room", "created_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by the system: staff look, nobody edits."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TranslationUsage)
class TranslationUsageAdmin(ReadOnlyAdmin):
    list_display = [
        "started_at",
        "room_public_id",
        "owner",
        "source_language",
        "language",
        "seconds_sent",
        "seconds_received",
        "tokens_total",
        "cost",
        "errors",
        "reconnects",
        "final",
    ]
    list_filter = ["final", "language", "model", "started_at"]
    search_fields = ["session_id", "room_public_id", "room__name", "owner__email", "worker_id"]
    date_hierarchy = "started_at"
    list_select_related = ["owner"]
    show_full_result_count = False


@admin.register(CallParticipation)
class CallParticipationAdmin(ReadOnlyAdmin):
    list_display = ["joined_at", "left_at", "seconds", "user", "room"]
    list_filter = [("left_at", admin.EmptyFieldListFilter), "joined_at"]
    search_fields = ["user__email", "user__username", "room__name", "room__public_id"]
    list_select_related = ["user", "room"]
    date_hierarchy = "joined_at"


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = [
        "day",
        "owner",
        "room_public_id",
        "source_language",
        "language",
        "sessions",
        "minutes",
        "cost",
        "errors",
        "reconnects",
    ]
    list_filter = ["day", "language"]
    search_fields = ["owner__email", "room_public_id"]
    list_select_related = ["owner"]
    date_hierarchy = "day"


class Echo:
    """A file-like object whose write() hands back the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


@admin.register(UsageDashboard)
class UsageDashboardAdmin(ReadOnlyAdmin):
    """The staff usage dashboard: its changelist is the overview page, with a CSV export."""

    DEFAULT_DAYS = 30

    def get_urls(self) -> list[URLPattern]:
        export = path(
            "export.csv",
            self.admin_site.admin_view(self.export_view),
            name="rooms_usagedashboard_export",
        )
        return [export, *super().get_urls()]

    def _filters(self, request: HttpRequest) -> tuple[UsageFilterForm, dashboard.UsageFilter | None]:
        today = timezone.now().date()
        data = request.GET.copy()
        data.setdefault("first_day", str(today - timedelta(days=self.DEFAULT_DAYS - 1)))
        data.setdefault("last_day", str(today))
        form = UsageFilterForm(data)
        if not form.is_valid():
            return form, None
        selection = dashboard.UsageFilter(
            first_day=form.cleaned_data["first_day"],
            last_day=form.cleaned_data["last_day"],
            owner=form.cleaned_data["owner"],
            room=form.cleaned_data["room"],
        )
        return form, selection

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        if not self.has_view_permission(request):
            return super().changelist_view(request, extra_context)
        form, selection = self._filters(request)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Usage dashboard",
            "opts": self.model._meta,
            "form": form,
            "selection": selection,
            "live": self._live(),
            "site_spend": selectors.site_spend(),
        }
        if selection is not None:
            per_day = dashboard.usage_per_day(selection)
            context.update(
                totals=dashboard.usage_totals(selection),
                per_day=per_day,
                minutes_chart=dashboard.bar_chart([(d["day"], d["minutes"]) for d in per_day]),
                cost_chart=dashboard.bar_chart([(d["day"], float(d["dollars"])) for d in per_day]),
                owners=dashboard.top_owners(selection),
                rooms=dashboard.top_rooms(selection),
                pairs=dashboard.language_pairs(selection),
                calls=dashboard.call_totals(selection),
                export_query=request.GET.urlencode(),
            )
        return TemplateResponse(request, "admin/rooms/usage_dashboard.html", context)

    @staticmethod
    def _live() -> live.LiveNumbers | None:
        try:
            return live.live_numbers()
        except (RedisError, OSError):
            logger.warning("usage dashboard: the worker registry is unreachable", exc_info=True)
            return None

    def export_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse("Forbidden", status=403)
        form, selection = self._filters(request)
        if selection is None:
            return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
        writer = csv.writer(Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in dashboard.csv_rows(selection)), content_type="text/csv"
        )
        name = f"usage-{selection.first_day}-{selection.last_day}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
