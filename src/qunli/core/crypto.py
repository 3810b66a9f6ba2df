"""Field encryption for sensitive personal data: AES-256-GCM ciphertext, an HMAC blind
index for equality look-ups (dedup on ID number, match on phone), and display masks.
Plaintext never sits in the database; lists show the stored mask only."""

import base64
import binascii
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
    return _encrypt(_aead(settings.QUNLI_FIELD_KEY), plaintext)


def _encrypt(aead: AESGCM, plaintext: str) -> str:
    if not plaintext:
        return ""
    nonce = os.urandom(12)
    return _VERSION + binascii.b2a_base64(nonce + aead.encrypt(nonce, plaintext.encode(), None), newline=False).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    raw = base64.b64decode(token[len(_VERSION):])
    return _aead(settings.QUNLI_FIELD_KEY).decrypt(raw[:12], raw[12:], None).decode()


def blind_index(value: str) -> str:
    """Keyed digest used to find equal values without decrypting (32 hex chars)."""
    return _blind(_index_key(settings.QUNLI_INDEX_KEY), value)


def _blind(key: bytes, value: str) -> str:
    if not value:
        return ""
    return hmac.digest(key, value.encode(), "sha256")[:16].hex()


def bulk_functions():
    """``(encrypt, blind_index)`` bound to the current keys, for bulk writers that seal
    hundreds of thousands of values (the same functions as above, minus the settings
    look-up per call)."""
    from functools import partial

    return (partial(_encrypt, _aead(settings.QUNLI_FIELD_KEY)),
            partial(_blind, _index_key(settings.QUNLI_INDEX_KEY)))


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
    """Per sensitive field, a function value -> the stored columns (``SEALED_COLUMNS``
    order): ciphertext, blind index (id_number, phone) and mask. Bound once to the keys;
    ``Person.set_sensitive`` and the bulk importer both go through these."""
    encrypt, blind = bulk_functions()

    def id_number(v: str) -> tuple:
        return encrypt(v), blind(v), mask_id_number(v) if v else ""

    def phone(v: str) -> tuple:
        return encrypt(v), blind(v), mask_phone(v) if v else ""

    def address(v: str) -> tuple:
        return encrypt(v), mask_address(v)

    return {"id_number": id_number, "phone": phone, "address": address}


def seal(field: str, value: str) -> dict:
    """The stored columns of one sensitive field, by column name."""
    return dict(zip(SEALED_COLUMNS[field], seal_functions()[field](value), strict=True))
