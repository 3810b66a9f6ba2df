"""Error pages in Chinese. Django's defaults are English and drop the message a view gave to
Http404 or PermissionDenied; here a message is shown when it is one of ours (Chinese), never
when it is Django's (English, and may name models or URL patterns). The public portal keeps its
own layout, the API answers JSON like django-ninja does."""

import re

from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.template.response import TemplateResponse
from django.views.decorators.csrf import requires_csrf_token

_CJK = re.compile(r"[\u4e00-\u9fff]")

DEFAULTS = {
    400: ("请求无效", "请求的格式不正确，请返回上一页后重试。"),
    403: ("没有权限", "您没有权限访问此页面或执行此操作。如需权限，请联系本单位的安全管理员。"),
    404: ("页面不存在", "您要找的页面不存在，或不在您的权限范围内。"),
    500: ("系统出错", "系统处理请求时出错，已记录在服务器日志中。请稍后重试；如仍出错，请联系系统管理员。"),
}


def _own_message(exception) -> str:
    message = exception.args[0] if exception is not None and exception.args else ""
    return message if isinstance(message, str) and _CJK.search(message) else ""


def _render(request, status: int, exception=None, message: str = ""):
    title, default = DEFAULTS[status]
    message = message or _own_message(exception) or default
    if request.path.startswith("/api/"):
        return api_error(message, status)
    template = "portal/refused.html" if request.path.startswith("/portal/") else "error.html"
    response = TemplateResponse(request, template, {"title": title, "message": message, "status": status},
                                status=status)
    return response.render()


@requires_csrf_token
def bad_request(request, exception=None):
    return _render(request, 400, exception)


@requires_csrf_token
def permission_denied(request, exception=None):
    return _render(request, 403, exception)


@requires_csrf_token
def page_not_found(request, exception=None):
    return _render(request, 404, exception)


def server_error(request):
    """Rendered without the request context: whatever failed (the database, a context
    processor) must not fail the error page too."""
    title, message = DEFAULTS[500]
    if request.path.startswith("/api/"):
        return api_error(message, 500)
    return _plain(500, title, message)


def csrf_failure(request, reason=""):
    """A form posted from a page that sat open past the session, or from another site."""
    message = "页面已过期或请求来源校验失败，请刷新页面后重新提交。"
    if request.path.startswith("/api/"):
        return api_error(message, 403)
    return _plain(403, "无法提交", message)


def api_error(message: str, status: int) -> JsonResponse:
    """The API's one error shape (docs/API.md): ``{"detail": ["…"]}``, also for what fails
    before an endpoint runs (no such route, the wrong method, a crash)."""
    return JsonResponse({"detail": [message]}, status=status, json_dumps_params={"ensure_ascii": False})


def api_method_not_allowed(request, response) -> JsonResponse:
    """The router's own 405 (English HTML) as the API's error shape, keeping its Allow header."""
    allowed = response.get("Allow", "")
    out = api_error(f"该地址不支持 {request.method} 请求（可用：{allowed or '无'}）。", 405)
    if allowed:
        out["Allow"] = allowed
    return out


def _plain(status, title, message):
    html = loader.get_template("error_plain.html").render({"title": title, "message": message, "status": status})
    return HttpResponse(html, status=status)
