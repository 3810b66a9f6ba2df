"""Staff notifications: emit, read, count.

* ``notify(recipients, kind, title, obj=…)`` is called from inside an action. It only
  registers an ``on_commit`` callback: a rolled-back action notifies nobody. After the commit,
  ``deliver`` inserts the inbox rows and brings each recipient's ``User.unread_notifications``
  back to the exact COUNT of their unread rows, in one transaction (so the bell in the shell
  needs no query), then queues the new rows' ids for the outbound backends
  (``core.notify_backends``: SMS, WeChat) on the background job queue
  (``core.jobs.dispatch_notifications_task``), so no page waits on a slow gateway.
* ``dispatch_outbound`` is what that task runs: it claims each row once (a conditional UPDATE
  of ``dispatched_at``), hands the claimed rows to the backends and records every try;
  running it again for the same ids sends nothing twice.
* ``deliver_now`` is the same insert for set-based callers (the due-date sweep): one query to
  find existing dedupe keys, one bulk insert, one UPDATE of the counters.
* ``mark_read`` / ``mark_all_read`` are the recipient's own actions (change-logged).
* ``visible_targets`` answers, per page of the inbox and with one query per object type,
  which linked objects the reader may still open (need-to-know applies on the target)."""

import logging
from dataclasses import dataclass
from functools import partial

from django.db import connection, transaction
from django.db.models import Count, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .audit import log_change
from .notification_models import Notification, NotificationKind
from .params import parse_ids

log = logging.getLogger(__name__)

Kind = NotificationKind
LOOKUP_CHUNK = 5000


@dataclass(frozen=True)
class Pending:
    """One inbox row to insert."""

    recipient_id: int
    kind: str
    title: str
    url: str = ""
    obj_type: str = ""
    obj_id: str = ""
    dedupe_key: str = ""

    def row(self, now) -> Notification:
        return Notification(recipient_id=self.recipient_id, kind=self.kind, title=self.title[:200], url=self.url[:300],
                            obj_type=self.obj_type, obj_id=self.obj_id, dedupe_key=self.dedupe_key[:100],
                            created_at=now)


def pending_for(recipients, kind: str, title: str, obj=None, url: str = "", dedupe_key: str = "",
                exclude=None) -> list[Pending]:
    """One ``Pending`` per distinct active recipient (users or ids), leaving out ``exclude``
    (the actor: nobody is told about what they did themself)."""
    obj_type = obj._meta.label_lower if obj is not None else ""
    obj_id = str(obj.pk) if obj is not None else ""
    if obj is not None and not url and hasattr(obj, "get_absolute_url"):
        url = obj.get_absolute_url()
    skip = getattr(exclude, "pk", exclude)
    ids = []
    for r in recipients:
        rid = getattr(r, "pk", r)
        if rid is not None and rid != skip and rid not in ids:
            ids.append(rid)
    return [Pending(rid, kind, title, url, obj_type, obj_id, dedupe_key) for rid in ids]


def notify(recipients, kind: str, title: str, obj=None, url: str = "", dedupe_key: str = "", exclude=None) -> None:
    """Notify after the surrounding transaction commits (nothing if it rolls back)."""
    items = pending_for(recipients, kind, title, obj=obj, url=url, dedupe_key=dedupe_key, exclude=exclude)
    if items:
        transaction.on_commit(partial(deliver, items), robust=True)


def deliver(items: list[Pending]) -> list[Notification]:
    """Insert the inbox rows, fix the counters, then queue the outbound messages. Never
    raises: a failure here is logged, the business action has already committed."""
    try:
        created = deliver_now(items)
    except Exception:  # noqa: BLE001 — the action committed; the inbox must not break it
        log.exception("notification delivery failed")
        return []
    send_outbound(created)
    return created


OUTBOUND_CHUNK = 500  # notification ids per dispatch task


def send_outbound(created: list[Notification]) -> None:
    """Queue the outbound messages of these inbox rows (one task per ``OUTBOUND_CHUNK`` ids),
    once the surrounding transaction, if any, has committed — a worker must find the rows.
    A queue that refuses the task (Redis unreachable …) costs speed, not the message: the
    rows are then dispatched here and now."""
    ids = [n.pk for n in created if n.pk is not None]
    for start in range(0, len(ids), OUTBOUND_CHUNK):
        transaction.on_commit(partial(_enqueue_outbound, ids[start:start + OUTBOUND_CHUNK]), robust=True)


def _enqueue_outbound(ids: list[int]) -> None:
    from .jobs import dispatch_notifications_task

    try:
        dispatch_notifications_task.enqueue(ids)
    except Exception:  # noqa: BLE001
        log.exception("could not queue %d outbound notifications; dispatching them now", len(ids))
        try:
            dispatch_outbound(ids)
        except Exception:  # noqa: BLE001
            log.exception("outbound dispatch failed")


def claim_for_dispatch(ids) -> list[Notification]:
    """The rows among ``ids`` nobody has dispatched yet, marked as dispatched now. One
    ``UPDATE … WHERE dispatched_at IS NULL RETURNING id`` per chunk: of two runs with the
    same ids (a task delivered twice, a retry) each row goes to exactly one."""
    ids = sorted({int(i) for i in ids})
    if not ids:
        return []
    q = connection.ops.quote_name
    table, pk, col = q(Notification._meta.db_table), q("id"), q("dispatched_at")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    mine = []
    with transaction.atomic():
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start:start + LOOKUP_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            with connection.cursor() as cur:
                cur.execute(f"UPDATE {table} SET {col} = %s WHERE {pk} IN ({marks}) AND {col} IS NULL RETURNING {pk}",
                            [now, *chunk])
                mine += [row[0] for row in cur.fetchall()]
    return list(Notification.objects.filter(pk__in=mine).order_by("pk")) if mine else []


def dispatch_outbound(ids, backends=None) -> list:
    """Send the not yet dispatched rows among ``ids`` through the configured backends and
    record each try (``OutboundMessage``). The backends are built before anything is claimed,
    so a broken configuration fails the task and leaves the rows for a later run."""
    from .notify_backends import configured, dispatch

    backends = configured() if backends is None else backends
    claimed = claim_for_dispatch(ids)
    return dispatch(claimed, backends) if claimed else []


@transaction.atomic
def deliver_now(items: list[Pending]) -> list[Notification]:
    """Insert what is not there yet (by dedupe key); one query to look, one to insert, one to
    recount. Returns the rows inserted, with their ids (one more query when dedupe keys are
    involved: rows a concurrent sweep inserted first are not among them)."""
    if not items:
        return []
    keyed = [i for i in items if i.dedupe_key]
    existing = set()
    keys = sorted({i.dedupe_key for i in keyed})
    kinds = {i.kind for i in keyed}
    for start in range(0, len(keys), LOOKUP_CHUNK):  # bound the bind parameters per statement
        existing.update(Notification.objects.filter(kind__in=kinds, dedupe_key__in=keys[start:start + LOOKUP_CHUNK])
                        .values_list("recipient_id", "kind", "dedupe_key"))
    now = timezone.now()
    seen, rows = set(), []
    for i in items:
        key = (i.recipient_id, i.kind, i.dedupe_key)
        if i.dedupe_key and (key in existing or key in seen):
            continue
        seen.add(key)
        rows.append(i.row(now))
    if not rows:
        return []
    recipients = sorted({r.recipient_id for r in rows})
    if not keyed:
        Notification.objects.bulk_create(rows)  # no constraint to meet: the ids come back
    else:
        # a concurrent sweep may have inserted the same key meanwhile: the constraint drops
        # it, and the ids of what was inserted are read back (this call's timestamp)
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        rows = []
        for start in range(0, len(recipients), LOOKUP_CHUNK):
            rows += Notification.objects.filter(recipient_id__in=recipients[start:start + LOOKUP_CHUNK],
                                                created_at=now, kind__in={i.kind for i in items}).order_by("pk")
    recount(recipients)
    return rows


def settle(kind: str, obj) -> None:
    """The task a notice asked for is done, by whichever recipient: after the commit (when
    notices sent in the same transaction exist too), its unread copies about ``obj`` are
    marked read for all, so no one is left with a 待审批 already approved."""
    transaction.on_commit(partial(settle_now, kind, obj._meta.label_lower, str(obj.pk)), robust=True)


def settle_now(kind: str, obj_type: str, obj_id: str) -> int:
    qs = Notification.objects.filter(kind=kind, obj_type=obj_type, obj_id=obj_id, read_at__isnull=True)
    users = set(qs.values_list("recipient_id", flat=True))
    n = qs.update(read_at=timezone.now()) if users else 0
    recount(users)
    return n


def recount(user_ids) -> None:
    """Set each user's unread counter to the COUNT of their unread rows (one UPDATE, served by
    the partial index ``notif_unread``). Exact whatever happened before: the counter can
    never drift for long."""
    from .models import User

    unread = (Notification.objects.filter(recipient=OuterRef("pk"), read_at__isnull=True).order_by()
              .values("recipient").annotate(n=Count("pk")).values("n"))
    User.objects.filter(pk__in=list(user_ids)).update(unread_notifications=Coalesce(Subquery(unread), Value(0)))


# --- the recipient's own actions ---------------------------------------------------------------

@transaction.atomic
def mark_read(user, ids) -> int:
    """Mark the user's own notifications read; ids of anyone else's are ignored."""
    ids = [int(i) for i in ids]
    n = Notification.objects.filter(recipient=user, pk__in=ids, read_at__isnull=True).update(read_at=timezone.now())
    if n:
        recount([user.pk])
        log_change(user, "core.mark_notifications_read", user, None, {"ids": ids, "marked": n},
                   obj_type="core.notification", obj_id="", obj_repr=f"{user} 的通知")
    user.refresh_from_db(fields=["unread_notifications"])
    return n


@transaction.atomic
def mark_all_read(user) -> int:
    n = Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())
    if n:
        recount([user.pk])
        log_change(user, "core.mark_all_notifications_read", user, None, {"marked": n},
                   obj_type="core.notification", obj_id="", obj_repr=f"{user} 的通知")
    user.refresh_from_db(fields=["unread_notifications"])
    return n


# --- reading -------------------------------------------------------------------------------

def inbox(user, unread_only: bool = False):
    qs = Notification.objects.filter(recipient=user)
    return qs.filter(read_at__isnull=True) if unread_only else qs


def visible_targets(user, notifications) -> set[tuple[str, str]]:
    """(obj_type, obj_id) of the linked objects ``user`` may open now: one ``visible_to``
    query per object type on the page. A case reassigned or referred away since the
    notification was sent shows without its link."""
    from django.apps import apps

    by_type: dict[str, set[str]] = {}
    for n in notifications:
        if n.obj_type and n.obj_id:
            by_type.setdefault(n.obj_type, set()).add(n.obj_id)
    out = set()
    for obj_type, ids in by_type.items():
        try:
            model = apps.get_model(obj_type)
        except (LookupError, ValueError):
            continue
        manager = model._default_manager
        if not hasattr(manager, "visible_to"):
            continue
        pks = parse_ids(ids)
        for pk in manager.visible_to(user).filter(pk__in=pks).values_list("pk", flat=True):
            out.add((obj_type, str(pk)))
    return out


# --- who to tell -----------------------------------------------------------------------------

def staff_of_unit(unit, line_id=None) -> list[int]:
    """Active business accounts able to act (CHANGE) on ``unit``: its own staff/clerks when it
    has any, else the staff of the nearest ancestor that has some — not every provincial
    officer above it. ``line_id``: the line to match, by default the unit's own (a 档案馆's
    staff, not the 妇联's, whose grant on the county covers it too)."""
    return staff_of_units([unit], {unit.pk: line_id} if line_id is not None else None).get(unit.pk, [])


def staff_of_units(units, line_ids: dict | None = None, *, above: bool = False) -> dict[int, list[int]]:
    """``staff_of_unit`` for many units in one query: {unit id: [user ids]}. ``line_ids``
    maps a unit id to the line to match (default: the unit's own line). ``above``: the
    level over those — the staff of the next ancestor up that has some, whom a matter the
    nearest staff left undone is escalated to (上级督办); [] at the top of the tree."""
    return _grant_holders(units, line_ids, roles=("staff", "clerk"), rank=1 if above else 0)


def leaders_of_units(units, line_ids: dict | None = None) -> dict[int, list[int]]:
    """The nearest leaders (read-only 领导 grants) over each unit, matching its line."""
    return _grant_holders(units, line_ids, roles=("leader",), rank=0)


def _grant_holders(units, line_ids, *, roles, rank: int) -> dict[int, list[int]]:
    """Active business accounts whose grant reaches each unit for its line, grouped by the
    depth of the granted unit: the ``rank``-th group counted from the unit upwards (0: the
    nearest). A clerk's grant reaches its own unit only."""
    from .models import Grant, User

    units = list(units)
    if not units:
        return {}
    steplen = type(units[0]).steplen
    line_ids = line_ids or {}
    paths = {p for u in units for p in (u.path[:i] for i in range(steplen, len(u.path) + 1, steplen))}
    reach = Q(role__in=[r for r in roles if r != "clerk"], unit__path__in=paths)
    if "clerk" in roles:
        reach |= Q(role="clerk", unit__in=units)
    rows = list(Grant.objects.filter(reach, user__is_active=True, user__kind=User.Kind.BUSINESS)
                .values_list("user_id", "role", "unit_id", "unit__path", "all_lines", "lines"))
    out = {}
    for u in units:
        line_id = line_ids.get(u.pk, u.line_id)
        by_depth: dict[int, set[int]] = {}
        for uid, role, gunit, path, all_lines, line in rows:
            reaches = gunit == u.pk if role == "clerk" else u.path.startswith(path)
            if reaches and (all_lines or line_id is None or line == line_id):
                by_depth.setdefault(len(path), set()).add(uid)
        depths = sorted(by_depth, reverse=True)
        out[u.pk] = sorted(by_depth[depths[rank]] - set().union(*(by_depth[d] for d in depths[:rank]))) \
            if len(depths) > rank else []
    return out


# --- where a staff member is reached outside the platform --------------------------------------

def set_contact(actor, *, phone: str = "", wechat_openid: str = "", sms_enabled: bool = False,
                wechat_enabled: bool = False):
    """The staff member's own SMS number and WeChat openid (business accounts only)."""
    import re

    from . import crypto
    from .actions import ActionError
    from .audit import snapshot
    from .identifiers import InvalidIdentifier, validate_phone
    from .notification_models import NotifyContact

    if not actor.is_business:
        raise ActionError("只有业务账户可以接收工作通知。")
    try:
        phone = validate_phone(phone.strip()) if (phone or "").strip() else ""
    except InvalidIdentifier as e:
        raise ActionError(str(e)) from e
    openid = (wechat_openid or "").strip()
    if openid and not re.fullmatch(r"[A-Za-z0-9_-]{6,64}", openid):
        raise ActionError("微信OpenID格式不对（6到64位字母、数字、下划线或短横线）。")
    if sms_enabled and not phone:
        raise ActionError("接收短信须填写手机号码。")
    if wechat_enabled and not openid:
        raise ActionError("接收微信模板消息须填写微信OpenID。")
    with transaction.atomic():
        c = NotifyContact.objects.select_for_update().filter(user=actor).first()
        before = snapshot(c, exclude=("phone_enc",)) if c else None
        c = c or NotifyContact(user=actor)
        c.phone_enc = crypto.encrypt(phone) if phone else ""
        c.phone_mask = crypto.mask_phone(phone) if phone else ""
        c.wechat_openid, c.sms_enabled, c.wechat_enabled = openid, bool(sms_enabled), bool(wechat_enabled)
        c.updated_at = timezone.now()
        c.save()
        log_change(actor, "core.set_notify_contact", c, before, snapshot(c, exclude=("phone_enc",)),
                   obj_repr=f"{actor} 的通知联系方式")
    return c
