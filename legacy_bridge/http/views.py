"""``/api/v1/bridge/routes/``: the route table and the strangler's progress (each prefix's mode
and its traffic over the last day and week). Admins and auditors read; only admins change
routes, and every change is an audited event."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.interface import actor_for_request
from legacy_bridge import selectors, services
from legacy_bridge.adapters import adapter_names, get_adapter
from legacy_bridge.http import serializers as s
from legacy_bridge.importing.models import ImportRun
from legacy_bridge.models import Route
from opsconductor.api.pagination import DefaultPagination
from opsconductor.roles import Role, can_read_audit, has_role

IMPORT_DB = "default"


class AdminWriteAuditorRead(BasePermission):
    """Reading: admins and users holding the auditor capability. Changing: admins."""

    message = "Only admins change the bridge's routes; admins and auditors read them."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return can_read_audit(request.user)
        return has_role(request.user, Role.ADMIN)


def _represent(view: selectors.RouteView) -> dict:
    rule, route = view.rule, view.route
    return {
        "id": rule.id if rule else None,
        "prefix": view.prefix,
        "mode": rule.mode if rule else None,
        "source": rule.source if rule else "traffic",
        "new_url": rule.new_url if rule else "",
        "adapter": rule.adapter if rule else "",
        "message": rule.message if rule else "",
        "note": route.note if route else "",
        "updated_at": route.updated_at if route else None,
        "last_day": asdict(view.last_day),
        "last_week": asdict(view.last_week),
        "last_seen": view.last_seen,
    }


def _one(route_id: uuid.UUID) -> dict:
    for view in selectors.routes_with_traffic():
        if view.rule is not None and view.rule.id == str(route_id):
            return _represent(view)
    raise NotFound()


class RouteListView(APIView):
    permission_classes = (AdminWriteAuditorRead,)

    @extend_schema(responses=s.RouteSerializer(many=True))
    def get(self, request: Request) -> Response:
        """Every prefix of the route table (the settings' defaults and the rows that override
        them; the longest matching prefix wins) with its mode and traffic over the last day and
        week, and prefixes without a rule that still got traffic this week."""
        return Response([_represent(view) for view in selectors.routes_with_traffic()])

    @extend_schema(request=s.RouteInputSerializer, responses={201: s.RouteSerializer})
    def post(self, request: Request) -> Response:
        """Add a route (admins). It applies to the next request in every web process."""
        data = s.RouteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        route_id = services.route_create(actor=actor_for_request(request), **data.validated_data)
        return Response(_one(route_id), status=status.HTTP_201_CREATED)


class RouteDetailView(APIView):
    permission_classes = (AdminWriteAuditorRead,)

    def _route(self, pk: uuid.UUID) -> Route:
        route = Route.objects.filter(pk=pk).first()
        if route is None:
            raise NotFound()
        return route

    @extend_schema(responses=s.RouteSerializer)
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        """One route row with its traffic."""
        self._route(pk)
        return Response(_one(pk))

    @extend_schema(request=s.RouteInputSerializer(partial=True), responses=s.RouteSerializer)
    def patch(self, request: Request, pk: uuid.UUID) -> Response:
        """Change a route, e.g. flip its mode (admins). Takes effect on the next request."""
        self._route(pk)
        data = s.RouteInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.route_update(route_id=pk, actor=actor_for_request(request), **data.validated_data)
        return Response(_one(pk))

    @extend_schema(request=s.RouteInputSerializer, responses=s.RouteSerializer)
    def put(self, request: Request, pk: uuid.UUID) -> Response:
        """Replace a route (admins)."""
        self._route(pk)
        data = s.RouteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = {"new_url": "", "adapter": "", "message": "", "note": ""}
        values.update(data.validated_data)
        services.route_update(route_id=pk, actor=actor_for_request(request), **values)
        return Response(_one(pk))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        """Remove a route (admins): its prefix falls back to the next shorter rule."""
        self._route(pk)
        services.route_delete(route_id=pk, actor=actor_for_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AdapterListView(APIView):
    permission_classes = (AdminWriteAuditorRead,)

    @extend_schema(responses=s.AdapterSerializer(many=True))
    def get(self, request: Request) -> Response:
        """The adapters a migrated route may name: they answer in the legacy shape from the new
        system."""
        adapters = [get_adapter(name) for name in adapter_names()]
        return Response(
            [
                {"name": a.name, "description": a.description, "access": a.access, "root": a.root}
                for a in adapters
                if a is not None
            ]
        )


TOTALS = ("read", "imported", "already_present", "skipped", "failed")


def _import_run(run: ImportRun, *, report: bool = False) -> dict:
    tables = (run.report or {}).get("tables", {})
    data = {
        "id": run.id,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "only": run.only,
        "ok": (run.report or {}).get("ok") if run.status != ImportRun.Status.RUNNING else None,
        "error": (run.report or {}).get("error", ""),
        "totals": {key: sum(int(t.get(key, 0)) for t in tables.values()) for key in TOTALS},
    }
    if report:
        data["report"] = run.report or {}
    return data


class ImportRunListView(ListAPIView):
    """The legacy import's runs (``manage.py import_legacy``), newest first: read only."""

    permission_classes = (AdminWriteAuditorRead,)
    serializer_class = s.ImportRunSerializer
    pagination_class = DefaultPagination
    filter_backends = ()
    http_method_names = ["get", "head", "options"]

    def get_queryset(self):
        return ImportRun.objects.using(IMPORT_DB).order_by("-started_at")

    def list(self, request: Request, *args, **kwargs) -> Response:
        """Every import run with its outcome and totals over every table, newest first, in
        pages (``?page=``, ``?page_size=``). Admins and auditors read."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([_import_run(run) for run in page])


class ImportRunDetailView(APIView):
    permission_classes = (AdminWriteAuditorRead,)
    http_method_names = ["get", "head", "options"]

    @extend_schema(responses=s.ImportRunDetailSerializer)
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        """One import run with its whole end report (per table: read, imported, already
        present, skipped and failed with reasons, notes, verification)."""
        run = ImportRun.objects.using(IMPORT_DB).filter(pk=pk).first()
        if run is None:
            raise NotFound()
        return Response(_import_run(run, report=True))
