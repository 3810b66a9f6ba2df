"""Shared machinery for actions (the named verbs through which every write goes) and the
account and grant actions themselves.

An action: checks who may do it, validates, writes inside one transaction, and appends
its change-log row in the same transaction, so a failed action leaves nothing behind."""

import secrets
from functools import wraps

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from .audit import log_change, snapshot
from .models import ApiToken, Grant, User
from .scoping import CHANGE, can, forget_grants


class ActionError(ValidationError):
    """A refusal with a message in Chinese, shown to the user as is."""


def action(fn):
    """Run the verb in one transaction; any exception rolls back every write it made."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        with transaction.atomic():
            return fn(*args, **kwargs)

    return wrapper


def require(user, act: str, obj) -> None:
    if not can(user, act, obj):
        raise PermissionDenied("您没有对该对象执行此操作的权限。")


def require_change(user, obj) -> None:
    require(user, CHANGE, obj)


def require_kind(user, *kinds: str) -> None:
    if user.kind not in kinds:
        raise PermissionDenied("您的账户类型不能执行此操作。")


def full_clean_or_raise(obj, exclude=None) -> None:
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as e:
        raise ActionError(e.message_dict if hasattr(e, "error_dict") else e.messages) from e


def clean_text(value: str, label: str, *, required: bool = True, limit: int) -> str:
    """Trimmed text, or an ActionError in Chinese when it is missing or too long."""
    value = (value or "").strip()
    if required and not value:
        raise ActionError(f"请填写{label}。")
    if len(value) > limit:
        raise ActionError(f"{label}不能超过{limit}字。")
    return value


def require_active_unit(unit, what: str) -> None:
    """A merged, split or dissolved unit keeps its records but takes no new ones."""
    if unit is not None and not unit.is_active:
        raise ActionError(f"“{unit.name}”{unit.get_status_display()}，不能再{what}。")


def require_not_future(day, label: str) -> None:
    """A date of something that has happened (a departure, an inspection, joining) cannot be
    after today: the record would show it as done."""
    if day is not None and day > timezone.localdate():
        raise ActionError(f"{label}不能晚于今天。")


# --- accounts (系统管理员) and grants (安全管理员) --------------------------------

ACCOUNT_FIELDS = ("username", "display_name", "kind", "is_active", "must_change_password")


def generate_initial_password() -> str:
    # Mixed classes so it passes the complexity rule; it must be changed at first login.
    return "Ql-" + secrets.token_urlsafe(9) + "7a"


@action
def create_user(actor, *, username: str, display_name: str = "", kind: str = User.Kind.BUSINESS,
                password: str | None = None) -> tuple[User, str]:
    require_kind(actor, User.Kind.SYSADMIN)
    clash = User.objects.filter(username__iexact=username).values_list("username", flat=True).first()
    if clash:  # gonghui and GONGHUI would be two accounts nobody can tell apart at the login
        raise ActionError(f"用户名“{username}”已存在。" if clash == username
                          else f"已有用户名“{clash}”，与“{username}”只差大小写，请换一个。")
    password = password or generate_initial_password()
    user = User(username=username, display_name=display_name, kind=kind, must_change_password=True)
    try:
        validate_password(password, user)
    except ValidationError as e:
        raise ActionError(e.messages) from e
    user.set_password(password)
    full_clean_or_raise(user, exclude=["password"])
    user.save()
    log_change(actor, "core.create_user", user, None, snapshot(user, exclude=("password",)))
    return user, password


@action
def update_user(actor, user: User, **changes) -> User:
    require_kind(actor, User.Kind.SYSADMIN, User.Kind.SECADMIN)
    if actor.is_secadmin and set(changes) - {"is_active"}:
        raise PermissionDenied("安全管理员只能启用或停用账户。")
    before = snapshot(user, exclude=("password",))
    for k, v in changes.items():
        if k not in ACCOUNT_FIELDS:
            raise ActionError(f"不能修改字段 {k}")
        setattr(user, k, v)
    full_clean_or_raise(user, exclude=["password"])
    user.save()
    log_change(actor, "core.update_user", user, before, snapshot(user, exclude=("password",)))
    return user


@action
def reset_password(actor, user: User) -> str:
    require_kind(actor, User.Kind.SYSADMIN)
    password = generate_initial_password()
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    log_change(actor, "core.reset_password", user, None, {"must_change_password": True})
    return password


@action
def change_own_password(user: User, new_password: str) -> None:
    try:
        validate_password(new_password, user)
    except ValidationError as e:
        raise ActionError(e.messages) from e
    if user.check_password(new_password):
        raise ActionError("新密码不能与原密码相同。")
    user.set_password(new_password)
    user.must_change_password = False
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password", "must_change_password", "password_changed_at"])
    log_change(user, "core.change_password", user, None, {"password_changed_at": user.password_changed_at})


def _grant_snapshot(g: Grant) -> dict:
    return {"user": g.user.username, "role": g.role, "unit_id": g.unit_id, "unit": str(g.unit),
            "all_lines": g.all_lines, "lines": sorted(line.code for line in g.lines.all())}


@action
def add_grant(actor, user: User, *, role: str, unit, lines=(), all_lines: bool = False) -> Grant:
    require_kind(actor, User.Kind.SECADMIN)
    if not user.is_business:
        raise ActionError("三员账户不能被授予业务数据权限。")
    if role not in Grant.Role.values:
        raise ActionError("角色无效。")
    if not all_lines and not lines and unit.line_id is None:
        raise ActionError("请选择条线，或勾选“全部条线”。")
    g = Grant.objects.create(user=user, role=role, unit=unit, all_lines=all_lines)
    if lines:
        g.lines.set(lines)
    elif not all_lines and unit.line_id:
        g.lines.set([unit.line_id])
    forget_grants(user)
    log_change(actor, "core.add_grant", g, None, _grant_snapshot(g), unit_path=unit.path)
    return g


@action
def remove_grant(actor, grant: Grant) -> None:
    require_kind(actor, User.Kind.SECADMIN)
    before = _grant_snapshot(grant)
    log_change(actor, "core.remove_grant", grant, before, None, unit_path=grant.unit.path)
    grant.delete()
    forget_grants(grant.user)


@action
def issue_api_token(actor, user: User, name: str) -> str:
    """Issue a token and return it once; only its digest is kept."""
    import hashlib

    if actor != user:
        require_kind(actor, User.Kind.SECADMIN)
    raw = "qlt_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=raw[:8],
                                    key_digest=hashlib.sha256(raw.encode()).hexdigest())
    log_change(actor, "core.issue_api_token", token, None, {"user": user.username, "name": name,
                                                            "prefix": token.prefix})
    return raw


@action
def revoke_api_token(actor, token: ApiToken) -> ApiToken:
    """Revoke one of the actor's own tokens (an action like any other write: one
    transaction and its change-log row)."""
    if token.user_id != actor.pk:
        raise PermissionDenied("只能吊销自己的令牌。")
    if token.revoked:
        raise ActionError("该令牌已吊销。")
    token.revoked = True
    token.save(update_fields=["revoked"])
    log_change(actor, "core.revoke_api_token", token, {"revoked": False}, {"revoked": True, "name": token.name,
                                                                          "prefix": token.prefix})
    return token
