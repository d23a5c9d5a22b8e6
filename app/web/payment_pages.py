"""The citizen's payment pages: the way to the platform (link and QR code) and the outcome with
the receipt. Rendering only; the routes are in app/api/payments.py."""

from __future__ import annotations

from typing import Any

from app.web.citizen_page import asset_version, environment

TRANSACTION_TEXTS = {
    "pending": "Cổng thanh toán chưa xác nhận giao dịch. Kết quả sẽ được cập nhật trong ít phút; ông/bà có thể tra "
               "cứu lại hồ sơ sau.",
    "paid": "Đã nộp phí, lệ phí. Cảm ơn ông/bà.",
    "failed": "Giao dịch không thành công. Ông/bà có thể tra cứu lại hồ sơ và thanh toán lại.",
    "cancelled": "Giao dịch đã huỷ. Ông/bà có thể tra cứu lại hồ sơ và thanh toán lại.",
}


def render(*, title: str, static_url: str = "/tra-cuu/static", **context: Any) -> str:
    css = f"{static_url}/citizen.css?v={asset_version('citizen.css')}"
    return environment().get_template("citizen/payment.html").render(title=title, css_url=css, **context)
