"""API authentication, the helpers every app's ``api.py`` shares, and the core endpoints
(the current account and its API tokens).

Two ways in: ``Authorization: Bearer qlt_…`` (a token from ``issue_api_token``) for
integrations, and the Django session for the browser UI — with CSRF protection on every
unsafe method, exactly as a form post would have. Business routers use the ``business_auth``
variants, which refuse the three administrators (三员分立) before anything else runs."""

import datetime as dt
import hashlib
import mimetypes
from pathlib import Path
from typing import Annotated

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.http import FileResponse, Http404, HttpRequest
from django.middleware.csrf import get_token
from django.template import Context, Template
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.openapi.docs import DocsBase
from ninja.pagination import LimitOffsetPagination
from ninja.security import HttpBearer
from ninja.security import SessionAuth as NinjaSessionAuth
from ninja.utils import check_csrf
from pydantic import WithJsonSchema

from .actions import ActionError, issue_api_token, revoke_api_token
from .models import ApiToken
from .scoping import VIEW

NOT_VISIBLE = "对象不存在或不在您的数据范围内。"
# The largest id a row can have (SQLite INTEGER, PostgreSQL bigint). A larger number names
# nothing, and SQLite cannot even bind it (OverflowError): ids a list filters on or a body
# carries in bulk are bounded by it (``Id``) or answered like a missing id.
MAX_ID = 2**63 - 1
ADMIN_REFUSED = "三员账户（系统管理员、安全管理员、安全审计员）不能查看或修改业务数据。"


# --- authentication ---------------------------------------------------------------------

class TokenAuth(HttpBearer):
    """``Authorization: Bearer qlt_…``; tokens of inactive accounts or revoked tokens fail."""

    def authenticate(self, request, token):
        digest = hashlib.sha256(token.encode()).hexdigest()
        row = ApiToken.objects.select_related("user").filter(key_digest=digest, revoked=False).first()
        if row is None or not row.user.is_active:
            return None
        if row.last_used_at is None or (timezone.now() - row.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
        request.user = row.user
        request.api_token = row
        return row.user


class SessionAuth(NinjaSessionAuth):
    """The signed-in browser session. Unsafe methods must carry the CSRF token (header
    ``X-CSRFToken`` or form field), as any Django form post must; an anonymous request is
    simply not authenticated here (so it gets 401, not a CSRF error)."""

    def __call__(self, request: HttpRequest):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise HttpError(403, "CSRF 校验失败：通过浏览器会话调用接口时，请在请求头 X-CSRFToken 中携带 CSRF 令牌。")
        if user.must_change_password:
            raise PermissionDenied("请先修改初始密码，再使用接口。")
        return user


class BrowserSessionOnly(SessionAuth):
    """Session only (issuing a token): a bearer token is told why it cannot, instead of the
    401 "未登录或接口令牌无效" it would get for a token that is perfectly valid."""

    def __call__(self, request: HttpRequest):
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            raise PermissionDenied("接口令牌不能签发新令牌：请在浏览器登录后，在“接口令牌”页面或以登录会话调用本接口。")
        return super().__call__(request)


class _BusinessOnly:
    def __call__(self, request):
        user = super().__call__(request)
        if user is not None and not user.is_business:
            raise PermissionDenied(ADMIN_REFUSED)
        return user


class BusinessTokenAuth(_BusinessOnly, TokenAuth):
    pass


class BusinessSessionAuth(_BusinessOnly, SessionAuth):
    pass


# Any signed-in account (the core endpoints); business accounts only (every business router).
api_auth = [TokenAuth(), SessionAuth()]
business_auth = [BusinessTokenAuth(), BusinessSessionAuth()]


# --- helpers shared by the app APIs ------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=MAX_ID)]  # a row id in a list filter or a request body


def choice(choices):
    """A model's TextChoices as a schema field's type, its values listed inline. The models'
    choices share class names (Case.Status, Wish.Status, ExportJob.Status …): as components
    they would collapse into one, documenting another model's values."""
    return Annotated[choices, WithJsonSchema({"type": "string", "enum": [str(v) for v in choices.values]})]


def patch_fields(payload: Schema, model) -> dict:
    """A PATCH body as action keywords: a field left out stays as it is; ``null`` clears a
    field that may be empty ("" for text) and is refused, naming the field, for one that may
    not (a 500 from the database's NOT NULL otherwise)."""
    data = payload.dict(exclude_unset=True)
    for key, value in data.items():
        if value is not None:
            continue
        try:
            field = model._meta.get_field(key.removesuffix("_id"))
        except FieldDoesNotExist:
            continue  # not a column (a sealed field, a derived input): the action decides
        if field.null:
            continue
        if field.blank and isinstance(field, models.CharField | models.TextField):
            data[key] = ""
            continue
        raise ActionError(f"“{field.verbose_name}”不能为空（{key}）。")
    return data


class Pagination(LimitOffsetPagination):
    """``?limit=`` (1–500, default 50) and ``?offset=``; the answer is ``{"items": [...], "count": N}``."""

    class Input(Schema):
        limit: int = Field(50, ge=1, le=500, description="每页条数（1–500）")
        offset: int = Field(0, ge=0, le=MAX_ID, description="跳过的条数")


def get_visible(queryset_or_model, user, pk, action: str = VIEW):
    """One object through ``visible_to``; anything outside the grant is a 404, the same
    answer as for an id that does not exist, so the API is no oracle for foreign ids."""
    qs = queryset_or_model
    if not hasattr(qs, "visible_to"):
        qs = qs.objects
    obj = qs.visible_to(user, action).filter(pk=pk).first()
    if obj is None:
        raise Http404(NOT_VISIBLE)
    return obj


def require_visible_ids(queryset_or_model, user, ids, action: str = VIEW) -> list[int]:
    """The distinct ids of a bulk request (items to file …), each checked through
    ``visible_to``: one id missing or outside the grant makes the whole request a 404."""
    qs = queryset_or_model
    if not hasattr(qs, "visible_to"):
        qs = qs.objects
    wanted = sorted({int(i) for i in ids})
    if wanted and not (0 < wanted[0] and wanted[-1] <= MAX_ID):
        raise Http404(NOT_VISIBLE)  # no row has that id
    found = 0
    for i in range(0, len(wanted), 5000):
        found += qs.visible_to(user, action).filter(pk__in=wanted[i:i + 5000]).count()
    if found != len(wanted):
        raise Http404(NOT_VISIBLE)
    return wanted


def under_unit(qs, unit_id: int | None, *units: str):
    """A list's ``?unit=`` filter: rows whose unit (each of ``units``, the lookups to a unit,
    OR-ed; default the row's own ``unit``) is ``unit_id`` or below it. ``qs`` is already
    scoped, so an id outside the grant or missing simply finds nothing."""
    if unit_id is None:
        return qs
    from django.db.models import Q

    from qunli.orgs.models import Unit

    unit = Unit.objects.filter(pk=unit_id).values("path").first()
    if unit is None:
        return qs.none()
    q = Q()
    for lookup in units or ("unit",):
        q |= Q(**{f"{lookup}__path__startswith": unit["path"]})
    return qs.filter(q)


def get_referenced(queryset_or_model, user, pk, label: str, action: str = VIEW):
    """An object named in a request body (a person to appoint, a unit to merge into). Not
    visible and not existing give the same refusal."""
    if pk is None:
        return None
    try:
        return get_visible(queryset_or_model, user, pk, action)
    except Http404:
        raise ActionError(f"所选{label}（编号 {pk}）不存在或不在您的数据范围内。") from None


# --- interactive docs from local assets ---------------------------------------------------

NINJA_STATIC = Path(__import__("ninja").__file__).parent / "static" / "ninja"
DOCS_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-init.js", "favicon.png")

_DOCS_PAGE = Template("""<!DOCTYPE html>
<html lang="zh-hans">
<head>
  <meta charset="utf-8">
  <title>{{ title }} · 接口文档</title>
  <link rel="stylesheet" href="{{ assets }}swagger-ui.css">
  <link rel="icon" type="image/png" href="{{ assets }}favicon.png">
</head>
<body data-csrf-token="{{ csrf_token }}" data-api-csrf="true">
  <script type="application/json" id="swagger-settings">{{ settings|safe }}</script>
  <div id="swagger-ui"></div>
  <script src="{{ assets }}swagger-ui-bundle.js"></script>
  <script src="{{ assets }}swagger-ui-init.js"></script>
</body>
</html>""")


class LocalSwagger(DocsBase):
    """Swagger UI served from the copy bundled in the django-ninja package, never from a
    CDN (deployments have no internet). Signed-in accounts only; anonymous → login."""

    def render_page(self, request, api, **kwargs):
        import json

        from django.http import HttpResponse

        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        settings = {"url": self.get_openapi_url(api, kwargs), "layout": "BaseLayout", "deepLinking": True}
        html = _DOCS_PAGE.render(Context({
            "title": api.title, "settings": json.dumps(settings), "csrf_token": get_token(request),
            "assets": request.path.rstrip("/") + "/assets/",
        }))
        return HttpResponse(html)


docs_router = Router(tags=["docs"], auth=api_auth)


@docs_router.get("/assets/{name}", include_in_schema=False)
def docs_asset(request, name: str):
    if name not in DOCS_ASSETS:
        raise Http404(NOT_VISIBLE)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(open(NINJA_STATIC / name, "rb"), content_type=content_type)


# --- core endpoints ----------------------------------------------------------------------

router = Router(tags=["core"], auth=api_auth)


class MeOut(Schema):
    username: str
    display_name: str
    kind: str


@router.get("/me", response=MeOut, summary="当前账户")
def me(request):
    return request.auth


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100, description="用途，如“人社局数据对接”")


class TokenIssued(Schema):
    id: int
    name: str
    prefix: str
    token: str = Field(..., description="完整令牌，只显示这一次；系统只保存其摘要。")


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked: bool


@router.post("/tokens", response={201: TokenIssued}, auth=[BrowserSessionOnly()], summary="为自己签发接口令牌",
             description="只能通过已登录的浏览器会话调用（需 CSRF 令牌）；令牌不能再签发令牌。")
def create_token(request, payload: TokenIn):
    name = payload.name.strip()
    if not name:
        raise ActionError("请填写令牌用途。")
    raw = issue_api_token(request.auth, request.auth, name)
    row = ApiToken.objects.get(user=request.auth, prefix=raw[:8], key_digest=hashlib.sha256(raw.encode()).hexdigest())
    return Status(201, {"id": row.pk, "name": row.name, "prefix": row.prefix, "token": raw})


@router.get("/tokens", response=list[TokenOut], summary="我的接口令牌")
def list_tokens(request):
    return ApiToken.objects.filter(user=request.auth).order_by("-created_at", "-pk")


@router.delete("/tokens/{int:token_id}", response=TokenOut, summary="吊销我的接口令牌")
def revoke_token(request, token_id: int):
    token = ApiToken.objects.filter(pk=token_id, user=request.auth).first()
    if token is None:
        raise Http404(NOT_VISIBLE)
    return revoke_api_token(request.auth, token)
