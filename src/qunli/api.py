"""The REST API: one NinjaAPI, a router per app, OpenAPI at /api/openapi.json.

Every error answers ``{"detail": ["中文说明", ...]}``: 400 an action refused (ActionError),
401 not signed in, 403 not allowed (PermissionDenied, or an administrator account on business
data), 404 missing or outside the grant (never told apart), 409 needs confirmation, 422 the
request itself is malformed (``errors`` then carries the field-level details)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser
from ninja.renderers import JSONRenderer

from qunli.casework.api import router as casework_router
from qunli.core.actions import ActionError
from qunli.core.api import NOT_VISIBLE, LocalSwagger, api_auth, docs_router
from qunli.core.api import router as core_router
from qunli.core.job_api import router as jobs_router
from qunli.core.notification_api import router as notifications_router
from qunli.orgs.api import router as orgs_router
from qunli.people.api import router as people_router
from qunli.records.api import router as records_router
from qunli.records.public_api import router as public_router


class ChineseJSONRenderer(JSONRenderer):
    # Chinese as is, not \uXXXX escapes: readable with curl, and half the bytes.
    json_dumps_params = {"ensure_ascii": False}


class NulCharacter(ValueError):
    """U+0000 in a request's text: PostgreSQL cannot store or compare it (a 500), and the
    pages' forms refuse it (Django's ProhibitNullCharactersValidator)."""


def _refuse_nul(value, field: str = "") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise NulCharacter(f"{field}：不能包含空字符（U+0000）" if field else "请求中不能包含空字符（U+0000）")
    elif isinstance(value, dict):
        for key, v in value.items():
            _refuse_nul(key, field)
            _refuse_nul(v, field or str(key))
    elif isinstance(value, list | tuple):
        for v in value:
            _refuse_nul(v, field)


class NulRefusingParser(Parser):
    """The JSON body, the query string and form fields, refused when their text holds a NUL
    (uploaded files are not text: their bytes are not looked at)."""

    def parse_body(self, request):
        data = super().parse_body(request)
        _refuse_nul(data)
        return data

    def parse_querydict(self, data, list_fields, request):
        result = super().parse_querydict(data, list_fields, request)
        _refuse_nul(result)
        return result


# Every operation may answer these (docs/API.md, "Errors"); documented once for all of them.
ERROR_RESPONSES = {
    "400": "动作拒绝了请求（业务规则或取值无效）；什么也没有改变",
    "401": "未登录或接口令牌无效",
    "403": "无权执行（只读账户、三员账户、缺少 CSRF 令牌）",
    "404": "对象不存在，或不在您的数据范围内（二者不作区分）",
    "422": "请求格式不对：缺少字段、类型错误、取值不在可选范围内",
}
ERROR_SCHEMA = {"type": "object", "required": ["detail"], "title": "Error",
                "properties": {"detail": {"type": "array", "items": {"type": "string"},
                                          "description": "中文错误说明，每条一项"},
                               "errors": {"type": "array", "items": {"type": "object"},
                                          "description": "422 时：逐字段的校验细节"}}}


class QunliAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path in schema.get("paths", {}).values():
            for op in path.values():
                responses = op.setdefault("responses", {})
                for code, text in ERROR_RESPONSES.items():
                    if code in ("401", "403") and not op.get("security"):
                        continue  # the open catalogue needs no authentication
                    responses.setdefault(code, {"description": text, "content": ref})
        return schema


api = QunliAPI(title="群力 Qunli API", version="1", auth=api_auth, urls_namespace="api",
               renderer=ChineseJSONRenderer(), parser=NulRefusingParser(), docs=LocalSwagger(), docs_url="/docs",
               description="组织、人员、个案、档案等对象的接口；与界面共用同一套动作（actions）与数据范围（scoping）。"
                           "认证：请求头 `Authorization: Bearer <令牌>`，或浏览器登录会话（写操作需 CSRF 令牌）。")
api.add_router("/core", core_router)
api.add_router("/orgs", orgs_router)
api.add_router("/people", people_router)
api.add_router("/docs", docs_router)
api.add_router("/casework", casework_router)
api.add_router("/notifications", notifications_router)
api.add_router("/records", records_router)
api.add_router("", jobs_router)  # /api/exports, /api/jobs: background export jobs
api.add_router("/public", public_router)  # the open archives catalogue, no authentication


def _detail(request, messages, status: int, **extra):
    return api.create_response(request, {"detail": list(messages), **extra}, status=status)


@api.exception_handler(ActionError)
def on_action_error(request, exc: ActionError):
    if hasattr(exc, "error_dict"):
        messages = [m for errs in exc.message_dict.values() for m in errs]
    else:
        messages = exc.messages
    return _detail(request, messages, 400)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request, exc):
    return _detail(request, [str(exc) or "您没有执行此操作的权限。"], 403)


@api.exception_handler(Http404)
def on_not_found(request, exc):
    # One message whatever the cause, so a foreign id and a missing id look the same.
    return _detail(request, [NOT_VISIBLE], 404)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    response = _detail(request, ["未登录或接口令牌无效：请在请求头中提供 Authorization: Bearer <令牌>，或先登录。"], 401)
    response["WWW-Authenticate"] = 'Bearer realm="qunli"'  # RFC 6750: how to authenticate
    return response


_NINJA_MESSAGES = {
    "Cannot parse request body": "请求体无法解析：请发送有效的 JSON。",
    "CSRF check Failed": "CSRF 校验失败。",
}


@api.exception_handler(NulCharacter)
def on_nul_character(request, exc: NulCharacter):
    return _detail(request, [str(exc)], 400)


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    if isinstance(exc.__cause__, NulCharacter):  # raised while the JSON body was parsed
        return on_nul_character(request, exc.__cause__)
    return _detail(request, [_NINJA_MESSAGES.get(str(exc), str(exc))], exc.status_code)


_PYDANTIC_MESSAGES = {
    "missing": "必填",
    "int_parsing": "应为整数", "int_type": "应为整数", "int_from_float": "应为整数",
    "float_parsing": "应为数字", "decimal_parsing": "应为数字", "decimal_type": "应为数字",
    "bool_parsing": "应为 true 或 false", "bool_type": "应为 true 或 false",
    "date_parsing": "应为日期，格式 YYYY-MM-DD", "date_from_datetime_parsing": "应为日期，格式 YYYY-MM-DD",
    "date_type": "应为日期，格式 YYYY-MM-DD", "datetime_parsing": "应为时间，格式 YYYY-MM-DDTHH:MM:SS",
    "string_type": "应为文本", "string_too_short": "不能为空", "string_too_long": "太长",
    "list_type": "应为列表", "dict_type": "格式不对", "model_attributes_type": "格式不对",
    "literal_error": "取值无效", "enum": "取值无效", "string_pattern_mismatch": "格式不对", "too_long": "太多",
    "greater_than_equal": "太小", "greater_than": "太小", "less_than_equal": "太大", "less_than": "太大",
    "json_invalid": "请求体不是有效的 JSON", "json_type": "请求体不是有效的 JSON",
}


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    messages = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "payload", "filters")]
        where = ".".join(loc)
        text = _PYDANTIC_MESSAGES.get(err.get("type", ""), "取值无效")
        if err.get("type") == "enum" and err.get("ctx", {}).get("expected"):
            text += f"（可选：{err['ctx']['expected']}）"
        if err.get("type") in ("string_too_long", "less_than_equal") and err.get("ctx"):
            limit = err["ctx"].get("max_length", err["ctx"].get("le"))
            text += f"（不超过 {limit}）"
        messages.append(f"{where}：{text}" if where else text)
    return _detail(request, messages or ["请求格式不对。"], 422, errors=exc.errors)
