"""Masking and capping of output on its way to storage (no database, no hosts)."""

from __future__ import annotations

import secrets as random

import pytest

from apps.execution.output import StreamMasker, TargetOutput


def feed_all(masker, pieces):
    return "".join(masker.feed(p) for p in pieces) + masker.finish()


@pytest.mark.parametrize("split", range(1, 12))
def test_a_secret_split_across_two_chunks_is_masked(split):
    secret = "s3cr3t-Pa55"
    text = f"before {secret} after\n".encode()
    at = text.index(b"s3cr") + split
    masker = StreamMasker([secret])
    assert feed_all(masker, [text[:at], text[at:]]) == "before ******** after\n"


def test_a_secret_arriving_byte_by_byte_never_appears_in_any_released_piece():
    secret = random.token_hex(8)
    text = f"x{secret}y{secret}".encode()
    masker = StreamMasker([secret])
    released = [masker.feed(text[i : i + 1]) for i in range(len(text))] + [masker.finish()]
    joined = "".join(released)
    assert joined == "x********y********"
    for piece_end in range(len(released)):
        assert secret[:4] not in "".join(released[: piece_end + 1]).replace("*", "")


def test_output_without_a_secret_prefix_at_its_end_is_released_at_once():
    masker = StreamMasker(["hunter22"])
    assert masker.feed(b"tick1\n") == "tick1\n"
    assert masker.feed(b"say hun") == "say "  # "hun" may begin the secret: held
    assert masker.feed(b"gry\n") == "hungry\n"


def test_quoted_forms_of_a_secret_are_masked_too():
    masker = StreamMasker(["it's"])
    assert feed_all(masker, [b"echo 'it'\\''s'\n"]) == "echo '********'\n"


def test_utf8_split_inside_a_character_is_decoded_whole():
    masker = StreamMasker([])
    data = "größe\n".encode()
    assert feed_all(masker, [data[:3], data[3:]]) == "größe\n"


def test_output_is_capped_with_a_visible_marker_and_counted():
    stored = []
    output = TargetOutput(secrets=[], sink=stored.extend, limit_bytes=100, flush_interval=0)
    for _ in range(10):
        output.write(0, "stdout", b"x" * 30)
    output.close()
    text = "".join(c.text for c in stored if c.stream == "stdout")
    assert text == "x" * 100
    markers = [c.text for c in stored if c.stream == "marker"]
    assert markers == ["[output truncated: this target reached the 100-byte output limit; "
                       "further output is not stored]"]  # fmt: skip
    assert output.truncated and output.stored_bytes == 100 and output.dropped_bytes == 200


def test_identical_output_has_identical_digests_and_different_output_does_not():
    def digest(*pieces):
        output = TargetOutput(secrets=[], sink=lambda chunks: None, limit_bytes=10**6)
        for stream, data in pieces:
            output.write(0, stream, data)
        output.close()
        return output.digest

    assert digest(("stdout", b"ok\n")) == digest(("stdout", b"o"), ("stdout", b"k\n"))
    assert digest(("stdout", b"ok\n")) != digest(("stderr", b"ok\n"))
