from __future__ import annotations

import yaml
from rest_framework.exceptions import ParseError

from opsconductor.api.parsers import CheckedParser, check_tree, max_depth, read_body, too_deep

MAX_BYTES = 2 * 1024 * 1024


class _TooDeep(Exception):
    pass


class DepthLimitedSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing documents nested deeper than the API's limit while it
    composes them (its composer recurses once per level: 10,000 levels would exhaust the
    stack)."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > max_depth():
                raise _TooDeep
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load_yaml(text: str):
    """``text`` as data (safe loading only: no Python objects), within the API's limits."""
    try:
        return check_tree(yaml.load(text, Loader=DepthLimitedSafeLoader))  # noqa: S506
    except (_TooDeep, RecursionError):
        raise too_deep() from None


class YamlParser(CheckedParser):
    """``application/yaml`` job definitions (safe loading only: no Python objects)."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = read_body(stream, parser_context)
        if len(raw) > MAX_BYTES:
            raise ParseError("YAML larger than 2 MiB.")
        try:
            return load_yaml(raw.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ParseError(f"Malformed YAML: {exc}") from exc
