"""Secrets at rest: sealed store credentials and webhook secrets (MultiFernet, newest key first,
so keys rotate without downtime)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from storesync.core.errors import AppError, ErrorType

# -- sealed credentials ---------------------------------------------------------------------------


class CredentialBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one Fernet key is required")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def seal(self, payload: dict[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(payload, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise AppError(
                ErrorType.INTERNAL,
                "credentials_undecryptable",
                "stored credentials cannot be decrypted with the configured keys",
            ) from None
        return data

    def rotate(self, token: str) -> str:
        """Re-encrypt under the newest key."""
        return self._fernet.rotate(token.encode()).decode()

    def __repr__(self) -> str:
        return "CredentialBox(<keys hidden>)"
