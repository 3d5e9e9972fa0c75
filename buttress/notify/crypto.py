"""Secrets that must be read back (Apprise URLs, webhook signing secrets), encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under a key derived with HKDF from
``SECRET_KEY``; the keys of ``SECRET_KEY_FALLBACKS`` still decrypt, so the secret key can be
rotated. Once a key is dropped from the fallbacks, what it sealed cannot be read and the
owner re-enters it.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

INFO = b"buttress.notify.secrets"


class Unreadable(Exception):
    """Sealed under a key that is no longer configured, or tampered with."""


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _box() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(key) for key in keys])


def seal(text: str) -> str:
    return _box().encrypt(text.encode()).decode()


def unseal(token: str) -> str:
    try:
        return _box().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise Unreadable("the stored secret cannot be decrypted with the configured keys") from exc
