"""One domain error hierarchy: machine code, Vietnamese message, HTTP status.

Services raise these; `app.main` turns every one of them (and validation errors) into
`{"code", "message", "detail"}`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    """What every 4xx and 5xx answers (documented as such in the OpenAPI schema)."""

    code: str = Field(description="Mã lỗi cho máy đọc, ví dụ validation_error, dossier_not_found")
    message: str = Field(description="Thông báo tiếng Việt cho người dùng")
    detail: Any = Field(default=None, description="Chi tiết (trường sai, giấy tờ còn thiếu...)")


class DomainError(Exception):
    status_code = 400
    code = "bad_request"
    message = "Yêu cầu không hợp lệ."

    def __init__(self, message: str | None = None, *, code: str | None = None, detail: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        self.detail = detail
        self.headers = headers
        super().__init__(self.message)


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"
    message = "Chưa đăng nhập hoặc phiên đăng nhập đã hết hạn."


class NotPermitted(DomainError):
    status_code = 403
    code = "not_permitted"
    message = "Tài khoản không có quyền thực hiện thao tác này."


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    message = "Không tìm thấy dữ liệu yêu cầu."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    message = "Thao tác xung đột với trạng thái hiện tại."


class PreconditionFailed(DomainError):
    status_code = 412
    code = "stale_version"
    message = "Hồ sơ đã được người khác cập nhật; vui lòng tải lại rồi thao tác lại."


class Invalid(DomainError):
    status_code = 422
    code = "invalid"
    message = "Dữ liệu gửi lên không hợp lệ."


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"
    message = "Bạn thao tác quá nhiều lần; vui lòng thử lại sau."


class Unavailable(DomainError):
    status_code = 503
    code = "unavailable"
    message = "Hệ thống tạm thời không sẵn sàng; vui lòng thử lại sau."
