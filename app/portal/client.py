"""Synchronous httpx adapter for the national public-service portal (Cổng DVCQG).

The adapter only talks and classifies: it logs in lazily, re-logs in once when the portal
says the session is gone, and turns every other failure into ``PortalUnavailable`` (retry
later) or ``PortalRejected`` (do not retry). Retry with backoff belongs to the outbox
dispatcher. Logs carry MaHoSo and status codes only, never personal data.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)

SERVICE_SYNC = "DongBoHoSoMC"
SERVICE_PROGRESS = "CapNhatTienDoHoSoMC"
SERVICE_ANSWER = "PhanHoiHoSoNopTrucTuyen"  # not received (TrangThaiHoSo 3): app.portal.mock, docs/PORTAL.md
ERR_SESSION = -1
ERR_NOT_FOUND = 4


class PortalError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None, error_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code  # HTTP status, None when no answer came back
        self.error_code = error_code  # the portal's error_code, when it sent one


class PortalUnavailable(PortalError):
    """Retryable: 5xx, 408/429, timeout, connection error, refused login, unreadable answer."""


class PortalRejected(PortalError):
    """Not retryable: the portal refused this payload (4xx other than 401, or error_code != 0)."""


class _SessionExpired(Exception):
    pass


def _codes(rows: list[dict[str, Any]]) -> str:
    # MaHoSo and status only: the rows also hold names, id numbers and phones.
    return ", ".join(f"{r.get('MaHoSo')}:{r.get('TrangThaiHoSo')}" for r in rows)


class PortalClient:
    """One instance per process; safe to share between threads (login is serialised)."""

    def __init__(
        self,
        *,
        base_url: str,
        username: str,
        password: str,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._username = username
        self._password = password
        # An injected client keeps its own timeout (TestClient warns on per-request timeouts).
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._session: str | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ public calls

    def sync_dossiers(self, dossiers: list[dict[str, Any]], *, is_updating: bool, idempotency_key: str) -> dict[str, Any]:
        """DongBoHoSoMC: create (is_updating=False) or replace (True) dossiers on the portal."""
        body = {"isUpdating": is_updating, "service": SERVICE_SYNC, "data": dossiers}
        log.info("DVCQG %s is_updating=%s n=%d [%s]", SERVICE_SYNC, is_updating, len(dossiers), _codes(dossiers))
        return self._send_batch("/dossiers/sync", body, idempotency_key, dossiers)

    def update_progress(self, items: list[dict[str, Any]], *, idempotency_key: str) -> dict[str, Any]:
        """CapNhatTienDoHoSoMC: new status and processing-history rows for dossiers already synced."""
        body = {"service": SERVICE_PROGRESS, "data": items}
        log.info("DVCQG %s n=%d [%s]", SERVICE_PROGRESS, len(items), _codes(items))
        return self._send_batch("/dossiers/progress", body, idempotency_key, items)

    def answer_submissions(self, items: list[dict[str, Any]], *, idempotency_key: str) -> dict[str, Any]:
        """Tell the portal that online submissions were not received (TrangThaiHoSo 3, with the reason)."""
        body = {"service": SERVICE_ANSWER, "data": items}
        log.info("DVCQG %s n=%d", SERVICE_ANSWER, len(items))
        return self._send_batch("/submissions/answers", body, idempotency_key, items)

    def lookup(self, code: str) -> dict[str, Any] | None:
        """TraCuuHoSo: the dossier as the portal holds it, or None when it holds none."""
        try:
            payload = self._call("POST", "/dossiers/lookup", json={"MaHoSo": code})
        except PortalRejected as exc:
            if exc.status_code == 404 or exc.error_code == ERR_NOT_FOUND:
                log.info("DVCQG TraCuuHoSo %s: not held", code)
                return None
            raise
        data = payload.get("data")
        if not isinstance(data, dict):
            raise PortalUnavailable("lookup answer without a data object", status_code=200)
        return data

    def pull_submissions(self, after: str | None, *, limit: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Online submissions made on the portal after the opaque cursor ``after``; returns (items, next)."""
        params: dict[str, Any] | None = {"after": after} if after else None
        if limit is not None:
            params = {**(params or {}), "limit": limit}
        payload = self._call("GET", "/submissions", params=params)
        items = payload.get("items")
        if not isinstance(items, list):
            raise PortalUnavailable("submissions answer without an items list", status_code=200)
        nxt = payload.get("next", after)
        log.info("DVCQG submissions pulled n=%d", len(items))
        return items, nxt if isinstance(nxt, str) else after

    def download_submission_file(self, file_id: str, sink: BinaryIO, *, max_bytes: int) -> int:
        """Stream the bytes of a submission's attachment (`MaTep`) into `sink`; returns the size.
        PortalRejected when the portal holds no such file or it is larger than `max_bytes`."""
        path = f"/submissions/files/{quote(file_id, safe='')}"
        for attempt in (1, 2):
            session = self._ensure_session()
            sink.seek(0)
            sink.truncate()
            try:
                with self._http.stream("GET", f"{self._base}{path}", headers={"X-Session": session}) as resp:
                    if resp.status_code != 200:
                        resp.read()
                        self._classify(resp)  # raises for every error answer
                        raise PortalUnavailable(f"unexpected answer: HTTP {resp.status_code}",
                                                status_code=resp.status_code)
                    size = 0
                    for chunk in resp.iter_bytes(1024 * 1024):
                        size += len(chunk)
                        if size > max_bytes:
                            raise PortalRejected(f"file larger than {max_bytes} bytes", status_code=413)
                        sink.write(chunk)
                    return size
            except _SessionExpired:
                self._drop_session(session)
                if attempt == 2:
                    raise PortalUnavailable("session refused right after a fresh login", status_code=401) from None
            except httpx.TimeoutException as exc:
                raise PortalUnavailable(f"timeout calling {path}: {type(exc).__name__}") from exc
            except httpx.TransportError as exc:
                raise PortalUnavailable(f"connection error calling {path}: {type(exc).__name__}") from exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> PortalClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _send_batch(self, path: str, body: dict[str, Any], key: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            payload = self._call("POST", path, json=body, headers={"Idempotency-Key": key})
        except PortalError as exc:
            # The portal's message is kept on the exception for the outbox, not logged: it may quote data.
            log.warning(
                "DVCQG %s failed (%s, http=%s, error_code=%s) [%s]",
                body["service"], type(exc).__name__, exc.status_code, exc.error_code, _codes(rows),
            )
            raise
        if payload.get("duplicate"):
            log.info("DVCQG %s already applied for this idempotency key [%s]", body["service"], _codes(rows))
        return payload

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        # The same request (same Idempotency-Key) is safe to resend: a 401 means nothing was applied.
        extra: dict[str, str] = kwargs.pop("headers", {})
        for attempt in (1, 2):
            session = self._ensure_session()
            try:
                return self._classify(self._request(method, path, headers={**extra, "X-Session": session}, **kwargs))
            except _SessionExpired:
                self._drop_session(session)
                if attempt == 2:
                    raise PortalUnavailable("session refused right after a fresh login", status_code=401) from None
                log.info("DVCQG session expired; logging in again")
        raise AssertionError("unreachable")

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, f"{self._base}{path}", **kwargs)
        except httpx.TimeoutException as exc:
            raise PortalUnavailable(f"timeout calling {path}: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise PortalUnavailable(f"connection error calling {path}: {type(exc).__name__}") from exc

    @staticmethod
    def _json(resp: httpx.Response) -> dict[str, Any] | None:
        try:
            body = resp.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _classify(self, resp: httpx.Response) -> dict[str, Any]:
        status = resp.status_code
        payload = self._json(resp)
        code = payload.get("error_code") if payload else None
        message = str(payload.get("message")) if payload and payload.get("message") else f"HTTP {status}"
        if status == 401 or code == ERR_SESSION:
            raise _SessionExpired()
        if status >= 500 or status in (408, 429):
            raise PortalUnavailable(message, status_code=status, error_code=code)
        if 400 <= status < 500:
            raise PortalRejected(message, status_code=status, error_code=code)
        if not 200 <= status < 300 or payload is None:
            raise PortalUnavailable(f"unexpected answer: HTTP {status}", status_code=status, error_code=code)
        if code not in (0, None):
            raise PortalRejected(message, status_code=status, error_code=code)
        return payload

    def _ensure_session(self) -> str:
        with self._lock:
            if self._session is None:
                self._session = self._login()
            return self._session

    def _drop_session(self, session: str) -> None:
        with self._lock:
            if self._session == session:  # another thread may already hold a fresh one
                self._session = None

    def _login(self) -> str:
        resp = self._request("POST", "/auth/login", json={"username": self._username, "password": self._password})
        payload = self._json(resp)
        code = payload.get("error_code") if payload else None
        token = payload.get("session") if payload else None
        if resp.status_code != 200 or code != 0 or not isinstance(token, str) or not token:
            # Refused login is retryable: fixing credentials or waiting must not dead-letter dossiers.
            message = str(payload.get("message")) if payload and payload.get("message") else f"HTTP {resp.status_code}"
            log.warning("DVCQG login refused (http=%s, error_code=%s)", resp.status_code, code)
            raise PortalUnavailable(f"login refused: {message}", status_code=resp.status_code, error_code=code)
        log.info("DVCQG logged in")
        return token
