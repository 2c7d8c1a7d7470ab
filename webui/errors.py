"""Error pages in Chinese (HTML, or JSON for fetch calls); a store failure never shows a traceback."""

from __future__ import annotations

import logging

from flask import jsonify, render_template
from werkzeug.exceptions import HTTPException

from simulator.errors import StoreError

log = logging.getLogger(__name__)

MESSAGES = {
    400: "请求无效。",
    401: "请先登录。",
    403: "您没有权限查看此页面。",
    404: "页面不存在，或您无权查看。",
    405: "不支持此操作。",
    409: "操作冲突，请刷新页面后重试。",
    413: "提交的内容太长。",
    429: "操作过于频繁，请稍后再试。",
    500: "系统内部错误，请稍后再试。",
    503: "系统繁忙，数据库暂时无法写入；您的通话记录没有丢失，请稍后重试。",
}


def render_error(code: int, message: str | None = None):
    from .auth import wants_json

    message = message or MESSAGES.get(code, "出错了。")
    if wants_json():
        return jsonify(error=message), code
    return render_template("error.html", code=code, message=message), code


def init_app(app) -> None:
    @app.errorhandler(HTTPException)
    def http_error(e):
        custom = e.description if e.description and not e.description.isascii() else None
        return render_error(e.code or 500, custom)

    @app.errorhandler(StoreError)
    def store_error(e):
        log.error("store error: %s", e)
        return render_error(503)
