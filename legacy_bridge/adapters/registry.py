"""The adapter registry: what answers a migrated legacy route in the legacy JSON shape.

Two kinds of adapters, both named on a route (``Route.adapter``):

- an **area** (``Area``): one legacy area (``/api/v3/targets``) with one ``Endpoint`` per call
  the legacy UI makes (method + path pattern below the area's root). The bridge matches the
  request to an endpoint first, as FastAPI routes before it authenticates: a path of the area
  no endpoint serves is the legacy ``404 Not Found``, a known path with another method the
  legacy ``405 Method Not Allowed`` (with ``Allow``), the area's root without its trailing slash
  the legacy ``307`` to it (unless an endpoint's pattern matches the empty path: then the root
  itself is served). A path outside the area's root is not the adapter's (``None``: the
  pointer answers).
- a **function** (``register_adapter``): ``(request, rule) -> HttpResponse | None`` for every
  request of the route, ``None`` meaning "not this one".

Who may call is declared on each endpoint (or function) when it is registered, and checked in
one place (``legacy_bridge.auth``) before it runs: ``role=`` (the minimum role of
``opsconductor.roles``) or ``public=True`` (only for what the legacy backend itself serves
without a token). There is no default: registering without either (or with both) is a
``TypeError`` at import. An adapter never authenticates by itself; it finds the caller in
``request.user`` and the actor of its writes with ``actor_for_request``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from django.http import HttpResponse, JsonResponse

from opsconductor.roles import Role

AdapterFunction = Callable[..., HttpResponse | None]


def _check_access(what: str, role: Role | None, public: bool) -> None:
    if public == (role is not None):
        raise TypeError(
            f"{what}: declare who may call it, either role=<minimum Role> "
            "or public=True (only for what the legacy backend serves without a token)"
        )
    if role is not None and not isinstance(role, Role):
        raise TypeError(f"{what}: role must be an opsconductor.roles.Role")


AUDITORS = "admin or auditor"


def _access_name(role: Role | None, public: bool) -> str:
    return "public" if public else str(role.value if role else "")


@dataclass(frozen=True)
class Endpoint:
    """One legacy call an area answers: ``method`` and ``pattern`` (a regular expression
    matched against the whole path below the area's root, e.g. ``/(?P<target_id>[^/]+)``;
    named groups become keyword arguments of ``function(request, **groups)``)."""

    method: str
    pattern: str
    function: AdapterFunction
    calls: str  # the legacy UI's call ids it serves (docs/legacy-bridge.md), e.g. "T2"
    example: str  # a path below the root that reaches it (the sweep tests call it)
    role: Role | None = None
    public: bool = False
    # with role=Role.ADMIN: auditors (the audit-reading capability, opsconductor.roles) too
    auditor: bool = False
    regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_access(f"endpoint {self.method} {self.pattern}", self.role, self.public)
        if self.auditor and self.role != Role.ADMIN:
            raise TypeError(f"endpoint {self.method} {self.pattern}: auditor=True needs role=ADMIN")
        object.__setattr__(self, "regex", re.compile(self.pattern))

    @property
    def access(self) -> str:
        return AUDITORS if self.auditor else _access_name(self.role, self.public)


@dataclass(frozen=True)
class Match:
    endpoint: Endpoint
    kwargs: dict


@dataclass(frozen=True)
class Adapter:
    name: str
    description: str
    function: AdapterFunction | None = None
    # the minimum role of the caller, or None when public (function adapters)
    role: Role | None = None
    public: bool = False
    root: str = ""
    endpoints: tuple[Endpoint, ...] = ()

    def __post_init__(self) -> None:
        if self.endpoints:
            if self.role is not None or self.public or not self.root:
                raise TypeError(f"adapter {self.name!r}: an area declares access per endpoint")
            return
        _check_access(f"adapter {self.name!r}", self.role, self.public)

    @property
    def is_area(self) -> bool:
        return bool(self.endpoints)

    @property
    def access(self) -> str:
        """``public``, the minimum role's name, or for an area each access with its calls
        (the adapters API shows it)."""
        if not self.endpoints:
            return _access_name(self.role, self.public)
        by_access: dict[str, list[str]] = {}
        for endpoint in self.endpoints:
            by_access.setdefault(endpoint.access, []).append(endpoint.calls)
        order = ["public", *(r.value for r in Role), AUDITORS]
        return "; ".join(
            f"{access}: {', '.join(dict.fromkeys(by_access[access]))}"
            for access in order
            if access in by_access
        )

    def match(self, request) -> Match | HttpResponse | None:
        """The endpoint for ``request``; a legacy 404/405/307 for a path of the area no
        endpoint serves; None for a path outside the area."""
        path = request.path_info
        if path != self.root and not path.startswith(self.root + "/"):
            return None
        rest = path[len(self.root) :]
        if rest == "" and not any(e.regex.fullmatch("") for e in self.endpoints):
            query = request.META.get("QUERY_STRING", "")
            response = HttpResponse(status=307)
            response["Location"] = self.root + "/" + (f"?{query}" if query else "")
            return response
        allowed = []
        for endpoint in self.endpoints:
            found = endpoint.regex.fullmatch(rest)
            if found is None:
                continue
            if endpoint.method == request.method or (
                endpoint.method == "GET" and request.method == "HEAD"
            ):
                return Match(endpoint, found.groupdict())
            allowed.append(endpoint.method)
        if allowed:
            response = JsonResponse({"detail": "Method Not Allowed"}, status=405)
            response["Allow"] = ", ".join(dict.fromkeys(allowed))
            return response
        return JsonResponse({"detail": "Not Found"}, status=404)


_adapters: dict[str, Adapter] = {}


def register_adapter(
    name: str, description: str, *, role: Role | None = None, public: bool = False
):
    """Register ``function`` as the adapter ``name``. Exactly one of ``role`` (the minimum
    role, checked by the bridge before the adapter runs) and ``public=True`` is required."""
    # validated here, at import time, not at the first request
    Adapter(name=name, description=description, function=_unset, role=role, public=public)

    def decorate(function: AdapterFunction) -> AdapterFunction:
        _adapters[name] = Adapter(
            name=name, description=description, function=function, role=role, public=public
        )
        return function

    return decorate


class Area:
    """Collects the endpoints of one legacy area, then registers them as one adapter::

    area = Area("legacy-targets", "...", root="/api/v3/targets")

    @area.endpoint("GET", r"/(?P<target_id>[^/]+)", calls="T2", example="/1",
                   role=Role.VIEWER)
    def target_detail(request, target_id): ...

    area.register()
    """

    def __init__(self, name: str, description: str, *, root: str) -> None:
        self.name, self.description, self.root = name, description, root.rstrip("/")
        self.endpoints: list[Endpoint] = []

    def endpoint(
        self,
        method: str,
        pattern: str,
        *,
        calls: str,
        example: str,
        role: Role | None = None,
        public: bool = False,
        auditor: bool = False,
    ):
        def decorate(function: AdapterFunction) -> AdapterFunction:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    pattern=pattern,
                    function=function,
                    calls=calls,
                    example=example,
                    role=role,
                    public=public,
                    auditor=auditor,
                )
            )
            return function

        return decorate

    def register(self) -> Adapter:
        adapter = Adapter(
            name=self.name,
            description=self.description,
            root=self.root,
            endpoints=tuple(self.endpoints),
        )
        _adapters[self.name] = adapter
        return adapter


def _unset(request, rule) -> None:
    return None


def adapter_names() -> list[str]:
    return sorted(_adapters)


def get_adapter(name: str) -> Adapter | None:
    return _adapters.get(name)
