"""Output of a step on its way to storage: decoded, masked, capped, digested.

A transport hands over raw byte chunks as they arrive. ``StreamMasker`` turns one stream of
them into text with every known secret replaced, *also when a secret is split across two
chunks*: it holds back the last ``len(longest secret) - 1`` characters until the next chunk (or
the end) shows whether they start a secret. ``TargetOutput`` keeps one masker per (step,
stream), enforces the per-target cap with a visible marker, keeps the digest and the sample
the run summary groups targets by, and hands finished text to a ``sink`` in batches.
"""

from __future__ import annotations

import codecs
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from apps.jobs.interface import mask, secret_forms

SAMPLE_CHARS = 500


class StreamMasker:
    """Masks secrets in a stream of byte chunks; ``feed`` and ``finish`` return safe text.

    Text is released as soon as it arrives, except a tail that is the beginning of a secret
    (in any of the forms ``mask`` knows): that tail waits for the next chunk, which completes
    or refutes it, or for ``finish``. Output without secrets in it is never held back.
    """

    def __init__(self, secrets: list[str]):
        self.secrets = [s for s in secrets if s]
        self._forms = sorted(secret_forms(self.secrets), key=len, reverse=True)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, chunk: bytes) -> str:
        text = self._pending + self._decoder.decode(chunk)
        if not self._forms:
            self._pending = ""
            return text
        text = mask(text, self.secrets)
        keep = self._secret_prefix_at_end(text)
        self._pending = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def _secret_prefix_at_end(self, text: str) -> int:
        """Length of the longest end of ``text`` that begins some secret form."""
        best = 0
        for form in self._forms:
            for size in range(min(len(form) - 1, len(text)), best, -1):
                if text.endswith(form[:size]):
                    best = size
                    break
        return best

    def finish(self) -> str:
        text = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return mask(text, self.secrets) if self.secrets else text


@dataclass(frozen=True)
class Chunk:
    step_index: int
    stream: str  # "stdout" | "stderr" | "marker"
    text: str


Sink = Callable[[list[Chunk]], None]


class TargetOutput:
    """All output of one target in a run. Thread-safe: the step's reader thread calls
    ``write``; the worker's flusher thread may call ``flush_if_due`` at the same time."""

    def __init__(
        self,
        *,
        secrets: list[str],
        sink: Sink,
        limit_bytes: int,
        flush_interval: float = 0.25,
        flush_bytes: int = 65536,
    ):
        self._secrets = secrets
        self._sink = sink
        self._limit = limit_bytes
        self._flush_interval = flush_interval
        self._flush_bytes = flush_bytes
        self._maskers: dict[tuple[int, str], StreamMasker] = {}
        self._buffer: list[Chunk] = []
        self._buffered_bytes = 0
        self._last_flush = time.monotonic()
        self._lock = threading.RLock()
        self._digests: dict[tuple[int, str], hashlib._Hash] = {}
        self.stored_bytes = 0
        self.dropped_bytes = 0
        self.truncated = False
        self._samples: dict[tuple[int, str], str] = {}  # first characters per step and stream

    # -- writing ----------------------------------------------------------------------------

    def write(self, step_index: int, stream: str, data: bytes) -> None:
        with self._lock:
            masker = self._maskers.get((step_index, stream))
            if masker is None:
                masker = self._maskers[(step_index, stream)] = StreamMasker(self._secrets)
            self._add(step_index, stream, masker.feed(data))
            if self._buffered_bytes >= self._flush_bytes or self._due():
                self.flush()

    def end_step(self, step_index: int, *, flush: bool = True) -> list[Chunk]:
        """The step is over: release what its maskers held back. With ``flush=False`` the
        buffered chunks are returned (and forgotten) instead, for the caller to store along
        with the step's result."""
        with self._lock:
            for (index, stream), masker in list(self._maskers.items()):
                if index == step_index:
                    self._add(index, stream, masker.finish())
                    del self._maskers[(index, stream)]
            if flush:
                self.flush()
                return []
            taken, self._buffer, self._buffered_bytes = self._buffer, [], 0
            self._last_flush = time.monotonic()
            return taken

    def note(self, step_index: int, text: str) -> None:
        """A line of our own in the output (a marker, not from the host)."""
        with self._lock:
            self._buffer.append(Chunk(step_index, "marker", mask(text, self._secrets)))
            self.flush()

    def _add(self, step_index: int, stream: str, text: str) -> None:
        if not text:
            return
        encoded = text.encode()
        size = len(encoded)
        if self.truncated:
            self.dropped_bytes += size
            return
        if self.stored_bytes + size > self._limit:
            room = self._limit - self.stored_bytes
            keep = encoded[:room].decode(errors="ignore")
            if keep:
                self._store(step_index, stream, keep)
            self.dropped_bytes += size - len(keep.encode())
            self.truncated = True
            self._buffer.append(
                Chunk(
                    step_index,
                    "marker",
                    f"[output truncated: this target reached the {self._limit:,}-byte output "
                    "limit; further output is not stored]",
                )
            )
            return
        self._store(step_index, stream, text)

    def _store(self, step_index: int, stream: str, text: str) -> None:
        size = len(text.encode())
        self.stored_bytes += size
        self._buffered_bytes += size
        self._digests.setdefault((step_index, stream), hashlib.sha256()).update(text.encode())
        sample = self._samples.get((step_index, stream), "")
        if len(sample) < SAMPLE_CHARS:
            self._samples[(step_index, stream)] = (sample + text)[:SAMPLE_CHARS]
        if self._buffer and (
            self._buffer[-1].step_index == step_index and self._buffer[-1].stream == stream
        ):
            last = self._buffer[-1]
            self._buffer[-1] = Chunk(step_index, stream, last.text + text)
        else:
            self._buffer.append(Chunk(step_index, stream, text))

    # -- flushing ---------------------------------------------------------------------------

    def _due(self) -> bool:
        return time.monotonic() - self._last_flush >= self._flush_interval

    def flush_if_due(self) -> None:
        with self._lock:
            if self._buffer and self._due():
                self.flush()

    def flush(self) -> None:
        with self._lock:
            self._last_flush = time.monotonic()
            if not self._buffer:
                return
            batch, self._buffer, self._buffered_bytes = self._buffer, [], 0
            self._sink(batch)

    def close(self) -> None:
        with self._lock:
            for step_index in sorted({index for index, _ in self._maskers}):
                self.end_step(step_index)
            self.flush()

    # -- what the summary needs -------------------------------------------------------------

    @property
    def digest(self) -> str:
        """Equal for equal output per step and stream, however it was split into chunks."""
        whole = hashlib.sha256()
        for (step_index, stream), part in sorted(self._digests.items()):
            whole.update(f"{step_index}\x00{stream}\x00{part.hexdigest()}\n".encode())
        return whole.hexdigest()

    @property
    def sample(self) -> str:
        """The beginning of the output, steps in order, stdout before stderr."""
        return "".join(text for _, text in sorted(self._samples.items()))[:SAMPLE_CHARS]

    def sample_of_step(self, step_index: int) -> str:
        """What a failed step said: its stderr if it wrote any, else its stdout."""
        return (
            self._samples.get((step_index, "stderr"))
            or self._samples.get((step_index, "stdout"))
            or ""
        )
