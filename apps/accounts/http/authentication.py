"""``Authorization: Token <value>`` for API tokens."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from apps.accounts import services


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Token header: expected 'Token <value>'."
            )
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Malformed API token.") from exc
        token = services.api_token_authenticate(raw=raw)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API token.")
        request.api_token = token
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
