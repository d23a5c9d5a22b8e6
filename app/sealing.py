"""Encryption at rest for the JSON documents that may hold a citizen's lookup secret or personal
data: outbox payloads (the `submitted` SMS carries the secret) and idempotency replay records
(the intake response carries it). Columns typed `db.SealedJSON` are sealed when written and
opened when read, whoever writes them; the database only ever holds `{"fernet": "gAAAA..."}`.

Fernet (`cryptography`): AES-128-CBC with HMAC-SHA256, a random IV per message, authenticated,
versioned tokens. The key is derived with HKDF-SHA256 from MOTCUA_DATA_KEY, or, when that is not
set, from MOTCUA_JWT_SECRET (set MOTCUA_DATA_KEY in production so that rotating the JWT secret
does not make queued messages unreadable). A document sealed with another key is read as
`{"unreadable": true}` and logged (without content), never raised: an outbox row then
dead-letters instead of stopping the queue.
"""

from __future__ import annotations

import base64
import json
import logging
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.settings import Settings

SEALED = "fernet"  # the only key of a sealed document
UNREADABLE: dict[str, Any] = {"unreadable": True}
log = logging.getLogger("motcua.sealing")


class Sealer:
    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"motcua-data-at-rest",
                   info=b"fernet-v1").derive(secret.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, document: Any) -> dict[str, str]:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        return {SEALED: self._fernet.encrypt(text.encode()).decode()}

    def open(self, stored: Any) -> Any:
        if not is_sealed(stored):
            return stored  # written before sealing existed
        try:
            return json.loads(self._fernet.decrypt(stored[SEALED].encode()))
        except (InvalidToken, ValueError):
            log.warning("sealed document unreadable (another MOTCUA_DATA_KEY?)")
            return dict(UNREADABLE)


def is_sealed(stored: Any) -> bool:
    return isinstance(stored, dict) and set(stored) == {SEALED} and isinstance(stored[SEALED], str)


def sealer_for(settings: Settings) -> Sealer:
    secret = settings.data_key or settings.jwt_secret
    return _sealer(secret.get_secret_value())


@lru_cache(maxsize=8)
def _sealer(secret: str) -> Sealer:
    return Sealer(secret)
