"""Mock payment platform (cổng thanh toán giả lập), for demos and tests: `motcua mock-payment`.

A FastAPI app holding transactions in memory behind one lock. It implements the contract of
docs/PAYMENTS.md: signed API calls to create and query a transaction, a page where the payer pays,
fails or cancels, and a signed callback to the merchant. A switch under `/_control` makes
callbacks late (held until released, or sent after a delay), duplicated or lost. Not production
code: no persistence.
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.payments.signing import (MERCHANT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, request_signed,
                                  sign_callback)

CONTROL_HEADER = "X-Control-Token"
MODES = ("normal", "late", "duplicate", "lost")
STATUS_LABELS = {"pending": "Chờ thanh toán", "paid": "Đã thanh toán", "failed": "Thất bại", "cancelled": "Đã huỷ"}


@dataclass
class MockPlatformState:
    merchants: dict[str, str]
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)  # by order_ref
    mode: str = "normal"
    delay_seconds: float | None = None  # late mode: None holds callbacks until released
    held: list[dict[str, Any]] = field(default_factory=list)  # late callbacks not yet sent
    sent: list[dict[str, Any]] = field(default_factory=list)  # {order_ref, status, http_status}
    lock: threading.Lock = field(default_factory=threading.Lock)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def create_mock_platform(*, merchants: dict[str, str], control_token: str | None = None,
                         now: Callable[[], float] = time.time, tolerance_seconds: int = 300,
                         state: MockPlatformState | None = None) -> FastAPI:
    """`merchants`: merchant code → shared secret. `now`: the platform's clock (Unix seconds)."""
    st = state or MockPlatformState(merchants=dict(merchants))
    app = FastAPI(title="Cổng thanh toán giả lập", docs_url="/_docs", redoc_url=None, openapi_url="/_openapi.json")
    app.state.platform = st

    async def _merchant(request: Request) -> tuple[str, bytes] | JSONResponse:
        body = await request.body()
        merchant = request.headers.get(MERCHANT_HEADER, "")
        secret = st.merchants.get(merchant)
        try:
            stamp = int(request.headers.get(TIMESTAMP_HEADER, ""))
        except ValueError:
            return _error(401, "bad_signature", "Thiếu hoặc sai dấu thời gian")
        if secret is None or not request_signed(secret, stamp, request.method, request.url.path, body,
                                                request.headers.get(SIGNATURE_HEADER, "")):
            return _error(401, "bad_signature", "Sai chữ ký yêu cầu hoặc đơn vị chấp nhận thanh toán không tồn tại")
        if abs(now() - stamp) > tolerance_seconds:
            return _error(401, "stale_request", "Yêu cầu đã quá hạn")
        return merchant, body

    def _public(tx: dict[str, Any]) -> dict[str, Any]:
        return {k: tx[k] for k in ("order_ref", "transaction_id", "amount", "status", "pay_url", "paid_at")}

    def _callback_body(tx: dict[str, Any]) -> dict[str, Any]:
        fields = {"merchant": tx["merchant"], "order_ref": tx["order_ref"], "transaction_id": tx["transaction_id"],
                  "amount": tx["amount"], "status": tx["status"], "paid_at": tx["paid_at"], "timestamp": int(now())}
        return {**fields, "signature": sign_callback(st.merchants[tx["merchant"]], fields)}

    def _deliver(tx: dict[str, Any]) -> None:
        """Send one callback now (signed at sending time, as a retrying platform does)."""
        with st.lock:
            body = _callback_body(tx)
        try:
            answer = httpx.post(tx["callback_url"], json=body, timeout=10).status_code
        except httpx.HTTPError:
            answer = None
        with st.lock:
            st.sent.append({"order_ref": tx["order_ref"], "status": tx["status"], "http_status": answer})

    def _notify(tx: dict[str, Any]) -> None:
        with st.lock:
            mode, delay = st.mode, st.delay_seconds
        if mode == "lost":
            with st.lock:
                st.sent.append({"order_ref": tx["order_ref"], "status": tx["status"], "http_status": "lost"})
            return
        if mode == "late":
            if delay is None:
                with st.lock:
                    st.held.append(tx)
            else:
                threading.Timer(delay, _deliver, args=(tx,)).start()
            return
        _deliver(tx)
        if mode == "duplicate":
            _deliver(tx)

    @app.post("/api/transactions")
    async def create(request: Request) -> Response:
        checked = await _merchant(request)
        if isinstance(checked, JSONResponse):
            return checked
        merchant, raw = checked
        try:
            body = json.loads(raw)
            order_ref, amount = str(body["order_ref"]), int(body["amount"])
            callback_url, return_url = str(body["callback_url"]), str(body["return_url"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "invalid_request", "Thiếu hoặc sai order_ref, amount, callback_url, return_url")
        if amount <= 0 or not order_ref or len(order_ref) > 64:
            return _error(400, "invalid_request", "Số tiền hoặc mã đơn hàng không hợp lệ")
        with st.lock:
            tx = st.transactions.get(order_ref)
            if tx is not None:  # idempotent on order_ref: the same transaction, unless the amount differs
                if tx["amount"] != amount or tx["merchant"] != merchant:
                    return _error(409, "order_exists", "Mã đơn hàng đã dùng với số tiền khác")
                return JSONResponse(_public(tx))
            transaction_id = f"TX{secrets.token_hex(6).upper()}"
            tx = {"merchant": merchant, "order_ref": order_ref, "transaction_id": transaction_id, "amount": amount,
                  "description": str(body.get("description", ""))[:255], "status": "pending",
                  "pay_url": f"{request.base_url}pay/{transaction_id}", "paid_at": None,
                  "callback_url": callback_url, "return_url": return_url}
            st.transactions[order_ref] = tx
            return JSONResponse(_public(tx), status_code=201)

    @app.get("/api/transactions/{order_ref}")
    async def query(order_ref: str, request: Request) -> Response:
        checked = await _merchant(request)
        if isinstance(checked, JSONResponse):
            return checked
        with st.lock:
            tx = st.transactions.get(order_ref)
            if tx is None or tx["merchant"] != checked[0]:
                return _error(404, "not_found", "Không có giao dịch")
            return JSONResponse(_public(tx))

    def _by_id(transaction_id: str) -> dict[str, Any] | None:
        return next((t for t in st.transactions.values() if t["transaction_id"] == transaction_id), None)

    @app.get("/pay/{transaction_id}", response_class=HTMLResponse)
    async def pay_page(transaction_id: str) -> HTMLResponse:
        with st.lock:
            tx = _by_id(transaction_id)
            if tx is None:
                return HTMLResponse(_page("<p>Không có giao dịch.</p>"), status_code=404)
            tx = dict(tx)
        amount = f"{tx['amount']:,}".replace(",", ".")
        if tx["status"] != "pending":
            inner = f"<p id='status'>Giao dịch: {STATUS_LABELS[tx['status']]}.</p>"
        else:
            inner = (f"<form method='post' action='/pay/{html.escape(transaction_id)}'>"
                     "<button name='action' value='pay' id='pay'>Thanh toán</button> "
                     "<button name='action' value='fail' id='fail'>Giả lập thất bại</button> "
                     "<button name='action' value='cancel' id='cancel'>Huỷ giao dịch</button></form>")
        return HTMLResponse(_page(
            f"<p>Đơn vị nhận: {html.escape(tx['merchant'])}</p><p>Nội dung: {html.escape(tx['description'])}</p>"
            f"<p class='amount' id='amount'>{amount} đồng</p>{inner}"))

    @app.post("/pay/{transaction_id}")
    async def pay(transaction_id: str, request: Request) -> Response:
        form = (await request.body()).decode(errors="replace")
        action = dict(pair.split("=", 1) for pair in form.split("&") if "=" in pair).get("action", "")
        outcome = {"pay": "paid", "fail": "failed", "cancel": "cancelled"}.get(action)
        with st.lock:
            tx = _by_id(transaction_id)
            if tx is None or outcome is None:
                return HTMLResponse(_page("<p>Yêu cầu không hợp lệ.</p>"), status_code=400)
            changed = tx["status"] == "pending"
            if changed:
                tx["status"] = outcome
                tx["paid_at"] = datetime.fromtimestamp(now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ") \
                    if outcome == "paid" else None
            tx = dict(tx)
        if changed:
            import asyncio

            await asyncio.to_thread(_notify, tx)
        back = f"{tx['return_url']}{'&' if '?' in tx['return_url'] else '?'}{urlencode({'ref': tx['order_ref']})}"
        return RedirectResponse(back, status_code=303)

    # ------------------------------------------------------------ control (tests and demos)

    def _control(request: Request) -> JSONResponse | None:
        given = request.headers.get(CONTROL_HEADER) or ""
        if not control_token or not hmac.compare_digest(given.encode(), control_token.encode()):
            return _error(403, "control_denied", f"Thiếu hoặc sai mã điều khiển (header {CONTROL_HEADER})")
        return None

    @app.post("/_control/callbacks")
    async def set_mode(request: Request) -> Response:
        if (denied := _control(request)) is not None:
            return denied
        try:
            body = json.loads(await request.body() or b"{}")
            mode, delay = body.get("mode", "normal"), body.get("delay_seconds")
            assert mode in MODES and (delay is None or (isinstance(delay, (int, float)) and 0 <= delay <= 3600))
        except (ValueError, AssertionError, AttributeError):
            return _error(400, "invalid_request", f"mode phải là một trong {', '.join(MODES)}; delay_seconds 0..3600")
        with st.lock:
            st.mode, st.delay_seconds = mode, delay
        return JSONResponse({"mode": mode, "delay_seconds": delay})

    @app.post("/_control/callbacks/release")
    async def release(request: Request) -> Response:
        """Send the late callbacks held so far (now, signed now)."""
        if (denied := _control(request)) is not None:
            return denied
        with st.lock:
            held, st.held = st.held, []
        import asyncio

        for tx in held:
            await asyncio.to_thread(_deliver, tx)
        return JSONResponse({"released": len(held)})

    @app.get("/_control/state")
    async def state_(request: Request) -> Response:
        if (denied := _control(request)) is not None:
            return denied
        with st.lock:
            return JSONResponse({"mode": st.mode, "delay_seconds": st.delay_seconds, "held": len(st.held),
                                 "sent": list(st.sent),
                                 "transactions": {k: _public(v) for k, v in st.transactions.items()}})

    @app.get("/", response_class=HTMLResponse)
    async def home() -> HTMLResponse:
        with st.lock:
            rows = "".join(f"<tr><td>{html.escape(t['order_ref'])}</td><td>{t['amount']}</td>"
                           f"<td>{STATUS_LABELS[t['status']]}</td></tr>" for t in st.transactions.values())
            mode = st.mode
        return HTMLResponse(_page(f"<p>Chế độ gửi thông báo: {mode}</p><table><tr><th>Mã đơn hàng</th>"
                                  f"<th>Số tiền</th><th>Trạng thái</th></tr>{rows}</table>"))

    return app


def _page(body: str) -> str:
    return ("<!doctype html><html lang='vi'><head><meta charset='utf-8'><title>Cổng thanh toán giả lập</title>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'></head><body>"
            f"<h1>Cổng thanh toán giả lập</h1>{body}</body></html>")
