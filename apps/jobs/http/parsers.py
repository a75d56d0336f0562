from __future__ import annotations

import yaml
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

MAX_BYTES = 2 * 1024 * 1024


class YamlParser(BaseParser):
    """``application/yaml`` job definitions (safe loading only: no Python objects)."""

    media_type = "application/yaml"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            raise ParseError("YAML larger than 2 MiB.")
        try:
            return yaml.safe_load(raw.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ParseError(f"Malformed YAML: {exc}") from exc
