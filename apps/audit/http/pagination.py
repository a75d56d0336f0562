"""Keyset (cursor) pagination of the audit trail, newest first.

Without a time range the trail is paged by its chain position, ``sequence``: new records only
ever appear before the first page, so a walk through the pages never shifts or repeats. With
``since`` and/or ``until`` it is paged by ``(occurred_at, sequence)``: the index on that pair
finds a day in the middle of a million records directly, where walking the sequence down to it
would read everything newer first (see docs/benchmarks.md, "Audit"). In both orders the cursor
is the position of the last (or, for ``previous``, the first) record of a page, so no page is
ever computed with an OFFSET.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

TIME_PARAMS = ("since", "until")
INVALID = "Invalid cursor: use the next or previous link of a page of this same query."


class AuditCursorPagination(BasePagination):
    cursor_query_param = "cursor"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def _page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw in (None, ""):
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: ["Must be a positive integer."]})
        return min(size, self.max_page_size)

    def _decode(self, request) -> dict | None:
        raw = request.query_params.get(self.cursor_query_param)
        if not raw:
            return None
        try:
            position = json.loads(base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4)))
            if not isinstance(position, dict) or not isinstance(position.get("s"), int):
                raise ValueError
            if self.by_time:
                position["t"] = datetime.fromisoformat(position["t"])
            elif "t" in position:
                raise ValueError
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            raise ValidationError({self.cursor_query_param: [INVALID]}) from None
        return position

    def _encode(self, record, *, backwards: bool) -> str:
        position: dict = {"s": record.sequence}
        if self.by_time:
            position["t"] = record.occurred_at.isoformat()
        if backwards:
            position["b"] = 1
        raw = base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode())
        return raw.decode().rstrip("=")

    def _after(self, queryset: QuerySet, position: dict, *, older: bool) -> QuerySet:
        """The records after ``position`` in the newest-first order (``older``) or before it."""
        sequence = position["s"]
        if not self.by_time:
            return queryset.filter(**{"sequence__lt" if older else "sequence__gt": sequence})
        at = position["t"]
        if older:  # the first condition alone is what the index can seek to
            return queryset.filter(occurred_at__lte=at).filter(
                Q(occurred_at__lt=at) | Q(occurred_at=at, sequence__lt=sequence)
            )
        return queryset.filter(occurred_at__gte=at).filter(
            Q(occurred_at__gt=at) | Q(occurred_at=at, sequence__gt=sequence)
        )

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.by_time = any(request.query_params.get(name) for name in TIME_PARAMS)
        size = self._page_size(request)
        position = self._decode(request)
        backwards = bool(position and position.get("b"))
        newest_first = ("-occurred_at", "-sequence") if self.by_time else ("-sequence",)
        oldest_first = tuple(name.lstrip("-") for name in newest_first)
        if position is not None:
            queryset = self._after(queryset, position, older=not backwards)
        rows = list(queryset.order_by(*(oldest_first if backwards else newest_first))[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
        self.next_record = rows[-1] if rows and (more or backwards) else None
        has_previous = more if backwards else position is not None
        self.previous_record = rows[0] if rows and has_previous else None
        return rows

    def _link(self, record, *, backwards: bool) -> str | None:
        if record is None:
            return None
        return replace_query_param(
            self.request.build_absolute_uri(),
            self.cursor_query_param,
            self._encode(record, backwards=backwards),
        )

    def get_next_link(self) -> str | None:
        return self._link(self.next_record, backwards=False)

    def get_previous_link(self) -> str | None:
        return self._link(self.previous_record, backwards=True)

    def get_paginated_response(self, data):
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The position to continue from: take it from a page's "
                "`next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Records per page (default {self.page_size}, at most "
                f"{self.max_page_size}).",
                "schema": {"type": "integer"},
            },
        ]
