"""Application errors raised by services, and the handlers that render them.

Services raise these and never call ``abort()``. Web pages render
``errors/<status>.html``; JSON clients (``/api/`` or ``Accept: application/json``)
get ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from opendata.extensions import db


class AppError(Exception):
    status = 400
    code = "bad_request"
    message = "Yêu cầu không hợp lệ."

    def __init__(self, message: str | None = None, *, fields: dict[str, Any] | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.fields = fields or {}


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = "Không tìm thấy trang hoặc dữ liệu bạn yêu cầu."


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    message = "Bạn không có quyền thực hiện thao tác này."


class ValidationFailed(AppError):
    status = 422
    code = "validation_failed"
    message = "Dữ liệu chưa hợp lệ, vui lòng kiểm tra các trường được đánh dấu."


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    message = "Tệp vượt quá dung lượng tải lên cho phép."


class Conflict(AppError):
    status = 409
    code = "conflict"
    message = "Thao tác xung đột với trạng thái hiện tại."


_TITLES = {
    400: "Yêu cầu không hợp lệ",
    403: "Không có quyền truy cập",
    404: "Không tìm thấy trang",
    405: "Phương thức không được hỗ trợ",
    409: "Xung đột dữ liệu",
    413: "Tệp quá lớn",
    416: "Phạm vi yêu cầu không hợp lệ",
    422: "Dữ liệu chưa hợp lệ",
    500: "Lỗi máy chủ",
}


def _wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _render(status: int, code: str, message: str, fields: dict | None = None):
    if _wants_json():
        body = {"error": {"code": code, "message": message, "fields": fields or {}}}
        return jsonify(body), status
    template = "errors/404.html" if status == 404 else "errors/500.html" if status >= 500 else "errors/error.html"
    title = _TITLES.get(status, "Lỗi")
    return render_template(template, status=status, title=title, message=message, fields=fields or {}), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def handle_app_error(error: AppError):
        db.session.rollback()
        return _render(error.status, error.code, error.message, error.fields)

    # Flask logs the original exception (or re-raises it under test) before calling this.
    @app.errorhandler(InternalServerError)
    def handle_unexpected(error: InternalServerError):
        db.session.rollback()
        return _render(500, "internal_error", "Đã có lỗi xảy ra phía máy chủ. Vui lòng thử lại sau.")

    @app.errorhandler(CSRFError)
    def handle_csrf_error(error: CSRFError):
        return _render(400, "csrf_failed", "Biểu mẫu đã hết hạn hoặc không hợp lệ (thiếu mã CSRF). "
                       "Vui lòng tải lại trang rồi gửi lại.")

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        if error.code == 500:
            return handle_unexpected(error)
        body, status = _render(error.code, (error.name or "error").lower().replace(" ", "_"),
                               _TITLES.get(error.code, error.description or ""))
        # Keep headers such as Allow (405) and Content-Range (416).
        result = app.make_response((body, status))
        for key, value in error.get_headers():
            if key.lower() != "content-type":
                result.headers[key] = value
        return result
