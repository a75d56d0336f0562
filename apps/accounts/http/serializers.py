from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers

from apps.accounts.models import ApiToken, User
from apps.accounts.services import USER_EDITABLE_FIELDS
from opsconductor.api.serializers import StrictFieldsMixin

# Long enough for any passphrase, short enough that hashing it cannot be used to burn CPU.
PASSWORD_MAX_LENGTH = 4096


def password_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        trim_whitespace=False,
        max_length=PASSWORD_MAX_LENGTH,
        style={"input_type": "password"},
        **kwargs,
    )


# --- Sign-in ------------------------------------------------------------------------------------


class LoginSerializer(StrictFieldsMixin, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = password_field()


class ConsoleSessionStateSerializer(serializers.Serializer):
    authenticated = serializers.BooleanField(read_only=True)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(
        read_only=True, help_text="Send as `Authorization: Bearer <access>`; lives 15 minutes."
    )
    refresh = serializers.CharField(
        read_only=True,
        help_text="Exchange at /api/v1/auth/token/refresh/; works once (it rotates).",
    )


class RefreshSerializer(StrictFieldsMixin, serializers.Serializer):
    refresh = serializers.CharField()


class LogoutSerializer(StrictFieldsMixin, serializers.Serializer):
    refresh = serializers.CharField(help_text="The refresh token of the session to end.")


# --- Users --------------------------------------------------------------------------------------


# What every view of a user shows, admins' and the user's own.
USER_FIELDS = ("id", *USER_EDITABLE_FIELDS)


class UserSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A user as admins manage them. The password is write-only and required on creation."""

    password = password_field(required=False)

    class Meta:
        model = User
        fields = (
            *USER_FIELDS,
            "password",
            "date_joined",
            "last_login",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "date_joined", "last_login", "created_at", "updated_at")

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is None:
            fields["password"].required = True
        return fields

    def validate_password(self, value: str) -> str:
        # Checked as a field (with the other fields as sent) so that every problem is reported in
        # one answer; the service checks it again for callers that do not come through the API.
        sent = self.initial_data if isinstance(self.initial_data, Mapping) else {}
        candidate = User(
            **{
                field: str(sent.get(field, getattr(self.instance, field, "")) or "")
                for field in ("username", "email", "first_name", "last_name")
            }
        )
        try:
            password_validation.validate_password(value, candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value


# --- Me -----------------------------------------------------------------------------------------


class MeSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """The signed-in user's own profile. Only email and names can be changed here.

    Sending a different ``username``, ``role``, ``is_auditor`` or ``is_active`` is rejected
    (400 naming the field): only an admin changes those. Sending ``password`` is rejected too:
    use /api/v1/me/password/.
    """

    PRIVILEGED = ("username", "role", "is_auditor", "is_active")

    class Meta:
        model = User
        fields = (
            *USER_FIELDS,
            "date_joined",
            "last_login",
        )
        read_only_fields = (
            "id",
            "username",
            "role",
            "is_auditor",
            "is_active",
            "date_joined",
            "last_login",
        )

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            if "password" in data:
                errors["password"] = ["Change your password at /api/v1/me/password/."]
            for name in self.PRIVILEGED:
                if name in data and not self._unchanged(name, data[name]):
                    errors[name] = ["Only an admin can change this."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def _unchanged(self, name: str, value) -> bool:
        # Echoing the current value back (a GET, edited, then PUT) is not an attempt to change it.
        if self.instance is None:
            return False
        current = getattr(self.instance, name)
        if isinstance(current, bool):
            try:
                return serializers.BooleanField().to_internal_value(value) == current
            except serializers.ValidationError:
                return False
        return str(value) == str(current)


class PasswordChangeSerializer(StrictFieldsMixin, serializers.Serializer):
    old_password = password_field()
    new_password = password_field()


# --- API tokens ---------------------------------------------------------------------------------


class ApiTokenSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """An API token as listed: never its value or digest."""

    username = serializers.CharField(source="user.username", read_only=True)
    is_active = serializers.BooleanField(
        read_only=True, help_text="Neither revoked nor expired: requests with it are accepted."
    )

    class Meta:
        model = ApiToken
        fields = (
            "id",
            "name",
            "prefix",
            "user",
            "username",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "is_active",
        )
        read_only_fields = (
            "id",
            "prefix",
            "user",
            "username",
            "created_at",
            "last_used_at",
            "revoked_at",
        )
        extra_kwargs = {
            "expires_at": {"help_text": "When the token stops working; empty for never."}
        }

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("The expiry must be in the future.")
        return value


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    """The answer to creating a token: the one and only time its full value is shown."""

    token = serializers.CharField(
        read_only=True,
        help_text=(
            "The full token value, for `Authorization: Token <value>`. Shown only in this "
            "answer: store it now, it cannot be retrieved again."
        ),
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = (*ApiTokenSerializer.Meta.fields, "token")
