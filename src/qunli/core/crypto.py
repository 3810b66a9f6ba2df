"""Field encryption for sensitive personal data: AES-256-GCM ciphertext, an HMAC blind
index for equality look-ups (dedup on ID number, match on phone), and display masks.
Plaintext never sits in the database; lists show the stored mask only."""

import base64
import binascii
import hashlib
import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

_VERSION = "v1:"


@lru_cache(maxsize=4)
def _aead(key_hex: str) -> AESGCM:
    return AESGCM(bytes.fromhex(key_hex))


@lru_cache(maxsize=4)
def _index_key(key_hex: str) -> bytes:
    return bytes.fromhex(key_hex)


def encrypt(plaintext: str) -> str:
    return _encrypt_many(_aead(settings.QUNLI_FIELD_KEY), (plaintext,))[0]


def _encrypt_many(aead: AESGCM, plaintexts) -> list[str]:
    """``v1:`` + base64(nonce ‖ AES-GCM ciphertext) per value ("" stays ""). The nonces (96
    random bits each) are drawn from the OS in one call for the whole batch."""
    plaintexts = list(plaintexts)
    nonces = os.urandom(12 * len(plaintexts))
    enc, b2a = aead.encrypt, binascii.b2a_base64
    out = []
    append = out.append
    for i, v in enumerate(plaintexts):
        if v:
            nonce = nonces[12 * i:12 * i + 12]
            append(_VERSION + b2a(nonce + enc(nonce, v.encode(), None), newline=False).decode())
        else:
            append("")
    return out


def decrypt(token: str) -> str:
    if not token:
        return ""
    raw = base64.b64decode(token[len(_VERSION):])
    return _aead(settings.QUNLI_FIELD_KEY).decrypt(raw[:12], raw[12:], None).decode()


def blind_index(value: str) -> str:
    """Keyed digest used to find equal values without decrypting (32 hex chars)."""
    return _blinder(settings.QUNLI_INDEX_KEY)(value)


@lru_cache(maxsize=4)
def _blinder(key_hex: str):
    """HMAC-SHA256(key, value)[:16] as hex, with the key's inner and outer pads hashed once
    (RFC 2104; equal to ``hmac.digest``, which a test checks), about 2.5x faster per value."""
    key = bytes.fromhex(key_hex)
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(key.translate(_IPAD))
    outer = hashlib.sha256(key.translate(_OPAD))

    def blind(value: str) -> str:
        if not value:
            return ""
        h = inner.copy()
        h.update(value.encode())
        o = outer.copy()
        o.update(h.digest())
        return o.digest()[:16].hex()
    return blind


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


def _blind(key: bytes, value: str) -> str:
    """Reference implementation of the blind index (the tests compare ``_blinder`` to it)."""
    if not value:
        return ""
    return hmac.digest(key, value.encode(), "sha256")[:16].hex()


def bulk_functions():
    """``(encrypt_many, blind_index)`` bound to the current keys, for bulk writers that seal
    hundreds of thousands of values (the same functions as above, minus the settings
    look-up per call)."""
    from functools import partial

    return partial(_encrypt_many, _aead(settings.QUNLI_FIELD_KEY)), _blinder(settings.QUNLI_INDEX_KEY)


def mask_id_number(v: str) -> str:
    return f"{v[:6]}********{v[-4:]}" if len(v) == 18 else ("*" * len(v))


def mask_phone(v: str) -> str:
    return f"{v[:3]}****{v[-4:]}" if len(v) >= 8 else "****"


def mask_address(v: str) -> str:
    return (v[:6] + "****") if v else ""



# --- sealing: the one implementation behind Person.set_sensitive and the bulk importer ---

SEALED_COLUMNS = {
    "id_number": ("id_number_enc", "id_number_hash", "id_number_mask"),
    "phone": ("phone_enc", "phone_hash", "phone_mask"),
    "address": ("address_enc", "address_mask"),
}


def seal_functions() -> dict:
    """Per sensitive field, a function [values] -> [stored columns per value] (in
    ``SEALED_COLUMNS`` order): ciphertext, blind index (id_number, phone) and mask. Bound
    once to the keys; ``Person.set_sensitive`` (via ``seal``) and the bulk importer both go
    through these, so a single value and a million are sealed the same way."""
    encrypt_many, blind = bulk_functions()

    def id_number(values) -> list[tuple]:
        return [(e, blind(v), mask_id_number(v) if v else "") for v, e in zip(values, encrypt_many(values), strict=True)]

    def phone(values) -> list[tuple]:
        return [(e, blind(v), mask_phone(v) if v else "") for v, e in zip(values, encrypt_many(values), strict=True)]

    def address(values) -> list[tuple]:
        return [(e, mask_address(v)) for v, e in zip(values, encrypt_many(values), strict=True)]

    return {"id_number": id_number, "phone": phone, "address": address}


def seal(field: str, value: str) -> dict:
    """The stored columns of one sensitive field, by column name."""
    return dict(zip(SEALED_COLUMNS[field], seal_functions()[field]([value])[0], strict=True))
