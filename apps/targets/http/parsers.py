from __future__ import annotations

import codecs
import csv

from rest_framework.exceptions import ParseError

from opsconductor.api.parsers import CheckedParser, check_tree, read_body

MAX_CSV_BYTES = 5 * 1024 * 1024


class CsvParser(CheckedParser):
    """``text/csv`` with a header row -> a list of dicts (``CsvParser.Rows``)."""

    media_type = "text/csv"

    class Rows(list):
        """Rows parsed from CSV (so a view can tell them from a JSON list)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = read_body(stream, parser_context)
        if len(raw) > MAX_CSV_BYTES:
            raise ParseError(f"CSV larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB.")
        try:
            text = codecs.decode(raw, "utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError("CSV must be UTF-8.") from exc
        try:
            reader = csv.DictReader(text.splitlines())
            rows = self.Rows()
            for row in reader:
                if None in row:
                    raise ParseError(f"CSV line {reader.line_num} has more cells than the header.")
                rows.append({k.strip(): (v or "").strip() for k, v in row.items() if k})
        except csv.Error as exc:
            raise ParseError(f"Malformed CSV: {exc}") from exc
        return check_tree(rows)
