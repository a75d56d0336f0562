"""One rule for the date-times the API accepts, in bodies and in query filters.

ISO 8601, with a UTC offset of less than 16 hours either way (the widest PostgreSQL stores; real
time zones stay within -12:00 and +14:00), and an instant that exists in UTC between the years 1
and 9999. Anything else is a 400 naming the field or parameter, never a database error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import django_filters
from django import forms
from rest_framework import serializers

MAX_OFFSET = timedelta(hours=16)  # exclusive
OFFSET_REASON = "The UTC offset must be less than 16 hours either way."
RANGE_REASON = "The date and time is out of range (years 1 to 9999, in UTC)."


def datetime_problem(value: datetime) -> str | None:
    """Why ``value`` is not accepted, or None."""
    offset = value.utcoffset()
    if offset is None:
        return None
    if abs(offset) >= MAX_OFFSET:
        return OFFSET_REASON
    try:
        value.astimezone(UTC)
    except OverflowError:
        return RANGE_REASON
    return None


class DateTimeField(serializers.DateTimeField):
    """A date-time in a body, within the API's range (see the module)."""

    default_error_messages = {"offset": OFFSET_REASON, "range": RANGE_REASON}

    def to_internal_value(self, value):
        if isinstance(value, str):
            # offsets of 16-23 hours are valid Python but not storable: checked before the
            # conversion to the server's zone (which could also overflow)
            parsed = _parse(value)
            if parsed is not None and datetime_problem(parsed):
                self.fail("offset" if datetime_problem(parsed) == OFFSET_REASON else "range")
        result = super().to_internal_value(value)
        problem = datetime_problem(result) if isinstance(result, datetime) else None
        if problem:
            self.fail("offset" if problem == OFFSET_REASON else "range")
        return result


def _parse(text: str) -> datetime | None:
    from django.utils.dateparse import parse_datetime

    try:
        return parse_datetime(text.strip())
    except ValueError:
        return None


class IsoDateTimeField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        if isinstance(value, str):
            parsed = _parse(value)
            if parsed is not None and (problem := datetime_problem(parsed)):
                raise forms.ValidationError(problem, code="invalid")
        try:
            result = super().to_python(value)
        except OverflowError:
            raise forms.ValidationError(RANGE_REASON, code="invalid") from None
        if isinstance(result, datetime) and (problem := datetime_problem(result)):
            raise forms.ValidationError(problem, code="invalid")
        return result


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``?since=2026-01-01T00:00:00+02:00``: an ISO 8601 date-time within the API's range, else
    a 400 naming the parameter."""

    field_class = IsoDateTimeField
