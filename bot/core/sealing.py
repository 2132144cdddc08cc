"""Seal an anonymous pulse answer while its round is open, so only the key holder reads it.

The value is encrypted with AES-GCM under a key derived from the app's secret key (HKDF-SHA256,
one key per round, with a purpose-specific info string) and a random 96-bit nonce per write.
The associated data binds a sealed value to its round, item and slot, so it cannot be moved
to another row. Before encryption the value is padded to a multiple of `BLOCK` bytes (and at
least the room the largest answer to its item needs), so the sealed length does not tell a
10 from a 9, or how many options were chosen; a free text shows its length only to within
`BLOCK` bytes. This is pure computation: no I/O, no clock.
"""

from __future__ import annotations

import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.core.pulse_values import PulseValue

INFO = b"tenkepause pulse seal v1"
VERSION = b"\x01"
NONCE_BYTES = 12
KEY_BYTES = 32
BLOCK = 256


class SealBroken(Exception):
    """A sealed value that this key cannot open (another key, or altered bytes)."""


def round_key(secret: str, round_id: int) -> bytes:
    """Return the AES-256 key that seals the answers of one round under the app's secret."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=INFO + b" round " + str(round_id).encode(),
    )
    return hkdf.derive(secret.encode())


def room_for(value: PulseValue) -> int:
    """Return how many bytes `value` takes before padding (use the largest answer as room)."""
    return len(_encode(value))


def seal(
    secret: str, round_id: int, item_id: int, slot: str, value: PulseValue, *, room: int = 0
) -> bytes:
    """Return `value` sealed for one row: version, random nonce, padded ciphertext and tag."""
    plain = _encode(value)
    size = max(len(plain), room)
    padded = plain + b" " * (-(-size // BLOCK) * BLOCK - len(plain))
    nonce = os.urandom(NONCE_BYTES)
    cipher = AESGCM(round_key(secret, round_id))
    return VERSION + nonce + cipher.encrypt(nonce, padded, _bound(round_id, item_id, slot))


def unseal(secret: str, round_id: int, item_id: int, slot: str, sealed: bytes) -> PulseValue:
    """Return the value sealed for this row; raise SealBroken when this key cannot open it."""
    if len(sealed) <= len(VERSION) + NONCE_BYTES or sealed[:1] != VERSION:
        raise SealBroken("not a sealed pulse value of a known version")
    nonce = sealed[1 : 1 + NONCE_BYTES]
    cipher = AESGCM(round_key(secret, round_id))
    try:
        plain = cipher.decrypt(nonce, sealed[1 + NONCE_BYTES :], _bound(round_id, item_id, slot))
    except InvalidTag as error:
        raise SealBroken("the sealed value does not open with this key") from error
    data = json.loads(plain)
    choices = data.get("c")
    return PulseValue(
        value_int=data.get("i"),
        value_choices=tuple(choices) if choices is not None else None,
        value_text=data.get("t"),
    )


def _encode(value: PulseValue) -> bytes:
    data: dict[str, object] = {}
    if value.value_int is not None:
        data["i"] = value.value_int
    if value.value_choices is not None:
        data["c"] = list(value.value_choices)
    if value.value_text is not None:
        data["t"] = value.value_text
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _bound(round_id: int, item_id: int, slot: str) -> bytes:
    return f"pulse-seal:{round_id}:{item_id}:{slot}".encode()
