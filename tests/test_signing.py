"""Signed ledger entries: an HMAC key from the environment, or SSH signatures checked against an
allowed-signers file that the gate reads from the base revision."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from gate_project import cli, commit_base, make_policy_project

from targeting.decide import ledger, signing

# ------------------------------------------------------------------------------ HMAC

def test_hmac_signed_entries_verify_and_forgeries_do_not(tmp_path, monkeypatch):
    root = make_policy_project(tmp_path / "repo")
    monkeypatch.chdir(root)
    monkeypatch.setenv(signing.HMAC_ENV, "s3cret")
    assert cli(root, "promote", "Q-1", "--reviewer", "ana").exit_code == 0
    (entry,) = ledger.read(root / "ledger.jsonl")
    assert entry.sig["kind"] == "hmac-sha256" and len(entry.sig["value"]) == 64
    ok = cli(root, "ledger", "verify")
    assert ok.exit_code == 0 and "chain intact, signatures valid" in ok.output
    # A correctly chained line without the key: unsigned.
    monkeypatch.delenv(signing.HMAC_ENV)
    ledger.append(root / "ledger.jsonl", actor="nobody", action="note", subject="U-2", details={})
    assert cli(root, "ledger", "verify").exit_code == 0  # no key: signatures are not checked
    monkeypatch.setenv(signing.HMAC_ENV, "s3cret")
    bad = cli(root, "ledger", "verify")
    assert bad.exit_code == 1 and "entry 2: is not signed" in bad.output
    # Signed with another key.
    monkeypatch.setenv(signing.HMAC_ENV, "other")
    bad = cli(root, "ledger", "verify")
    assert bad.exit_code == 1 and "entry 1: its HMAC signature does not match" in bad.output


def test_removing_a_signature_breaks_the_chain(tmp_path):
    path = tmp_path / "ledger.jsonl"
    env = {signing.HMAC_ENV: "k"}
    for n in range(2):
        ledger.append(path, actor="a", action="note", subject=f"N{n}", details={},
                      signer=signing.signer_from_env(env))
    first, second = path.read_bytes().splitlines(keepends=True)
    document = json.loads(first)
    del document["sig"]
    path.write_bytes(ledger.canonical(document).encode() + b"\n" + second)
    result = ledger.verify(path)
    assert not result.ok and "prev hash does not match line 1" in result.problem


def test_signed_from_exempts_older_entries(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger.append(path, actor="a", action="note", subject="old", details={})
    ledger.append(path, actor="a", action="note", subject="new", details={},
                  signer=signing.signer_from_env({signing.HMAC_ENV: "k"}))
    assert not ledger.verify(path, signatures=signing.Verifier(b"k")).ok
    assert ledger.verify(path, signatures=signing.Verifier(b"k", signed_from=2)).ok


# ------------------------------------------------------------------------------ SSH

@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    folder = tmp_path_factory.mktemp("keys")
    found = {}
    for name in ("alice", "mallory"):
        key = folder / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                       check=True, capture_output=True)
        found[name] = key
    return found


def signers_line(name: str, key: Path) -> str:
    public = key.with_suffix(".pub").read_text().split()
    return f'{name} namespaces="{signing.NAMESPACE}" {public[0]} {public[1]}\n'


@pytest.fixture
def ssh_project(tmp_path, keys, monkeypatch) -> Path:
    root = make_policy_project(tmp_path / "repo", "ledger:\n  allowed_signers: allowed_signers\n")
    (root / "allowed_signers").write_text(signers_line("alice", keys["alice"]))
    commit_base(root)
    monkeypatch.chdir(root)
    return root


def test_ssh_signed_promotion_verifies_and_passes_the_gate(ssh_project, keys, monkeypatch):
    refused = cli(ssh_project, "promote", "Q-1", "--reviewer", "alice")
    assert refused.exit_code == 2 and "requires signed ledger entries" in refused.output
    assert not (ssh_project / "ledger.jsonl").exists()
    monkeypatch.setenv(signing.SSH_KEY_ENV, str(keys["alice"]))
    assert cli(ssh_project, "promote", "Q-1", "--reviewer", "alice").exit_code == 0
    (entry,) = ledger.read(ssh_project / "ledger.jsonl")
    assert entry.sig["kind"] == "ssh" and "BEGIN SSH SIGNATURE" in entry.sig["value"]
    assert cli(ssh_project, "ledger", "verify").exit_code == 0
    gate = cli(ssh_project, "gate", "--no-cache")
    assert gate.exit_code == 0, gate.output


def test_ssh_signature_binds_the_actor(ssh_project, keys, monkeypatch):
    """Alice's key cannot sign for "bob", and an unsigned line fails."""
    monkeypatch.setenv(signing.SSH_KEY_ENV, str(keys["alice"]))
    assert cli(ssh_project, "promote", "Q-1", "--reviewer", "bob").exit_code == 0
    bad = cli(ssh_project, "ledger", "verify")
    assert bad.exit_code == 1 and "not a valid signature by 'bob'" in bad.output


def test_a_branch_cannot_add_its_own_signing_key(ssh_project, keys, monkeypatch):
    """Mallory adds her key to the allowed signers in her branch and signs a promotion: the gate
    checks signatures against the base's allowed signers."""
    with open(ssh_project / "allowed_signers", "a", encoding="utf-8") as handle:
        handle.write(signers_line("mallory", keys["mallory"]))
    monkeypatch.setenv(signing.SSH_KEY_ENV, str(keys["mallory"]))
    assert cli(ssh_project, "promote", "Q-1", "--reviewer", "mallory").exit_code == 0
    assert cli(ssh_project, "ledger", "verify").exit_code == 0  # the working tree's file lists her
    out = ssh_project.parent / "gate.json"
    gate = cli(ssh_project, "gate", "--no-cache", "--json", str(out))
    assert gate.exit_code == 1
    verify = next(c for c in json.loads(out.read_text())["checks"] if c["name"] == "verify")
    assert verify["outcome"] == "fail" and "not a valid signature by 'mallory'" in verify["message"]
