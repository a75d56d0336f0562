"""HTTP endpoints of accounts: thin adapters from requests to services and selectors."""

from __future__ import annotations

import uuid

import django_filters
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, mixins, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.accounts.http import serializers as s
from apps.accounts.interface import actor_for_request
from apps.accounts.models import ApiToken, User
from opsconductor.api.filters import StrictBooleanFilter
from opsconductor.api.permissions import AdminOnly, IsAuthenticatedUser
from opsconductor.observability.middleware import client_ip
from opsconductor.roles import Role, has_role

INVALID_CREDENTIALS = "No active account found with the given credentials."


class SessionCsrfCheck(SessionAuthentication):
    """DRF's CSRF check of session writes, for a view that authenticates nobody yet."""


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(description=description)


class _PublicAuthView(APIView):
    """Sign-in endpoints: no authentication, but a 401 still carries a Bearer challenge."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'


class LoginView(_PublicAuthView):
    @extend_schema(
        tags=["auth"],
        summary="Sign in",
        description=(
            "Exchange a username and password for a JWT pair. After LOGIN_FAILURE_LIMIT failed "
            "attempts for one username (or four times that from one address) within "
            "LOGIN_LOCKOUT_SECONDS, sign-in is refused with 429 and `Retry-After`, even with the "
            "right password, until the lockout ends."
        ),
        request=s.LoginSerializer,
        responses={
            200: s.TokenPairSerializer,
            400: _error("Missing username or password."),
            401: _error("Wrong credentials, or the account is inactive."),
            429: _error("Locked out after too many failures; see the Retry-After header."),
        },
        auth=[],
    )
    def post(self, request):
        serializer = s.LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            tokens = services.auth_login(
                username=serializer.validated_data["username"],
                password=serializer.validated_data["password"],
                ip=client_ip(request) or None,
            )
        except services.LoginThrottled as exc:
            raise exceptions.Throttled(
                wait=exc.retry_after, detail="Too many failed sign-in attempts."
            ) from exc
        except services.LoginFailed as exc:
            raise exceptions.AuthenticationFailed(
                INVALID_CREDENTIALS, code="invalid_credentials"
            ) from exc
        return Response(s.TokenPairSerializer(tokens).data)


class RefreshView(_PublicAuthView):
    @extend_schema(
        tags=["auth"],
        summary="Refresh a session",
        description=(
            "Exchange a refresh token for a new access token and a new refresh token. "
            "The refresh token sent is blacklisted: each one works once."
        ),
        request=s.RefreshSerializer,
        responses={
            200: s.TokenPairSerializer,
            401: _error("The refresh token is invalid, expired or already used."),
        },
        auth=[],
    )
    def post(self, request):
        serializer = s.RefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            tokens = services.auth_refresh(refresh=serializer.validated_data["refresh"])
        except services.TokenRejected as exc:
            raise exceptions.AuthenticationFailed(str(exc), code="token_not_valid") from exc
        return Response(s.TokenPairSerializer(tokens).data)


class ConsoleSessionView(APIView):
    """The web console's session: a Django session cookie (HttpOnly, SameSite=Lax) instead of
    tokens, so nothing the browser's scripts can read ever holds a credential. Writes need the
    CSRF token (the ``csrftoken`` cookie sent back as ``X-CSRFToken``), sign-in included."""

    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        return 'Bearer realm="api"'

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method == "POST":  # a forged sign-in (into the attacker's account) is refused
            SessionCsrfCheck().enforce_csrf(request)

    @extend_schema(
        tags=["auth"],
        summary="Sign in to the console (session cookie)",
        description=(
            "Check a username and password like `POST /api/v1/auth/token/` (the same lockout, "
            "429 with `Retry-After`, and the same audit events, with channel `console`) and "
            "open a session: the answer sets the `sessionid` cookie (HttpOnly) and a new "
            "`csrftoken`. Requires the CSRF token of `GET /api/v1/auth/session/`. The session "
            "ends on sign-out, on a password change and when the account is deactivated."
        ),
        request=s.LoginSerializer,
        responses={
            200: s.MeSerializer,
            400: _error("Missing username or password."),
            401: _error("Wrong credentials, or the account is inactive."),
            403: _error("The CSRF token is missing or wrong."),
            429: _error("Locked out after too many failures; see the Retry-After header."),
        },
        auth=[],
    )
    def post(self, request):
        serializer = s.LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            user = services.console_sign_in(
                request=request._request,
                username=serializer.validated_data["username"],
                password=serializer.validated_data["password"],
            )
        except services.LoginThrottled as exc:
            raise exceptions.Throttled(
                wait=exc.retry_after, detail="Too many failed sign-in attempts."
            ) from exc
        except services.LoginFailed as exc:
            raise exceptions.AuthenticationFailed(
                INVALID_CREDENTIALS, code="invalid_credentials"
            ) from exc
        return Response(s.MeSerializer(user).data)

    @extend_schema(
        tags=["auth"],
        summary="The console's CSRF token",
        description=(
            "Sets the `csrftoken` cookie the console sends back as `X-CSRFToken` on every "
            "write, and answers whether a session is open (`authenticated`)."
        ),
        responses={200: s.ConsoleSessionStateSerializer},
        auth=[],
    )
    @method_decorator(ensure_csrf_cookie)
    def get(self, request):
        return Response({"authenticated": bool(request.user and request.user.is_authenticated)})

    @extend_schema(
        tags=["auth"],
        summary="Sign out of the console",
        description=(
            "End the console session (204); audited as `accounts.logout` with channel "
            "`console`. Without a session: 204 as well, nothing to end."
        ),
        request=None,
        responses={204: None, 403: _error("The CSRF token is missing or wrong.")},
    )
    def delete(self, request):
        if request.user and request.user.is_authenticated:
            # SessionAuthentication checked the CSRF token when it authenticated the request
            services.console_sign_out(request=request._request, actor=actor_for_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutView(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=["auth"],
        summary="Sign out",
        description=(
            "End the session of the given refresh token (it is blacklisted). The access token "
            "stays valid until it expires (at most 15 minutes): clients should drop it. "
            "Signing out a session already signed out answers 204 as well."
        ),
        request=s.LogoutSerializer,
        responses={
            204: None,
            400: _error("The refresh token is invalid, expired, or another account's."),
            401: _error("Not authenticated."),
        },
    )
    def post(self, request):
        serializer = s.LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.auth_logout(
                user=request.user,
                refresh=serializer.validated_data["refresh"],
                actor=actor_for_request(request),
            )
        except services.TokenRejected as exc:
            raise exceptions.ValidationError({"refresh": [str(exc)]}) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Users --------------------------------------------------------------------------------------


class UserFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(choices=Role.choices)
    is_active = StrictBooleanFilter()
    is_auditor = StrictBooleanFilter()

    class Meta:
        model = User
        fields = ("role", "is_active", "is_auditor")


@extend_schema_view(
    list=extend_schema(summary="List users"),
    retrieve=extend_schema(summary="Show a user"),
    create=extend_schema(summary="Create a user"),
    update=extend_schema(summary="Replace a user's details"),
    partial_update=extend_schema(summary="Change a user's details"),
    destroy=extend_schema(
        summary="Delete a user",
        responses={204: None, 409: _error("The last active admin cannot be deleted.")},
    ),
)
@extend_schema(tags=["users"])
class UserViewSet(viewsets.ModelViewSet):
    """Users, for admins. The last active admin cannot be demoted, deactivated or deleted (409).

    Setting ``password`` (admin reset) ends every session of that user.
    """

    permission_classes = [AdminOnly]
    serializer_class = s.UserSerializer
    filterset_class = UserFilter
    search_fields = ("username", "email", "first_name", "last_name")
    ordering_fields = ("username", "email", "role", "date_joined", "last_login", "created_at")
    ordering = ("username",)

    def get_queryset(self):
        return selectors.users()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = services.user_create(
            password=data.pop("password"), actor=actor_for_request(self.request), **data
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        password = data.pop("password", None)
        serializer.instance = services.user_update(
            user=serializer.instance,
            data=data,
            password=password,
            actor=actor_for_request(self.request),
        )

    def perform_destroy(self, instance):
        services.user_delete(user=instance, actor=actor_for_request(self.request))


# --- Me -----------------------------------------------------------------------------------------


@extend_schema_view(
    get=extend_schema(summary="Show my profile"),
    put=extend_schema(summary="Replace my profile"),
    patch=extend_schema(summary="Change my profile"),
)
@extend_schema(tags=["me"])
class MeView(generics.RetrieveUpdateAPIView):
    """The signed-in user's profile: email, first and last name can be changed here.

    ``username``, ``role``, ``is_auditor`` and ``is_active`` are read-only: sending a different
    value is rejected with 400 naming the field (ask an admin). ``password`` is rejected too:
    use /api/v1/me/password/.
    """

    permission_classes = [IsAuthenticatedUser]
    serializer_class = s.MeSerializer

    def get_object(self):
        return self.request.user

    def perform_update(self, serializer):
        serializer.instance = services.user_update(
            user=serializer.instance,
            data={
                k: v for k, v in serializer.validated_data.items() if k in services.PROFILE_FIELDS
            },
            actor=actor_for_request(self.request),
        )


class PasswordChangeView(APIView):
    permission_classes = [IsAuthenticatedUser]

    @extend_schema(
        tags=["me"],
        summary="Change my password",
        description=(
            "Needs the current password. Every session of the user ends (refresh tokens are "
            "blacklisted): sign in again with the new password. A wrong old password counts "
            "as a failed sign-in (and is locked out with 429 the same way)."
        ),
        request=s.PasswordChangeSerializer,
        responses={
            204: None,
            400: _error(
                "Old password wrong (`old_password`) or new one too weak (`new_password`)."
            ),
            429: _error("Too many wrong old passwords; see the Retry-After header."),
        },
    )
    def post(self, request):
        serializer = s.PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.user_change_password(
                user=request.user,
                old_password=serializer.validated_data["old_password"],
                new_password=serializer.validated_data["new_password"],
                actor=actor_for_request(request),
                ip=client_ip(request) or None,
            )
        except services.LoginThrottled as exc:
            raise exceptions.Throttled(
                wait=exc.retry_after, detail="Too many wrong passwords."
            ) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- API tokens ---------------------------------------------------------------------------------


class ApiTokenFilter(django_filters.FilterSet):
    user = django_filters.UUIDFilter(
        method="filter_user", help_text="Admins: only this user's tokens (others: your own id)."
    )
    active = StrictBooleanFilter(
        method="filter_active", help_text="true: usable tokens; false: revoked or expired ones."
    )

    class Meta:
        model = ApiToken
        fields = ("user", "active")

    def filter_user(self, queryset, name, value: uuid.UUID):
        return queryset.filter(user_id=value)

    def filter_active(self, queryset, name, value: bool):
        return selectors.api_tokens_active(tokens=queryset, active=value)


@extend_schema_view(
    list=extend_schema(summary="List API tokens"),
    retrieve=extend_schema(summary="Show an API token"),
    create=extend_schema(
        summary="Create an API token",
        description=(
            "The answer holds the full token value in `token`: the only time it is shown. "
            "Tokens cannot be created with an API token (sign in as a person)."
        ),
        request=s.ApiTokenSerializer,
        responses={201: s.ApiTokenCreatedSerializer},
    ),
    destroy=extend_schema(
        summary="Revoke an API token",
        description="The token stops working at once. Revoking a revoked token answers 204 too.",
        responses={204: None},
    ),
)
@extend_schema(tags=["tokens"])
class ApiTokenViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """API tokens for automation (``Authorization: Token <value>``), acting as their user.

    Everyone manages their own tokens; admins see (and may revoke) everyone's.
    """

    permission_classes = [IsAuthenticatedUser]
    serializer_class = s.ApiTokenSerializer
    filterset_class = ApiTokenFilter
    search_fields = ("name", "prefix")
    ordering_fields = ("created_at", "name", "expires_at", "last_used_at")
    ordering = ("-created_at",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no real user
            return ApiToken.objects.none()
        return selectors.api_tokens_visible_to(user=self.request.user)

    def list(self, request, *args, **kwargs):
        wanted = request.query_params.get("user")
        if wanted and not has_role(request.user, Role.ADMIN) and wanted != str(request.user.pk):
            raise exceptions.PermissionDenied("Only admins may list other users' tokens.")
        return super().list(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        if isinstance(request.auth, ApiToken):
            # A leaked token must not be able to mint tokens that outlive its revocation.
            raise exceptions.PermissionDenied(
                "API tokens cannot create API tokens: sign in as a person to create one."
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, value = services.api_token_create(
            user=request.user,
            name=serializer.validated_data["name"],
            expires_at=serializer.validated_data.get("expires_at"),
            actor=actor_for_request(request),
        )
        token.token = value
        return Response(s.ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.api_token_revoke(token=instance, actor=actor_for_request(self.request))
