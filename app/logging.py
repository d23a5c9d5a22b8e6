"""Structured (JSON-line) logs. Never log personal data: no names, id numbers, phones, secrets,
request bodies or query strings; dossier codes and user ids are fine.

Tracebacks are the way data slips in unasked: a failed write's database error repeats the values
(PostgreSQL's "Key (applicant_id_number)=(001099012345) already exists", "Failing row contains
(...)"), and a pydantic error its input. Every log record with an exception therefore carries a
redacted traceback (`redacted_traceback`, installed as the record factory, so every handler and
pytest's caplog see the same text): database errors keep their class, SQLSTATE, constraint,
table and column, never their message; validation errors keep locations and types, never input.
The engines also hide statement parameters (`hide_parameters`, app/db.py).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if request_id := request_id_var.get():
            entry["request_id"] = request_id
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = value
        if record.exc_info:
            entry["exc"] = record.exc_text or redacted_traceback(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _is_database_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("sqlalchemy.exc", "psycopg", "sqlite3", "_sqlite3")) and not isinstance(exc, KeyError)


def _safe_message(exc: BaseException) -> str:
    if _is_database_error(exc):
        orig = getattr(exc, "orig", None) or exc
        diag = getattr(orig, "diag", None)
        facts = {"sqlstate": getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None),
                 "constraint": getattr(diag, "constraint_name", None), "table": getattr(diag, "table_name", None),
                 "column": getattr(diag, "column_name", None)}
        if type(orig).__module__.startswith(("sqlite3", "_sqlite3")):
            # SQLite names the constraint and columns, never the values: keep its first line only.
            facts["error"] = str(orig).splitlines()[0][:200] if str(orig) else None
        shown = ", ".join(f"{k}={v}" for k, v in facts.items() if v)
        return f"[database error; values not logged{': ' + shown if shown else ''}]"
    errors = getattr(exc, "errors", None)
    if type(exc).__name__ == "ValidationError" and callable(errors):
        try:
            parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('type')}" for e in errors()][:10]
        except Exception:  # noqa: BLE001
            parts = []
        return f"[validation error; input not logged: {'; '.join(parts)}]"
    return str(exc)


def redacted_traceback(exc_info) -> str:  # noqa: ANN001
    """The traceback of `exc_info` (its chain included) with the messages that may carry personal
    data replaced by what is safe to keep."""
    _, exc, _ = exc_info
    chain: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    link: str | None = None
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append((exc, link))
        if exc.__cause__ is not None:
            exc, link = exc.__cause__, "The above exception was the direct cause of the following exception:"
        elif exc.__context__ is not None and not exc.__suppress_context__:
            exc, link = exc.__context__, "During handling of the above exception, another exception occurred:"
        else:
            exc = None
    parts: list[str] = []
    for current, link in reversed(chain):
        frames = "".join(traceback.format_tb(current.__traceback__)) if current.__traceback__ else ""
        name = f"{type(current).__module__}.{type(current).__qualname__}"
        parts.append(f"Traceback (most recent call last):\n{frames}{name}: {_safe_message(current)}")
        if link:
            parts.append(f"\n\n{link}\n\n")
    return "".join(parts).rstrip()


_base_record_factory = logging.getLogRecordFactory()


def _record_factory(*args, **kwargs) -> logging.LogRecord:  # noqa: ANN002, ANN003
    record = _base_record_factory(*args, **kwargs)
    if record.exc_info and record.exc_info[1] is not None:
        # Formatters print `exc_text` when it is set: every handler gets the redacted text.
        record.exc_text = redacted_traceback(record.exc_info)
    return record


def install_redaction() -> None:
    """Every log record made from now on carries a redacted traceback (idempotent)."""
    logging.setLogRecordFactory(_record_factory)


def configure_logging(level: str = "INFO") -> None:
    install_redaction()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = True  # our middleware logs requests without query strings
