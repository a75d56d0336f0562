"""What the console's bundle is built from, and its hash: the same walk as
``console/scripts/build-info.mjs``, which records the hash beside the bundle when it builds it.
A bundle whose recorded hash differs from the sources' was not rebuilt after a change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "console"
BUNDLE = Path(__file__).resolve().parent / "bundle"
FILES = ("package.json", "package-lock.json", "index.html", "vite.config.ts", "tsconfig.json")
DIRS = ("src",)


def source_files(root: Path = ROOT) -> list[str]:
    names = [name for name in FILES]
    for directory in DIRS:
        names += [
            path.relative_to(root).as_posix()
            for path in (root / directory).rglob("*")
            if path.is_file()
        ]
    # JavaScript's default sort compares UTF-16 code units; for the ASCII names here that is the
    # byte order Python's sort uses
    return sorted(names)


def sources_sha256(root: Path = ROOT) -> str:
    digest = hashlib.sha256()
    for name in source_files(root):
        digest.update(name.encode() + b"\0")
        digest.update((root / name).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def recorded_sha256(bundle: Path = BUNDLE) -> str | None:
    try:
        return json.loads((bundle / "build-info.json").read_text())["sources_sha256"]
    except (FileNotFoundError, KeyError, ValueError):
        return None
