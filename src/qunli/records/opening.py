"""Opening (开放鉴定): items are due for opening ``QUNLI_OPENING_YEARS`` (25, Archives Law
2020 art. 27) years after their formation; due items enter the appraisal-for-opening queue
(``enqueue_due``) and the committee decides, in batches, open / controlled (控制使用) /
deferred (延期开放, with a date when the item comes back), always with a reason
(``decide_opening``). The decision sets the item's 开放标识; nothing else changes it once
the item is filed. A decision is never edited: it is reversed by 重新鉴定 (``requeue``, with a
reason) and a new decision — the item goes back to 待定 at once, so one opened by mistake leaves
every public path the moment someone asks for a new appraisal, not when the committee meets.

Date rule: formation is the item's date (or, without one, 31 December of its year); the
item is due on the same day ``years`` later — 29 February counts as 1 March in a year
without one (满 N 年). ``cutoff(on)`` is the latest formation date due on ``on``, so the
queue is one indexed ``date <= cutoff`` query; the property tests prove both agree."""

import calendar
import datetime as dt
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone

from qunli.core.actions import ActionError, action, clean_text
from qunli.core.audit import log_change
from qunli.core.scoping import CHANGE, can

from .actions import kept_by_q, require_keeper
from .models import Custody, Fonds, Item, OpeningReview, Openness
from .public import SECRET_LEVELS

REASON_MAX = 300
MAX_BATCH = 5000


def opening_years() -> int:
    return int(getattr(settings, "QUNLI_OPENING_YEARS", 25))


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day ``years`` later; 29 February → 1 March when that year has none."""
    y = day.year + years
    if day.month == 2 and day.day == 29 and not calendar.isleap(y):
        return dt.date(y, 3, 1)
    return day.replace(year=y)


def formation(date: dt.date | None, year: int) -> dt.date:
    return date or dt.date(year, 12, 31)


def due_date(date: dt.date | None, year: int, years: int | None = None) -> dt.date:
    return add_years(formation(date, year), opening_years() if years is None else years)


def is_due(date: dt.date | None, year: int, on: dt.date, years: int | None = None) -> bool:
    return due_date(date, year, years) <= on


def cutoff(on: dt.date, years: int | None = None) -> dt.date:
    """The latest formation date that is due on ``on``: ``on`` minus ``years`` (29 February
    of a leap ``on`` maps to 28 February when the earlier year has none)."""
    years = opening_years() if years is None else years
    y = on.year - years
    if on.month == 2 and on.day == 29 and not calendar.isleap(y):
        return dt.date(y, 2, 28)
    return on.replace(year=y)


def due_q(on: dt.date, years: int | None = None) -> Q:
    """Items due for opening on ``on``, as one condition on (date, year)."""
    c = cutoff(on, years)
    last_year = c.year if (c.month, c.day) == (12, 31) else c.year - 1
    return Q(date__lte=c) | Q(date__isnull=True, year__lte=last_year)


def queue_candidates(fonds: Fonds, on: dt.date):
    """Filed items of ``fonds`` due on ``on``, not open, not already queued, and not held
    back by a decision: controlled stays controlled until someone re-queues it by hand,
    deferred comes back once its date has come."""
    held = OpeningReview.objects.filter(
        Q(decision=OpeningReview.Decision.QUEUED) | Q(decision=OpeningReview.Decision.CONTROLLED)
        | Q(decision=OpeningReview.Decision.DEFERRED, defer_until__gt=on)).values("item_id")
    return (Item.objects.filter(fonds=fonds, status=Item.Status.FILED).exclude(openness=Openness.OPEN)
            .filter(due_q(on)).exclude(pk__in=held))


@action
def enqueue_due(actor, fonds: Fonds, on: dt.date | None = None) -> int:
    """Put every item of ``fonds`` that is due on ``on`` (default today) and that ``actor``
    keeps into the queue: the fonds' own unit its items not transferred, an archives the
    items it holds."""
    if not can(actor, CHANGE, fonds) and not Custody.objects.visible_to(actor, CHANGE).filter(
            item__fonds=fonds).exists():
        raise PermissionDenied("您既不管理该全宗，也不保管其档案，不能列入开放鉴定。")
    on = on or timezone.localdate()
    rows = list(queue_candidates(fonds, on).filter(kept_by_q(actor)).order_by("date", "pk")
                .values_list("pk", "date", "year"))
    OpeningReview.objects.bulk_create(
        [OpeningReview(item_id=pk, due_on=due_date(d, y)) for pk, d, y in rows], batch_size=1000)
    log_change(actor, "records.enqueue_opening", fonds, None,
               {"on": on.isoformat(), "years": opening_years(), "count": len(rows),
                "items": [pk for pk, _, _ in rows]}, unit_path=fonds.unit.path)
    return len(rows)


OPENNESS_FOR = {OpeningReview.Decision.OPEN: Openness.OPEN,
                OpeningReview.Decision.CONTROLLED: Openness.CONTROLLED,
                OpeningReview.Decision.DEFERRED: Openness.PENDING}


@action
def decide_opening(actor, review_ids, *, decision: str, reason: str, defer_until: dt.date | None = None) -> int:
    """The committee's decision on a batch of queued reviews; the items' 开放标识 follows.
    All or nothing: one review that is not queued, of an item no longer filed (destroyed),
    out of reach, or a secret item to be opened refuses the batch."""
    ids = sorted({int(i) for i in review_ids})
    if not ids:
        raise ActionError("请先选择要鉴定的条目。")
    if len(ids) > MAX_BATCH:
        raise ActionError(f"一次最多鉴定{MAX_BATCH}件。")
    if decision not in OPENNESS_FOR:
        raise ActionError("鉴定结论应为开放、控制使用或延期开放。")
    reason = clean_text(reason, "鉴定理由", limit=REASON_MAX)
    today = timezone.localdate()
    if decision == OpeningReview.Decision.DEFERRED:
        if defer_until is None or defer_until <= today:
            raise ActionError("延期开放须填写今天以后的延期日期。")
    else:
        defer_until = None
    reviews = list(OpeningReview.objects.filter(pk__in=ids).select_for_update(of=("self",))
                   .select_related("item__fonds__unit").order_by("id"))
    if len(reviews) != len(ids):
        raise ActionError("部分鉴定条目不存在或不在您的数据范围内。")
    problems = []
    for r in reviews:
        try:
            require_keeper(actor, r.item)  # after a transfer, the archives holding it decides
        except PermissionDenied:
            raise PermissionDenied("您没有对所选档案作出开放鉴定的权限（移交后由保管单位鉴定）。") from None
        if r.item.status != Item.Status.FILED:
            problems.append(f"{r.item}：状态为{r.item.get_status_display()}，不能进行开放鉴定。")
        elif r.decision != OpeningReview.Decision.QUEUED:
            problems.append(f"{r.item}：已鉴定（{r.get_decision_display()}），不能重复鉴定。")
        elif decision == OpeningReview.Decision.OPEN and r.item.classification in SECRET_LEVELS:
            problems.append(f"{r.item}：密级为{r.item.get_classification_display()}，须先解密才能开放。")
    if problems:
        raise ActionError(problems)
    batch = uuid.uuid4().hex
    now = timezone.now()
    openness = OPENNESS_FOR[decision]
    for r in reviews:
        before = {"openness": r.item.openness}
        r.decision, r.reason, r.defer_until, r.batch = decision, reason, defer_until, batch
        r.decided_by, r.decided_at = actor, now
        r.save(update_fields=["decision", "reason", "defer_until", "batch", "decided_by", "decided_at"])
        Item.objects.filter(pk=r.item_id).update(openness=openness)
        log_change(actor, "records.decide_opening", r.item, before,
                   {"openness": openness, "decision": decision, "reason": reason,
                    "defer_until": defer_until.isoformat() if defer_until else None, "batch": batch,
                    "review": r.pk}, unit_path=r.item.fonds.unit.path)
    return len(reviews)


REQUEUE_PREFIX = "重新鉴定："


def _requeue_problem(item: Item) -> str | None:
    if not item.is_filed:
        return f"{item}：未归档的条目不能进行开放鉴定。"
    if OpeningReview.objects.filter(item=item, decision=OpeningReview.Decision.QUEUED).exists():
        return f"{item}：该条目已在开放鉴定队列中。"
    return None


def _requeue(actor, item: Item, reason: str) -> OpeningReview:
    before = {"openness": item.openness}
    # the reason shows in the queue until the committee's decision replaces it
    r = OpeningReview.objects.create(item=item, due_on=due_date(item.date, item.year),
                                     reason=(REQUEUE_PREFIX + reason)[:REASON_MAX])
    # 待定 at once: an item opened by mistake must not stay public while it waits
    Item.objects.filter(pk=item.pk).update(openness=Openness.PENDING)
    item.openness = Openness.PENDING
    log_change(actor, "records.requeue_opening", item, before,
               {"openness": Openness.PENDING, "review": r.pk, "reason": reason}, unit_path=item.fonds.unit.path)
    return r


@action
def requeue(actor, item: Item, on: dt.date | None = None, *, reason: str) -> OpeningReview:
    """重新鉴定: put a decided item (opened by mistake, controlled, deferred) back into the queue
    for a new appraisal, with a reason. Its 开放标识 returns to 待定 until the new decision.
    Allowed to whoever may decide on it (write reach on the item)."""
    require_keeper(actor, item)
    reason = clean_text(reason, "重新鉴定的理由", limit=REASON_MAX - len(REQUEUE_PREFIX))
    item = Item.objects.select_for_update(of=("self",)).select_related("fonds__unit").get(pk=item.pk)
    problem = _requeue_problem(item)
    if problem:
        raise ActionError(problem)
    return _requeue(actor, item, reason)


@action
def requeue_reviews(actor, review_ids, *, reason: str) -> int:
    """重新鉴定 of the items of these (decided) reviews, from the queue page. All or nothing."""
    ids = sorted({int(i) for i in review_ids})
    if not ids:
        raise ActionError("请先选择要重新鉴定的条目。")
    if len(ids) > MAX_BATCH:
        raise ActionError(f"一次最多重新鉴定{MAX_BATCH}件。")
    reason = clean_text(reason, "重新鉴定的理由", limit=REASON_MAX - len(REQUEUE_PREFIX))
    reviews = list(OpeningReview.objects.filter(pk__in=ids).order_by("id").values_list("pk", "item_id"))
    if len(reviews) != len(ids):
        raise ActionError("部分鉴定条目不存在或不在您的数据范围内。")
    item_ids = sorted({item_id for _, item_id in reviews})
    items = list(Item.objects.filter(pk__in=item_ids).select_for_update(of=("self",))
                 .select_related("fonds__unit").order_by("id"))
    problems = []
    for item in items:
        try:
            require_keeper(actor, item)
        except PermissionDenied:
            raise PermissionDenied("您没有对所选档案进行开放鉴定的权限（移交后由保管单位鉴定）。") from None
        problem = _requeue_problem(item)
        if problem:
            problems.append(problem)
    if problems:
        raise ActionError(problems)
    for item in items:
        _requeue(actor, item, reason)
    return len(items)
