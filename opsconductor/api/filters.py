"""Filter helpers shared by every app's API: a malformed filter value is a 400, not ignored."""

from __future__ import annotations

import django_filters
from django import forms

TRUE = ("true", "1", "yes")
FALSE = ("false", "0", "no")


class StrictBooleanField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    """``?flag=true|false`` (also 1/0, yes/no); anything else is a 400 naming the parameter."""

    field_class = StrictBooleanField
