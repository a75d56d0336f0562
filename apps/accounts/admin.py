"""Django admin for users and API tokens.

Writes go through the services, so the admin site publishes the same events and keeps the same
invariants as the API (the last active admin stays; a new password ends the user's sessions).
"""

from __future__ import annotations

from django import forms
from django.apps import apps as django_apps
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.contrib.auth.models import Group
from django.db import router, transaction
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from apps.accounts import selectors, services
from apps.accounts.interface import actor_for_request
from apps.accounts.models import ApiToken, User
from opsconductor.observability.middleware import client_ip
from opsconductor.roles import Role

# Roles decide everything (opsconductor.roles); Django's groups and permissions have no effect.
if admin.site.is_registered(Group):
    admin.site.unregister(Group)
# simplejwt's token blacklist is how sign-outs and password changes end sessions (the services
# write it); editing it by hand would revive or end sessions behind the audit trail's back.
for _model in django_apps.get_app_config("token_blacklist").get_models():
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


def _email_taken(email: str, *, exclude_pk=None) -> bool:
    return bool(email) and User.objects.filter(email__iexact=email).exclude(pk=exclude_pk).exists()


class UserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "email", "role", "is_auditor")

    def clean_email(self):
        email = self.cleaned_data.get("email", "")
        if _email_taken(email):
            raise forms.ValidationError("A user with that email address already exists.")
        return email


class UserChangeForm(DjangoUserChangeForm):
    class Meta(DjangoUserChangeForm.Meta):
        model = User

    def clean_username(self):
        username = self.cleaned_data.get("username", "")
        if User.objects.filter(username__iexact=username).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A user with that username already exists.")
        return username

    def clean_email(self):
        email = self.cleaned_data.get("email", "")
        if _email_taken(email, exclude_pk=self.instance.pk):
            raise forms.ValidationError("A user with that email address already exists.")
        return email

    def clean(self):
        cleaned = super().clean()
        stored = User.objects.filter(pk=self.instance.pk).first()
        if stored is not None and stored.is_active and stored.role == Role.ADMIN:
            stays_admin = (
                cleaned.get("is_active", True) and cleaned.get("role", Role.ADMIN) == Role.ADMIN
            )
            others = User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=stored.pk)
            if not stays_admin and not others.exists():
                raise forms.ValidationError(services.LastAdminError.default_detail)
        return cleaned


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = (*services.USER_EDITABLE_FIELDS, "last_login")
    list_filter = ("role", "is_auditor", "is_active")
    search_fields = ("username", "email", "first_name", "last_name")
    ordering = ("username",)
    readonly_fields = ("id", "last_login", "date_joined", "created_at", "updated_at")
    filter_horizontal = ()
    fieldsets = (
        (None, {"fields": ("id", "username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        (
            "Access",
            {
                "fields": ("role", "is_auditor", "is_active"),
                "description": (
                    "The role decides what the user may do; admins (only they) reach this site. "
                    "The auditor capability lets any role read the audit trail."
                ),
            },
        ),
        ("Dates", {"fields": ("last_login", "date_joined", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
        ("Access", {"fields": ("email", "role", "is_auditor")}),
    )

    def save_model(self, request, obj, form, change):
        actor = actor_for_request(request)
        if change:
            data = {
                field: form.cleaned_data[field]
                for field in form.changed_data
                if field in services.USER_EDITABLE_FIELDS
            }
            services.user_update(user=User.objects.get(pk=obj.pk), data=data, actor=actor)
        else:
            usable = form.cleaned_data.get("set_usable_password", True)
            user = services.user_create(
                username=obj.username,
                password=form.cleaned_data.get("password1") if usable else None,
                email=obj.email,
                first_name=obj.first_name,
                last_name=obj.last_name,
                role=obj.role,
                is_auditor=obj.is_auditor,
                is_active=obj.is_active,
                actor=actor,
            )
            obj.pk = user.pk
            obj._state.adding = False
            obj._state.db = user._state.db
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_active and obj.role == Role.ADMIN:
            others = User.objects.filter(role=Role.ADMIN, is_active=True).exclude(pk=obj.pk)
            if not others.exists():
                return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        services.user_delete(user=obj, actor=actor_for_request(request))

    def get_actions(self, request):
        # Bulk deletion would skip the per-user checks; delete users one at a time.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request, id, form_url=""):
        # Django's form sets the password; record it (end the sessions, publish the event) in the
        # same transaction, when it actually changed.
        with transaction.atomic(using=router.db_for_write(User)):
            user = selectors.user_by_id(user_id=unquote(id))
            response = super().user_change_password(request, id, form_url)
            if user is not None and request.method == "POST":
                changed = User.objects.filter(pk=user.pk).exclude(password=user.password)
                if changed.exists():
                    services.user_password_set_elsewhere(
                        user=changed.get(), actor=actor_for_request(request)
                    )
        return response


class ApiTokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return (("active", "Active"), ("inactive", "Revoked or expired"))

    def queryset(self, request, queryset):
        if self.value() in ("active", "inactive"):
            return selectors.api_tokens_active(tokens=queryset, active=self.value() == "active")
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created through the API (their value is shown once, there). Here an admin can
    see them and revoke them; the digest is never shown."""

    list_display = (
        "name",
        "user",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
        "is_active",
    )
    list_filter = (ApiTokenStateFilter, "created_at")
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__username")
    fields = (
        "id",
        "name",
        "user",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = fields
    actions = ("revoke_selected",)

    @admin.display(boolean=True, description="active")
    def is_active(self, obj: ApiToken) -> bool:
        return obj.is_active

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row stays as history

    @admin.action(description="Revoke selected API tokens")
    def revoke_selected(self, request, queryset):
        actor = actor_for_request(request)
        revoked = sum(
            services.api_token_revoke(token=token, actor=actor)
            for token in queryset.filter(revoked_at__isnull=True).select_related("user")
        )
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


class ThrottledAdminLoginForm(AdminAuthenticationForm):
    """The admin site's sign-in goes through the same throttling and events as the API's."""

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        try:
            user = services.auth_authenticate(
                username=username,
                password=password,
                ip=client_ip(self.request) if self.request else None,
                channel="admin",
                request=self.request,
            )
        except services.LoginThrottled as exc:
            raise forms.ValidationError(
                f"Too many failed sign-ins. Try again in {exc.retry_after} seconds.",
                code="throttled",
            ) from exc
        except services.LoginFailed as exc:
            raise self.get_invalid_login_error() from exc
        self.confirm_login_allowed(user)
        self.user_cache = user
        return self.cleaned_data


admin.site.login_form = ThrottledAdminLoginForm
