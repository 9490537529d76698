from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import AbstractUser
from django.http import HttpRequest

from .models import Invite, Membership, Profile, Room

User = get_user_model()


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ["display_name", "hear_language", "speak_language", "is_guest", "created_at"]
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
    list_display = ["user", "display_name", "hear_language", "speak_language", "is_guest", "created_at"]
    list_filter = ["is_guest", "hear_language", "speak_language"]
    search_fields = ["display_name", "user__username", "user__email"]
    raw_id_fields = ["user"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "public_id", "owner", "allow_guests", "created_at", "closed_at"]
    list_filter = ["allow_guests", ("closed_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["name", "public_id", "owner__email", "owner__username"]
    readonly_fields = ["public_id", "created_at"]
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
