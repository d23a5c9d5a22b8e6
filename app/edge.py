"""The HTTP edge: what every request passes before a router sees it (one ASGI middleware).

* **Size**: a body is capped while it streams in — by its Content-Length when declared, by
  counting the chunks otherwise (chunked transfer). JSON, forms and every other body:
  `max_body_bytes` (1 MiB); multipart uploads and the file-import paths: `max_upload_bytes`.
  Over the cap: 413 in the error shape.
* **Hostile strings**: a control character (NUL included; tab, LF and CR are allowed in
  bodies only) or a lone surrogate in the decoded path, a query key or value, a form field
  (urlencoded or multipart; an upload's file name, not its content) or any JSON key or string
  answers 422, so such a value never reaches PostgreSQL (which refuses NUL in text) nor a log.
* **Shape**: JSON nested deeper than `max_json_depth`, or that Python cannot read as numbers
  (integers of thousands of digits), answers 422.
* **Caching**: a response that does not say otherwise is `Cache-Control: no-store` (tokens,
  dossiers and the citizen lookup carry personal data); static assets set their own header.

Bodies the guard reads (JSON, urlencoded forms) are read once, checked, then replayed to the
app; multipart bodies stream through to the app's parser (which spools files to disk) and are
checked chunk by chunk on the way, so a 20 MiB upload is never held in memory whole; other
bodies stream through, counted.
"""

from __future__ import annotations

import email.message
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# C0 and C1 controls, DEL and lone surrogates; in bodies TAB, LF and CR are text.
_BAD_IN_URL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_IN_BODY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# Paths whose body is a file (JSON or multipart): they get the upload cap.
UPLOAD_PATHS = ("/api/v1/imports",)  # (and every multipart body, e.g. dossier files)


class _ClientGone(Exception):
    pass


class _Rejected(Exception):
    def __init__(self, status: int, code: str, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.detail = status, code, message, detail


def _too_large(limit: int) -> _Rejected:
    return _Rejected(413, "payload_too_large", f"Dữ liệu gửi lên quá lớn (tối đa {_size_text(limit)}).",
                     {"max_bytes": limit})


def _size_text(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


def _bad_char(loc: list[Any]) -> _Rejected:
    where = ".".join(str(p) for p in loc)
    return _Rejected(422, "validation_error",
                     f"Dữ liệu chứa ký tự điều khiển không được phép (ví dụ ký tự NUL) ở: {where}.",
                     [{"loc": loc, "msg": "ký tự điều khiển không được phép", "type": "control_character"}])


def _invalid_json(message: str) -> _Rejected:
    return _Rejected(422, "validation_error", message, [{"loc": ["body"], "msg": message, "type": "json_invalid"}])


def check_text(value: str, loc: list[Any], *, body: bool) -> None:
    if (_BAD_IN_BODY if body else _BAD_IN_URL).search(value):
        raise _bad_char(loc)


def _check_url(scope: Scope) -> None:
    check_text(scope.get("path", ""), ["path"], body=False)
    raw = scope.get("query_string", b"")
    if raw:
        for key, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
            check_text(key, ["query"], body=False)
            check_text(value, ["query", key[:64]], body=False)


def check_json(body: bytes, max_depth: int) -> None:
    try:
        data = json.loads(body)
    except RecursionError:
        raise _invalid_json(f"Dữ liệu JSON lồng quá sâu (tối đa {max_depth} cấp).") from None
    except json.JSONDecodeError:
        return  # the app answers its own 422 (json_invalid, with the position)
    except ValueError:  # bytes that are not UTF-8, integers beyond Python's digit limit
        raise _invalid_json("Dữ liệu JSON không đọc được (mã hóa UTF-8 hoặc số quá dài).") from None
    if not _BAD_IN_BODY.search("\n".join(_strings(data, max_depth))):
        return
    # Something is wrong: walk again to say where (the first one found).
    stack: list[tuple[Any, int, list[Any]]] = [(data, 1, ["body"])]
    while stack:
        value, depth, loc = stack.pop()
        if isinstance(value, str):
            check_text(value, loc, body=True)
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise _invalid_json(f"Dữ liệu JSON lồng quá sâu (tối đa {max_depth} cấp).")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    check_text(key, loc, body=True)
                    key = key[:64]
                stack.append((item, depth + 1, loc + [key] if len(loc) < 8 else loc))


def _strings(data: Any, max_depth: int) -> list[str]:
    """Every key and string of a parsed JSON value (one regex then checks them all at once: 1 MiB
    in a few ms), raising if containers nest deeper than `max_depth`."""
    if isinstance(data, str):
        return [data]
    strings: list[str] = []
    append = strings.append
    stack: list[tuple[Any, int]] = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise _invalid_json(f"Dữ liệu JSON lồng quá sâu (tối đa {max_depth} cấp).")
        if isinstance(value, dict):
            strings.extend(value)
            value = value.values()
        for item in value:
            kind = item.__class__
            if kind is str:
                append(item)
            elif kind is dict or kind is list:
                stack.append((item, depth + 1))
    return strings


def check_urlencoded(body: bytes) -> None:
    for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
        check_text(key, ["body"], body=True)
        check_text(value, ["body", key[:64]], body=True)


class MultipartChecker:
    """Field names, text fields and file names of a multipart body (file contents are data), fed
    chunk by chunk as the body streams in: an upload is never held in memory whole."""

    def __init__(self, boundary: bytes) -> None:
        self.part: dict[str, Any] = {}
        self.found: list[_Rejected] = []
        self.broken = False
        self.parser = MultipartParser(boundary, {  # type: ignore[arg-type]
            "on_part_begin": self._begin, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_header_end": self._header_end,
            "on_part_data": self._data, "on_part_end": self._end})

    def _begin(self) -> None:
        self.part.clear()
        self.part.update(headers={}, field=b"", value=b"", data=[])

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self.part["field"] += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self.part["value"] += data[start:end]

    def _header_end(self) -> None:
        part = self.part
        part["headers"][part["field"].lower()] = part["value"]
        part["field"], part["value"] = b"", b""

    def _data(self, data: bytes, start: int, end: int) -> None:
        if b"filename" not in self.part["headers"].get(b"content-disposition", b""):
            self.part["data"].append(data[start:end])

    def _end(self) -> None:
        part = self.part
        _, options = parse_options_header(part["headers"].get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        try:
            check_text(name, ["body"], body=True)
            if b"filename" in options:
                check_text(options[b"filename"].decode("utf-8", "replace"), ["body", name[:64], "filename"], body=True)
            else:
                check_text(b"".join(part["data"]).decode("utf-8", "replace"), ["body", name[:64]], body=True)
        except _Rejected as exc:
            self.found.append(exc)

    def write(self, chunk: bytes, *, last: bool) -> None:
        """Raises the first refusal found so far."""
        if not self.broken:
            try:
                self.parser.write(chunk)
                if last:
                    self.parser.finalize()
            except Exception:  # noqa: BLE001 - a malformed body: the app's own form parser answers it
                self.broken = True
        if self.found:
            raise self.found[0]


def check_multipart(body: bytes, boundary: bytes) -> None:
    """Field names, text fields and file names of a whole multipart body."""
    MultipartChecker(boundary).write(body, last=True)


class GuardRejection(HTTPException):
    """A refusal found while the app already reads the body (streamed multipart): raised inside its
    body read, answered by the app's handler in the error shape (app/main.py)."""

    def __init__(self, rejected: _Rejected) -> None:
        super().__init__(rejected.status, rejected.message)
        self.code, self.message, self.error_detail = rejected.code, rejected.message, rejected.detail


def _body_kind(content_type: str) -> tuple[str | None, bytes]:
    """Which parser the app will use for this body, mirroring FastAPI: no content type is JSON."""
    if not content_type or content_type == "application/json":
        return "json", b""
    message = email.message.Message()
    message["content-type"] = content_type
    main, sub = message.get_content_maintype(), message.get_content_subtype()
    if main == "application" and (sub == "json" or sub.endswith("+json")):
        return "json", b""
    if main == "application" and sub == "x-www-form-urlencoded":
        return "form", b""
    if main == "multipart" and sub == "form-data":
        boundary = message.get_param("boundary")
        return ("multipart", boundary.encode("latin-1")) if isinstance(boundary, str) and boundary else (None, b"")
    return None, b""


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _no_store(send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        kind, boundary = _body_kind(headers.get("content-type", "").strip())
        upload = kind == "multipart" or scope.get("path", "").startswith(UPLOAD_PATHS)
        limit = self.max_upload_bytes if upload else self.max_body_bytes
        try:
            _check_url(scope)
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(limit)
            if kind is None:
                await self.app(scope, _counting(receive, limit), send)
                return
            if kind == "multipart":  # streamed: checked chunk by chunk as the app reads it
                await self.app(scope, _checking_multipart(receive, limit, boundary), send)
                return
            body, replay = await _read_body(receive, limit)
            if body:
                if kind == "json":
                    check_json(body, self.max_json_depth)
                elif kind == "form":
                    check_urlencoded(body)
                else:
                    check_multipart(body, boundary)
        except _Rejected as exc:
            await _answer(send, exc)
            return
        except _ClientGone:
            return
        await self.app(scope, replay, send)


def _checking_multipart(receive: Receive, limit: int, boundary: bytes) -> Receive:
    checker = MultipartChecker(boundary)
    seen = 0

    async def checked() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                raise GuardRejection(_too_large(limit))
            try:
                checker.write(chunk, last=not message.get("more_body", False))
            except _Rejected as exc:
                raise GuardRejection(exc) from None
        return message

    return checked


def _counting(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                # Raised inside the app's body read (FastAPI re-raises an HTTPException there, any
                # other error becomes a 400): the app's handler answers 413 in the error shape.
                raise HTTPException(413)
        return message

    return counted


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, Receive]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: never hand on half a body
            raise _ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _no_store(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if not any(k.lower() == b"cache-control" for k, _ in headers):
                headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
        await send(message)

    return sending


async def _answer(send: Send, exc: _Rejected) -> None:
    body = json.dumps({"code": exc.code, "message": exc.message, "detail": exc.detail},
                      ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": exc.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
