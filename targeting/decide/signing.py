"""Signatures on ledger entries, so an entry shows who wrote it and not only that the chain
holds (docs/ledger.md, "Threat model").

An entry's `sig` signs its `hash` (which covers its content, its seq and the line before):

- **ssh**: an SSH signature as git makes them (`ssh-keygen -Y sign`, namespace
  `targeting-ledger`), checked with `ssh-keygen -Y verify` against an allowed-signers file
  (git's `gpg.ssh.allowedSignersFile` format) for the principal named by the entry's actor.
  The writer's private key is named by TARGETING_SIGNING_KEY; the project names the
  allowed-signers file in `ledger.allowed_signers`.
- **hmac-sha256**: an HMAC with a secret shared through the environment (TARGETING_LEDGER_KEY).
  Whoever can check it can also forge it: it proves the entry was written where the secret
  is, not by whom.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from targeting.data.config import Config
from targeting.decide.ledger import Entry, Signer
from targeting.errors import TargetingError

NAMESPACE = "targeting-ledger"
HMAC_ENV = "TARGETING_LEDGER_KEY"
SSH_KEY_ENV = "TARGETING_SIGNING_KEY"


class SigningError(TargetingError):
    """An entry cannot be signed (no key when one is required, ssh-keygen failed)."""


def payload(entry_hash: str) -> bytes:
    """What a signature covers: the entry's hash, under a fixed label."""
    return f"targeting-ledger-v1 {entry_hash}\n".encode()


def _hmac(key: bytes, entry_hash: str) -> str:
    return hmac.new(key, payload(entry_hash), hashlib.sha256).hexdigest()


def _key_id(key: bytes) -> str:
    """Names the HMAC key without revealing it (which key signed, when keys rotate)."""
    return hashlib.sha256(b"targeting-ledger-key " + key).hexdigest()[:16]


def signer_from_env(env: Mapping[str, str] | None = None) -> Signer | None:
    """The signer the environment configures: an SSH key, else an HMAC key, else none."""
    env = os.environ if env is None else env
    if env.get(SSH_KEY_ENV):
        return _ssh_signer(Path(env[SSH_KEY_ENV]))
    if env.get(HMAC_ENV):
        key = env[HMAC_ENV].encode()
        return lambda entry_hash, actor: {"kind": "hmac-sha256", "key": _key_id(key),
                                          "value": _hmac(key, entry_hash)}
    return None


def _ssh_signer(key: Path) -> Signer:
    def sign(entry_hash: str, actor: str) -> dict[str, Any]:
        result = _ssh_keygen(["-Y", "sign", "-f", str(key), "-n", NAMESPACE], payload(entry_hash))
        if result.returncode != 0:
            raise SigningError(f"cannot sign the ledger entry with {key} ({SSH_KEY_ENV}): "
                               f"{result.stderr.decode(errors='replace').strip()}")
        return {"kind": "ssh", "value": result.stdout.decode("ascii")}
    return sign


def _ssh_keygen(args: list[str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["ssh-keygen", *args], input=data, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise SigningError("ssh-keygen is not installed; SSH signatures on the ledger need it "
                           "(OpenSSH 8.2 or later)") from exc


@dataclass(frozen=True)
class Verifier:
    """Checks each entry's signature against what the project configures; an entry before
    `signed_from` may be unsigned (a ledger that began before signing was set up)."""

    hmac_key: bytes | None = None
    allowed_signers: bytes | None = None  # the file's content
    signed_from: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Verifier:
        """Only the HMAC key in the environment (a ledger outside any project)."""
        key = (os.environ if env is None else env).get(HMAC_ENV)
        return cls(key.encode() if key else None)

    @property
    def configured(self) -> bool:
        return self.hmac_key is not None or self.allowed_signers is not None

    def __call__(self, entry: Entry) -> str | None:
        sig = entry.sig
        if sig is None:
            if entry.seq < self.signed_from:
                return None
            return (f"is not signed, but signatures are required from entry {self.signed_from} "
                    f"on (set {SSH_KEY_ENV} or {HMAC_ENV} when running targeting)")
        kind = sig.get("kind")
        if kind == "hmac-sha256" and self.hmac_key is not None:
            return self._check_hmac(entry, sig)
        if kind == "ssh" and self.allowed_signers is not None:
            return self._check_ssh(entry, sig)
        accepted = [k for k, on in (("ssh", self.allowed_signers), ("hmac-sha256", self.hmac_key))
                    if on is not None]
        return f"is signed with {kind!r}, which this project does not check (accepted: {accepted})"

    def _check_hmac(self, entry: Entry, sig: dict[str, Any]) -> str | None:
        assert self.hmac_key is not None
        value = sig.get("value")
        if isinstance(value, str) and hmac.compare_digest(value, _hmac(self.hmac_key, entry.hash)):
            return None
        return f"its HMAC signature does not match ({HMAC_ENV}): forged, or signed with another key"

    def _check_ssh(self, entry: Entry, sig: dict[str, Any]) -> str | None:
        assert self.allowed_signers is not None
        value = sig.get("value")
        if not isinstance(value, str):
            return "its SSH signature is missing"
        with tempfile.TemporaryDirectory(prefix="targeting-sig-") as folder:
            signers, signature = Path(folder) / "allowed_signers", Path(folder) / "entry.sig"
            signers.write_bytes(self.allowed_signers)
            signature.write_text(value, encoding="ascii", errors="replace")
            result = _ssh_keygen(["-Y", "verify", "-f", str(signers), "-I", entry.actor, "-n",
                                  NAMESPACE, "-s", str(signature)], payload(entry.hash))
        if result.returncode == 0:
            return None
        return (f"its SSH signature is not a valid signature by {entry.actor!r} from the allowed "
                f"signers: forged, signed by someone else, or the actor's key is not listed")


def verifier(config: Config, allowed_signers: bytes | None = None,
             env: Mapping[str, str] | None = None) -> Verifier:
    """The project's verifier: its allowed-signers file (or that content, read from another
    revision by the gate) and the HMAC key in the environment."""
    env = os.environ if env is None else env
    settings = config.ledger
    if allowed_signers is None and settings.allowed_signers:
        path = config.root / settings.allowed_signers
        try:
            allowed_signers = path.read_bytes()
        except OSError as exc:
            raise TargetingError(f"ledger.allowed_signers: cannot read {path}: {exc}") from exc
    key = env.get(HMAC_ENV)
    return Verifier(key.encode() if key else None, allowed_signers, settings.signed_from)


def required_signer(config: Config, env: Mapping[str, str] | None = None) -> Signer | None:
    """The signer for a new entry; SigningError when the project requires signatures and the
    environment has no key, so nothing unsigned is written."""
    signer = signer_from_env(env)
    if signer is None and config.ledger.allowed_signers:
        raise SigningError(f"this project requires signed ledger entries (ledger.allowed_signers "
                           f"in targeting.yaml); set {SSH_KEY_ENV} to your SSH private key file")
    return signer

