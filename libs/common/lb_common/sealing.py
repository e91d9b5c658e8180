"""Connection secrets sealed at rest and in messages: Fernet tokens under one or more keys from
`LEDGERBRIDGE_SECRETS_KEY` (comma-separated; the first seals, every one opens).

Rotating a key: put the new key first and keep the old one after it in every service, restart;
ingest reseals every secret at start (and `POST /connections/reseal`) and sends every
connection again, so every service's copy is sealed with the new key; then drop the old key.

Without a key a development key, derived from a phrase in this file, seals: it keeps the demo and
a single-connection deployment working with no set-up, and is no protection (a warning says so).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from lb_common.errors import PermanentError
from lb_common.settings import CommonSettings

log = logging.getLogger(__name__)

DEVELOPMENT_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"ledgerbridge development key: public, protects nothing").digest()
).decode()


@functools.cache
def _warn_development_key_once() -> None:
    # Once per process: every service builds several boxes, and one line says it all.
    log.warning(
        "LEDGERBRIDGE_SECRETS_KEY is not set: connection secrets are sealed with the "
        "public development key; set a key of your own outside a demo"
    )


class SealError(PermanentError):
    """A sealed value cannot be opened with the configured keys (never says what it holds)."""


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except ValueError as exc:
            raise ValueError(
                "LEDGERBRIDGE_SECRETS_KEY must hold Fernet keys (32 url-safe base64-encoded bytes "
                "each, comma-separated); make one with "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key()"
                ".decode())'`"
            ) from exc

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> SecretBox:
        configured = settings.secrets_key.get_secret_value() if settings.secrets_key else ""
        keys = [k for k in (part.strip() for part in configured.split(",")) if k]
        if not keys:
            _warn_development_key_once()
            keys = [DEVELOPMENT_KEY]
        return cls(keys)

    def seal(self, value: Mapping[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            opened: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise SealError(
                "a connection's secrets cannot be opened with the keys in "
                "LEDGERBRIDGE_SECRETS_KEY: the key they were sealed with is missing (add it back "
                "after the new one until ingest has resealed them)"
            ) from exc
        return opened

    def reseal(self, token: str) -> str:
        """The same secrets sealed with the first key (MultiFernet.rotate)."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SealError("a connection's secrets cannot be opened to reseal them") from exc
