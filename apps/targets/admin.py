"""Django admin for the targets context. Secrets are write-only here too, and every change goes
through the same services as the API, so it is validated and audited the same way."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.targets import scope
from apps.targets.models import (
    ConnectionMethod,
    Credential,
    Group,
    HealthCheck,
    HostKey,
    Tag,
    Target,
    TargetLabel,
)
from apps.targets.services import credentials as credential_services
from apps.targets.services.credentials import parse_private_key
from apps.targets.services.inventory import METHOD_FIELDS, TARGET_FIELDS, validate_host
from opsconductor.events import Actor, publish


def _method_event(method: ConnectionMethod) -> dict:
    return {
        "target_id": str(method.target_id),
        "method_id": str(method.pk),
        "protocol": method.protocol,
        "address": f"{method.host}:{method.port}",
        "via": "admin",
    }


def _actor(request) -> Actor:
    return Actor(kind="user", id=str(request.user.pk), name=request.user.get_username())


class TargetLabelInline(admin.TabularInline):
    model = TargetLabel
    extra = 0


class ConnectionMethodForm(forms.ModelForm):
    class Meta:
        model = ConnectionMethod
        fields = METHOD_FIELDS

    def clean_host(self):
        return validate_host(self.cleaned_data["host"])

    def clean(self):
        """The credential's scope, as the API checks it: the host must be in its allowed hosts,
        a saved target in its allowed targets (a target being created here is checked when it
        connects)."""
        cleaned = super().clean()
        credential, host = cleaned.get("credential"), cleaned.get("host")
        if credential is not None and host:
            target = Target.objects.filter(pk=self.instance.target_id).first()
            try:
                scope.check_method_in_scope(
                    credential=credential, target=target, host=host, check_target=bool(target)
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
        return cleaned


class TargetForm(forms.ModelForm):
    class Meta:
        model = Target
        fields = (*TARGET_FIELDS, "tags")  # the admin passes its own list; this is the default

    def clean_host_key_policy(self):
        policy = self.cleaned_data["host_key_policy"]
        if policy == Target.HostKeyPolicy.ACCEPT_NEW and self.instance.pk:
            strict = (
                Credential.objects.filter(
                    methods__target_id=self.instance.pk,
                    host_key_policy=Credential.HostKeyPolicy.STRICT,
                )
                .values_list("name", flat=True)
                .first()
            )
            if strict:
                raise ValidationError(
                    f"Credential {strict} requires a strict host-key policy: it never trusts "
                    "a key on first use."
                )
        return policy


class ConnectionMethodInline(admin.StackedInline):
    model = ConnectionMethod
    form = ConnectionMethodForm
    extra = 0
    fields = (
        ("protocol", "host", "port"),
        ("username", "credential"),
        ("priority", "is_primary"),
        ("winrm_scheme", "winrm_transport", "winrm_validate_cert"),
    )


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    form = TargetForm
    list_display = ("name", "environment", "os_family", "status", "health_status", "region")
    list_filter = ("environment", "os_family", "status", "health_status", "tags")
    search_fields = ("name", "description", "location", "region", "data_center")
    filter_horizontal = ("tags",)
    readonly_fields = (
        "health_status",
        "health_checked_at",
        "health_latency_ms",
        "health_message",
        "created_by_id",
        "created_at",
        "updated_at",
    )
    inlines = (TargetLabelInline, ConnectionMethodInline)

    # Changes made here are published like the API's, so the audit trail sees them too.
    def save_model(self, request, obj, form, change):
        with transaction.atomic(using="targets"):
            super().save_model(request, obj, form, change)
            payload = {"target_id": str(obj.pk), "name": obj.name, "via": "admin"}
            if change:
                changes = {
                    field: {"from": form.initial.get(field), "to": form.cleaned_data.get(field)}
                    for field in form.changed_data
                    if field != "tags"
                }
                if "tags" in form.changed_data:
                    changes["tags"] = {"to": sorted(t.name for t in form.cleaned_data["tags"])}
                publish(
                    "targets.target.updated", {**payload, "changes": changes}, actor=_actor(request)
                )
            else:
                publish("targets.target.created", payload, actor=_actor(request))

    def save_formset(self, request, form, formset, change):
        with transaction.atomic(using="targets"):
            super().save_formset(request, form, formset, change)
            if formset.model is not ConnectionMethod:
                return
            for method in formset.new_objects:
                publish(
                    "targets.connection_method.created",
                    _method_event(method),
                    actor=_actor(request),
                )
            for method, _fields in formset.changed_objects:
                publish(
                    "targets.connection_method.updated",
                    _method_event(method),
                    actor=_actor(request),
                )
            for method in formset.deleted_objects:
                publish(
                    "targets.connection_method.deleted",
                    _method_event(method),
                    actor=_actor(request),
                )

    def delete_model(self, request, obj):
        with transaction.atomic(using="targets"):
            payload = {"target_id": str(obj.pk), "name": obj.name, "via": "admin"}
            super().delete_model(request, obj)
            publish("targets.target.deleted", payload, actor=_actor(request))

    def delete_queryset(self, request, queryset):
        for target in queryset:
            self.delete_model(request, target)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name", "selector")
    search_fields = ("name", "description", "selector")
    filter_horizontal = ("members",)


class CredentialForm(forms.ModelForm):
    """Secrets are typed in, never shown: leave them empty to keep the current secret."""

    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    private_key = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6, "autocomplete": "off"})
    )
    passphrase = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False))
    # The scope (docs/targets.md, "Credential scope")
    allowed_hosts = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line: host names (exact or *.domain), IP addresses, CIDR networks. "
        "Empty: any host.",
    )
    attach_roles = forms.MultipleChoiceField(
        required=False,
        choices=[(role, role) for role in scope.ATTACH_ROLES],
        widget=forms.CheckboxSelectMultiple,
        help_text="Roles besides admin that may attach this credential to a connection method.",
    )

    host_key_policy = forms.ChoiceField(
        required=False,
        choices=Credential.HostKeyPolicy.choices,
        initial=Credential.HostKeyPolicy.TARGET,
    )

    class Meta:
        model = Credential
        fields = (
            "name",
            "description",
            "kind",
            "username",
            "allowed_targets",
            "allowed_hosts",
            "attach_roles",
            "host_key_policy",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["allowed_hosts"] = "\n".join(self.instance.allowed_hosts or [])
            self.initial["attach_roles"] = list(self.instance.attach_roles or [])

    def clean_allowed_hosts(self):
        lines = [line.strip() for line in self.cleaned_data["allowed_hosts"].splitlines()]
        try:
            return scope.normalise_allowed_hosts([line for line in lines if line])
        except ValidationError as exc:
            raise ValidationError(
                [f"{key}: {'; '.join(errors)}" for key, errors in exc.message_dict.items()]
            ) from exc

    def clean_host_key_policy(self):
        return self.cleaned_data.get("host_key_policy") or Credential.HostKeyPolicy.TARGET

    def clean_allowed_targets(self):
        try:
            return scope.validate_allowed_targets(self.cleaned_data["allowed_targets"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["allowed_targets"]) from exc

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind") or (self.instance.kind if self.instance.pk else None)
        creating = self.instance.pk is None
        if kind == Credential.Kind.SSH_KEY:
            if cleaned.get("private_key"):
                try:
                    parse_private_key(cleaned["private_key"], cleaned.get("passphrase") or None)
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        self.add_error(field, errors)
            elif creating:
                self.add_error("private_key", "This field is required for an ssh_key.")
        elif kind and creating and not cleaned.get("password"):
            self.add_error("password", "This field is required.")
        return cleaned


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    form = CredentialForm
    list_display = (
        "name",
        "kind",
        "username",
        "key_fingerprint",
        "host_key_policy",
        "secret_set_at",
    )
    list_filter = ("kind", "host_key_policy")
    search_fields = ("name", "username", "description")
    readonly_fields = (
        "key_type",
        "key_fingerprint",
        "secret_set_at",
        "secret_set_by_name",
        "created_at",
        "updated_at",
    )

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "kind") if obj else fields

    def save_model(self, request, obj, form, change):
        secrets = {
            key: form.cleaned_data.get(key) or None
            for key in ("password", "private_key", "passphrase")
        }
        common = {
            "name": form.cleaned_data["name"],
            "username": form.cleaned_data["username"],
            "description": form.cleaned_data["description"],
            **{field: form.cleaned_data[field] for field in credential_services.SCOPE_FIELDS},
            **secrets,
            "actor": _actor(request),
        }
        if change:
            saved = credential_services.credential_update(credential=obj, **common)
        else:
            kind = form.cleaned_data["kind"]
            saved = credential_services.credential_create(kind=kind, **common)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        credential_services.credential_delete(credential=obj, actor=_actor(request))


@admin.register(HostKey)
class HostKeyAdmin(admin.ModelAdmin):
    list_display = ("method", "algorithm", "fingerprint", "state", "source", "last_seen_at")
    list_filter = ("state", "source", "algorithm")
    search_fields = ("fingerprint", "method__host", "method__target__name")
    readonly_fields = (
        "method",
        "algorithm",
        "public_key",
        "fingerprint",
        "source",
        "last_seen_at",
        "decided_at",
        "decided_by_name",
    )

    def has_add_permission(self, request):
        return False


@admin.register(HealthCheck)
class HealthCheckAdmin(admin.ModelAdmin):
    list_display = ("target", "status", "latency_ms", "finished_at")
    list_filter = ("status",)
    search_fields = ("target__name", "message")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
