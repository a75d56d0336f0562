from __future__ import annotations

import uuid
from types import SimpleNamespace

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from apps.targets import selectors
from apps.targets.models import (
    ConnectionMethod,
    Credential,
    Group,
    HealthCheck,
    HostKey,
    Target,
    TargetLabel,
    name_validator,
)
from apps.targets.services.inventory import METHOD_FIELDS, TARGET_FIELDS, validate_host
from opsconductor.api.serializers import StrictFieldsMixin

MAX_TAGS = 50
MAX_LABELS = 50


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "description": "A credential's id or name"},
            {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string"},
                },
            },
        ]
    }
)
class CredentialRefField(serializers.Field):
    """A credential named by id or by name; shown as ``{"id", "name"}``."""

    default_error_messages = {"missing": "No credential with this id or name."}

    def to_representation(self, value: Credential) -> dict:
        return {"id": str(value.pk), "name": value.name}

    def to_internal_value(self, data) -> Credential:
        if isinstance(data, dict):
            data = data.get("id") or data.get("name")
        if not isinstance(data, str) or not data or len(data) > 64:
            self.fail("missing")
        try:
            lookup = {"pk": uuid.UUID(data)}
        except ValueError:
            lookup = {"name": data}
        credential = Credential.objects.filter(**lookup).first()
        if credential is None:
            self.fail("missing")
        return credential


class HostField(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 253)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            return validate_host(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc


class ConnectionMethodSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    host = HostField()
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False)
    credential = CredentialRefField(required=False, allow_null=True)

    class Meta:
        model = ConnectionMethod
        fields = ("id", *METHOD_FIELDS, "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class LabelsField(serializers.DictField):
    """``{"key": "value"}``; keys as names are, values strings of at most 255 characters."""

    child = serializers.CharField(max_length=255, allow_blank=True)

    def to_internal_value(self, data):
        labels = super().to_internal_value(data)
        if len(labels) > MAX_LABELS:
            raise serializers.ValidationError(f"At most {MAX_LABELS} labels.")
        errors = {}
        for key in labels:
            try:
                name_validator(key)
            except DjangoValidationError as exc:
                errors[key] = exc.messages
        if errors:
            raise serializers.ValidationError(errors)
        return labels


class TagsField(serializers.ListField):
    child = serializers.CharField(max_length=64, validators=[name_validator])

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", MAX_TAGS)
        super().__init__(**kwargs)


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField(source="health_status")
    # null until the target's first check
    checked_at = serializers.DateTimeField(source="health_checked_at", allow_null=True)
    latency_ms = serializers.IntegerField(source="health_latency_ms", allow_null=True)
    message = serializers.CharField(source="health_message")


def _plain_fields(fields) -> list[tuple[str, str, object]]:
    """(name, source, to_representation) of fields each read from one attribute or column."""
    plan = []
    for f in fields:
        if len(f.source_attrs) != 1 or isinstance(f, serializers.BaseSerializer):
            raise TypeError(f"the target list cannot render {f.field_name!r} from a column")
        plan.append((f.field_name, f.source, _converter(f)))
    return plan


def _converter(f: serializers.Field):
    """``f.to_representation``, or a shorter function giving the same result for what the
    database returns. The zone is read once: renderers are kept per time zone
    (``TargetSerializer.row_renderer``)."""
    if type(f) is serializers.CharField:
        return str  # CharField.to_representation is str(value)
    if isinstance(f, serializers.DateTimeField) and type(f).to_representation is (
        serializers.DateTimeField.to_representation
    ):
        zone = f.timezone if hasattr(f, "timezone") else f.default_timezone()
        output_format = getattr(f, "format", api_settings.DATETIME_FORMAT)
        if zone is not None and output_format and output_format.lower() == ISO_8601:
            represent = f.to_representation

            def iso_8601(value):
                # DRF's steps for an aware date-time without its per-value zone lookup
                if value.tzinfo is None:
                    return represent(value)
                try:
                    text = value.astimezone(zone).isoformat()
                except OverflowError:
                    return represent(value)  # DRF's own error
                return text[:-6] + "Z" if text.endswith("+00:00") else text

            return iso_8601
    return f.to_representation


class TargetListSerializer(serializers.ListSerializer):
    """A page of targets: for each target exactly what ``TargetSerializer`` gives for it alone
    (tests compare the two), built from the page's rows plus three bulk queries of plain rows
    (``selectors.target_list_details``) instead of a prefetch of model instances, and from each
    field's own ``to_representation`` without DRF's per-field walk. The queryset needs no
    prefetch (``selectors.targets_for_list``)."""

    def to_representation(self, data):
        iterable = data.all() if isinstance(data, models.manager.BaseManager) else data
        targets = list(iterable)
        render = self.child.row_renderer()
        details = selectors.target_list_details(
            [t.pk for t in targets], method_columns=render.method_columns
        )
        return [render(target, details) for target in targets]


class _TargetRowRenderer:
    """Renders one target of a list from its instance and the page's details (see above)."""

    def __init__(self, serializer: TargetSerializer):
        # (name, kind, ...) in the serializer's field order: "attr" (a column of the target),
        # "health" (the nested source="*" serializer), "methods" (the nested list)
        self.plan: list[tuple] = []
        self.method_columns: tuple[str, ...] = ()
        for f in serializer._readable_fields:
            if isinstance(f, HealthSerializer):
                self.plan.append((f.field_name, "health", _plain_fields(f._readable_fields)))
            elif isinstance(f, serializers.ListSerializer) and isinstance(
                f.child, ConnectionMethodSerializer
            ):
                method_plan = []
                for m in f.child._readable_fields:
                    if isinstance(m, CredentialRefField):
                        method_plan.append((m.field_name, None, m.to_representation))
                    else:
                        method_plan.extend(_plain_fields([m]))
                self.method_columns = tuple(src for _, src, _ in method_plan if src)
                self.plan.append((f.field_name, "methods", method_plan))
            else:
                (entry,) = _plain_fields([f])
                self.plan.append((entry[0], "attr", entry[1], entry[2]))

    def __call__(self, target: Target, details: selectors.TargetListDetails) -> dict:
        key = str(target.pk)
        data = {}
        for entry in self.plan:
            name, kind = entry[0], entry[1]
            if kind == "attr":
                value = getattr(target, entry[2])
                data[name] = None if value is None else entry[3](value)
            elif kind == "health":
                health = {}
                for field_name, source, represent in entry[2]:
                    value = getattr(target, source)
                    health[field_name] = None if value is None else represent(value)
                data[name] = health
            else:
                data[name] = [self.method(row, entry[2]) for row in details.methods.get(key, ())]
        # as TargetSerializer.to_representation: after the other fields
        data["tags"] = details.tags.get(key, [])
        data["labels"] = details.labels.get(key, {})
        return data

    @staticmethod
    def method(row: dict, plan: list[tuple]) -> dict:
        method = {}
        for name, source, represent in plan:
            if source is None:  # the credential, from its id and name
                credential_id = row["credential_id"]
                method[name] = (
                    None
                    if credential_id is None
                    else represent(SimpleNamespace(pk=credential_id, name=row["credential__name"]))
                )
            else:
                value = row[source]
                method[name] = None if value is None else represent(value)
        return method


_ROW_RENDERERS: dict[tuple[type, str], _TargetRowRenderer] = {}


class TargetSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    # Written as lists/dicts; read back by to_representation (they are relations on the model).
    tags = TagsField(required=False, write_only=True)
    labels = LabelsField(required=False, write_only=True)
    connection_methods = ConnectionMethodSerializer(many=True, required=False)
    health = HealthSerializer(source="*", read_only=True)

    class Meta:
        model = Target
        fields = (
            "id",
            *TARGET_FIELDS,
            "tags",
            "labels",
            "connection_methods",
            "health",
            "created_by_id",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_by_id", "created_at", "updated_at")
        list_serializer_class = TargetListSerializer

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list):
            # Methods of an existing target change through /targets/{id}/methods/.
            fields["connection_methods"].read_only = True
        return fields

    def row_renderer(self) -> _TargetRowRenderer:
        """The list's renderer of one target (``TargetListSerializer``). Built once per time
        zone (the date-times' zone) from a serializer of its own without context: building a
        ModelSerializer's fields costs ~1 ms a request, and no readable field here reads the
        request or the instance (tests compare lists with details)."""
        zone = str(timezone.get_current_timezone())
        renderer = _ROW_RENDERERS.get((type(self), zone))
        if renderer is None:
            renderer = _ROW_RENDERERS[type(self), zone] = _TargetRowRenderer(type(self)())
        return renderer

    def to_representation(self, target: Target) -> dict:
        # TargetListSerializer renders lists the same way (keep the two in step)
        data = super().to_representation(target)
        data["tags"] = sorted(tag.name for tag in target.tags.all())
        data["labels"] = {label.key: label.value for label in target.labels.all()}
        return data


class TargetCsvRowSerializer(StrictFieldsMixin, serializers.Serializer):
    """A CSV row: the target's fields plus one connection method in flat columns. An empty
    cell is a value not given (a row without a method leaves protocol, host, ... empty)."""

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    os_family = serializers.ChoiceField(Target.OsFamily.choices, required=False, allow_blank=True)
    environment = serializers.ChoiceField(
        Target.Environment.choices, required=False, allow_blank=True
    )
    location = serializers.CharField(required=False, allow_blank=True, max_length=100)
    data_center = serializers.CharField(required=False, allow_blank=True, max_length=100)
    region = serializers.CharField(required=False, allow_blank=True, max_length=100)
    status = serializers.ChoiceField(Target.Status.choices, required=False, allow_blank=True)
    host_key_policy = serializers.ChoiceField(
        Target.HostKeyPolicy.choices, required=False, allow_blank=True
    )
    tags = serializers.CharField(required=False, allow_blank=True, help_text="space separated")
    labels = serializers.CharField(required=False, allow_blank=True, help_text="k=v;k2=v2")
    protocol = serializers.ChoiceField(
        ConnectionMethod.Protocol.choices, required=False, allow_blank=True
    )
    host = serializers.CharField(required=False, allow_blank=True, max_length=253)
    port = serializers.CharField(required=False, allow_blank=True, max_length=5)
    username = serializers.CharField(required=False, allow_blank=True, max_length=128)
    credential = serializers.CharField(required=False, allow_blank=True, max_length=64)

    def to_target_data(self) -> dict:
        """The same row in the JSON import's shape."""
        row = {k: v for k, v in self.validated_data.items() if v not in ("", None)}
        data = {k: row[k] for k in TARGET_FIELDS if k in row}
        if "tags" in row:
            data["tags"] = row["tags"].split()
        if "labels" in row:
            pairs = [item.split("=", 1) for item in row["labels"].split(";") if item.strip()]
            data["labels"] = {p[0].strip(): (p[1].strip() if len(p) > 1 else "") for p in pairs}
        if "host" in row:
            method = {"protocol": row.get("protocol", "ssh"), "host": row["host"]}
            for key in ("port", "username", "credential"):
                if key in row:
                    method[key] = row[key]
            data["connection_methods"] = [method]
        return data


class TargetLabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = TargetLabel
        fields = ("key", "value")


class CredentialSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """Write-only secrets: responses show who set the secret and when, never the secret."""

    password = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, max_length=1024,
        style={"input_type": "password"},
    )  # fmt: skip
    private_key = serializers.CharField(
        write_only=True, required=False, trim_whitespace=False, max_length=16384
    )
    passphrase = serializers.CharField(
        write_only=True, required=False, allow_null=True, trim_whitespace=False, max_length=1024,
        style={"input_type": "password"},
    )  # fmt: skip
    secret_set_by = serializers.SerializerMethodField()
    used_by = serializers.SerializerMethodField()
    # The scope (docs/targets.md, "Credential scope"); validated by the service.
    allowed_targets = serializers.CharField(
        required=False, allow_blank=True, max_length=4000,
        help_text="A target selector; only targets it selects may use the credential (empty: any)",
    )  # fmt: skip
    allowed_hosts = serializers.ListField(
        child=serializers.CharField(max_length=300, allow_blank=True, trim_whitespace=False),
        required=False, max_length=500,
        help_text="Host names (exact or *.domain), IP addresses and CIDR networks (empty: any)",
    )  # fmt: skip
    attach_roles = serializers.ListField(
        child=serializers.CharField(max_length=20),
        required=False, max_length=3,
        help_text="Roles besides admin that may attach it to a connection method (default none)",
    )  # fmt: skip
    host_key_policy = serializers.ChoiceField(
        Credential.HostKeyPolicy.choices, required=False,
        help_text="strict: targets using it never trust a host key on first use",
    )  # fmt: skip

    class Meta:
        model = Credential
        fields = (
            "id",
            "name",
            "description",
            "kind",
            "username",
            "password",
            "private_key",
            "passphrase",
            "key_type",
            "key_fingerprint",
            "allowed_targets",
            "allowed_hosts",
            "attach_roles",
            "host_key_policy",
            "secret_set_at",
            "secret_set_by",
            "used_by",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "id",
            "key_type",
            "key_fingerprint",
            "secret_set_at",
            "created_at",
            "updated_at",
        )

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["kind"].read_only = True  # a different kind is a different credential
        return fields

    def get_secret_set_by(self, credential: Credential) -> dict:
        return {"id": credential.secret_set_by_id, "name": credential.secret_set_by_name}

    def get_used_by(self, credential: Credential) -> int:
        """How many connection methods use this credential."""
        used_by = getattr(credential, "used_by", None)  # annotated by the view's queryset
        return used_by if used_by is not None else credential.methods.count()


class GroupSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Target.objects.all()
    )

    class Meta:
        model = Group
        fields = ("id", "name", "description", "selector", "members", "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class HostKeySerializer(serializers.ModelSerializer):
    method_id = serializers.UUIDField(read_only=True)
    address = serializers.SerializerMethodField()
    decided_by = serializers.SerializerMethodField()

    class Meta:
        model = HostKey
        fields = (
            "id",
            "method_id",
            "address",
            "algorithm",
            "public_key",
            "fingerprint",
            "state",
            "source",
            "created_at",
            "last_seen_at",
            "decided_at",
            "decided_by",
        )
        read_only_fields = fields

    def get_address(self, key: HostKey) -> str:
        return f"{key.method.host}:{key.method.port}"

    def get_decided_by(self, key: HostKey) -> dict | None:
        if not key.decided_by_name:
            return None
        return {"id": key.decided_by_id, "name": key.decided_by_name}


class HostKeyAddSerializer(StrictFieldsMixin, serializers.Serializer):
    """A host key given by an admin, as in known_hosts: ``<algorithm> <base64 key>``."""

    key = serializers.CharField(max_length=16384)
    method_id = serializers.UUIDField(required=False)


class HealthCheckSerializer(serializers.ModelSerializer):
    target_name = serializers.CharField(source="target.name", read_only=True)
    state = serializers.SerializerMethodField()
    # empty while the check is queued or running
    status = serializers.ChoiceField(Target.Health.choices, allow_blank=True, read_only=True)
    # the connection method probed (a check of one method, or the target's primary method);
    # null when the target had none or the method was deleted since
    method_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = HealthCheck
        fields = (
            "id",
            "target_id",
            "target_name",
            "method_id",
            "batch_id",
            "state",
            "status",
            "latency_ms",
            "message",
            "started_at",
            "finished_at",
            "created_at",
        )
        read_only_fields = fields

    def get_state(self, check: HealthCheck) -> str:
        return "finished" if check.finished_at else "running" if check.started_at else "queued"


class SelectorSerializer(StrictFieldsMixin, serializers.Serializer):
    selector = serializers.CharField(max_length=4000, trim_whitespace=True)


class CheckRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    """Targets to check: a selector, or a list of ids (one of the two)."""

    selector = serializers.CharField(max_length=4000, required=False)
    target_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=10000
    )

    def validate(self, attrs):
        if bool(attrs.get("selector")) == bool(attrs.get("target_ids")):
            raise serializers.ValidationError(
                {"selector": ["Give either a selector or target_ids (not both, not neither)."]}
            )
        return attrs
