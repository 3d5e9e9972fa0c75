"""Secrets buttress must read back (a mailbox's password), encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) under a key derived from
``SECRET_KEY``; changing ``SECRET_KEY`` makes stored secrets unreadable, and they must be
entered again.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretUnreadable(ValueError):
    pass


def _fernet() -> Fernet:
    digest = hashlib.sha256(b"buttress.secretbox\x00" + settings.SECRET_KEY.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(plain: str) -> str:
    return _fernet().encrypt(plain.encode("utf-8")).decode("ascii")


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        msg = "the stored secret cannot be decrypted (was SECRET_KEY changed?); enter it again"
        raise SecretUnreadable(msg) from exc
