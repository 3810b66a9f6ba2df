"""Field encryption for sensitive personal data: AES-256-GCM ciphertext, an HMAC blind
index for equality look-ups (dedup on ID number, match on phone), and display masks.
Plaintext never sits in the database; lists show the stored mask only."""

import base64
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
    return _VERSION + base64.b64encode(nonce + aead.encrypt(nonce, plaintext.encode(), None)).decode()


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
    return hmac.digest(key, value.encode(), "sha256").hex()[:32]


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

