"""``/api/notifications``: the caller's own inbox (business accounts). ``url`` is given only
while the linked object is visible to the caller; the object's own route checks again."""

import datetime as dt

from django.http import Http404
from ninja import Field, Query, Router, Schema

from . import notifications as service
from .api import NOT_VISIBLE, Id, business_auth
from .notification_models import Notification, NotificationKind

router = Router(tags=["notifications"], auth=business_auth)


class NotificationOut(Schema):
    id: int
    kind: str
    kind_display: str
    title: str
    url: str | None = Field(None, description="关联对象的页面；对象已不在您的办理范围内时为 null")
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationPage(Schema):
    items: list[NotificationOut]
    count: int
    unread: int


class ListFilters(Schema):
    unread: bool = Field(False, description="只看未读")
    kind: NotificationKind | None = None
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


class ReadIn(Schema):
    ids: list[Id] = Field(..., min_length=1, max_length=500)


class ReadOut(Schema):
    marked: int
    unread: int


@router.get("", response=NotificationPage, summary="我的通知")
def list_notifications(request, filters: Query[ListFilters]):
    me = request.auth
    qs = service.inbox(me, unread_only=filters.unread)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    rows = list(qs[filters.offset:filters.offset + filters.limit])
    visible = service.visible_targets(me, rows)
    kinds = dict(NotificationKind.choices)
    items = [{"id": n.pk, "kind": n.kind, "kind_display": kinds.get(n.kind, n.kind), "title": n.title,
              "url": n.url if n.url and (not n.obj_type or (n.obj_type, n.obj_id) in visible) else None,
              "created_at": n.created_at, "read_at": n.read_at} for n in rows]
    return {"items": items, "count": qs.count(), "unread": me.unread_notifications}


@router.post("/read", response=ReadOut, summary="标为已读", description="只处理自己的通知；他人的编号被忽略。")
def mark_read(request, payload: ReadIn):
    n = service.mark_read(request.auth, payload.ids)
    return {"marked": n, "unread": request.auth.unread_notifications}


@router.post("/read-all", response=ReadOut, summary="全部标为已读")
def mark_all_read(request):
    n = service.mark_all_read(request.auth)
    return {"marked": n, "unread": request.auth.unread_notifications}


@router.post("/{int:notification_id}/read", response=ReadOut, summary="将一条通知标为已读")
def mark_one_read(request, notification_id: int):
    if not Notification.objects.filter(pk=notification_id, recipient=request.auth).exists():
        raise Http404(NOT_VISIBLE)
    n = service.mark_read(request.auth, [notification_id])
    return {"marked": n, "unread": request.auth.unread_notifications}
