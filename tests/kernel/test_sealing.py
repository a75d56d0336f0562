from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from opsconductor.sealing import SealError, reseal, seal, unseal
from tests.sealing_testapp.models import Vault

SECRET = {"username": "deploy", "password": "hunter2-very-secret"}


def test_seal_round_trip_and_ciphertext_hides_the_secret():
    token = seal(SECRET)
    assert "hunter2" not in token
    assert "deploy" not in token
    assert unseal(token) == SECRET
    assert seal(SECRET) != token  # fresh IV every time


def test_tampered_value_is_refused():
    token = seal(SECRET)
    tampered = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    with pytest.raises(SealError):
        unseal(tampered)
    with pytest.raises(SealError):
        unseal("not a sealed value")


def test_rotation_old_values_still_open_and_retired_key_does_not(settings):
    old_key = settings.OPSCONDUCTOR_SEAL_KEYS[0]
    token_under_old = seal(SECRET)
    new_key = Fernet.generate_key().decode()

    settings.OPSCONDUCTOR_SEAL_KEYS = [new_key, old_key]
    assert unseal(token_under_old) == SECRET
    rotated = reseal(token_under_old)

    settings.OPSCONDUCTOR_SEAL_KEYS = [new_key]
    assert unseal(rotated) == SECRET
    with pytest.raises(SealError):
        unseal(token_under_old)


def test_malformed_key_is_reported_without_echoing_it(settings):
    settings.OPSCONDUCTOR_SEAL_KEYS = ["definitely-not-a-fernet-key"]
    with pytest.raises(SealError) as excinfo:
        seal(SECRET)
    assert "definitely-not-a-fernet-key" not in str(excinfo.value)


@pytest.mark.django_db(databases="__all__")
def test_reseal_command_moves_every_sealed_value_to_the_newest_key(settings):
    old_key = settings.OPSCONDUCTOR_SEAL_KEYS[0]
    vaults = [Vault.objects.create(name=f"v{i}", secret=seal({"n": i})) for i in range(3)]
    Vault.objects.create(name="empty", secret="")
    new_key = Fernet.generate_key().decode()
    settings.OPSCONDUCTOR_SEAL_KEYS = [new_key, old_key]

    out = io.StringIO()
    call_command("reseal_secrets", stdout=out)
    assert "sealing_testapp.Vault.secret: 3 re-sealed, 0 failed" in out.getvalue()

    settings.OPSCONDUCTOR_SEAL_KEYS = [new_key]  # the old key is retired
    for i, vault in enumerate(vaults):
        vault.refresh_from_db()
        assert unseal(vault.secret) == {"n": i}


@pytest.mark.django_db(databases="__all__")
def test_reseal_dry_run_changes_nothing_and_unopenable_values_fail_the_command(settings):
    before = Vault.objects.create(name="a", secret=seal({"n": 1}))
    out = io.StringIO()
    call_command("reseal_secrets", "--dry-run", stdout=out)
    assert "sealing_testapp.Vault.secret: 1 re-sealed, 0 failed" in out.getvalue()
    assert "would re-seal 1 value(s)" in out.getvalue()
    assert Vault.objects.get(pk=before.pk).secret == before.secret

    Vault.objects.create(
        name="foreign", secret=Fernet(Fernet.generate_key()).encrypt(b"{}").decode()
    )
    with pytest.raises(CommandError, match="1 sealed value"):
        call_command("reseal_secrets", stdout=io.StringIO(), stderr=io.StringIO())
