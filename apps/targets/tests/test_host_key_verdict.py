"""The host-key trust rule: when may a credential be sent to a host?"""

from __future__ import annotations

import pytest

from apps.targets.connection import HostKeyVerdict, KnownHostKey, host_key_verdict

A = KnownHostKey(algorithm="ssh-ed25519", public_key="AAAA-a", fingerprint="SHA256:a", trusted=True)
B_PENDING = KnownHostKey(
    algorithm="ssh-ed25519", public_key="AAAA-b", fingerprint="SHA256:b", trusted=False
)
B_REJECTED = KnownHostKey(
    algorithm="ssh-ed25519",
    public_key="AAAA-b",
    fingerprint="SHA256:b",
    trusted=False,
    rejected=True,
)


def verdict(policy, known, key):
    return host_key_verdict(
        policy=policy, known=tuple(known), algorithm="ssh-ed25519", public_key=key
    )


@pytest.mark.parametrize("policy", ["strict", "accept-new"])
def test_the_trusted_key_passes_and_any_other_is_a_change(policy):
    assert verdict(policy, [A], "AAAA-a") is HostKeyVerdict.TRUSTED
    assert verdict(policy, [A], "AAAA-b") is HostKeyVerdict.CHANGED
    assert verdict(policy, [A, B_PENDING], "AAAA-b") is HostKeyVerdict.CHANGED


def test_strict_refuses_keys_nobody_approved():
    assert verdict("strict", [], "AAAA-b") is HostKeyVerdict.UNKNOWN
    assert verdict("strict", [B_PENDING], "AAAA-b") is HostKeyVerdict.UNKNOWN


def test_accept_new_trusts_only_a_true_first_use():
    assert verdict("accept-new", [], "AAAA-b") is HostKeyVerdict.TRUST_ON_FIRST_USE
    assert verdict("accept-new", [B_PENDING], "AAAA-b") is HostKeyVerdict.TRUST_ON_FIRST_USE


def test_a_rejected_key_is_never_trusted_again_not_even_on_first_use():
    assert verdict("accept-new", [B_REJECTED], "AAAA-b") is HostKeyVerdict.REJECTED
    assert verdict("strict", [B_REJECTED], "AAAA-b") is HostKeyVerdict.REJECTED
    # After a rejection, a new key waits for an admin even under accept-new.
    assert verdict("accept-new", [B_REJECTED], "AAAA-c") is HostKeyVerdict.UNKNOWN
