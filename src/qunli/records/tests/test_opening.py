"""Opening (开放鉴定): the 25-year rule as properties (due date, cutoff, leap days, the
configurable period), the queue (due items only, once, deferred ones coming back), and the
committee's batch decisions (all or nothing, reasons, secret items never opened, one
change-log row per item, the 开放标识 following)."""

import datetime as dt

import pytest
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog
from qunli.records import actions, opening
from qunli.records.models import Item, OpeningReview

dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31))
years = st.integers(min_value=1, max_value=50)


# --- the date rule, as properties --------------------------------------------------------------

@given(dates, years)
def test_due_date_is_years_later_on_the_same_calendar_day_or_the_first_of_march(day, n):
    due = opening.due_date(day, day.year, n)
    assert due.year == day.year + n
    if (day.month, day.day) == (2, 29) and due.month == 3:
        assert due == dt.date(due.year, 3, 1)
    else:
        assert (due.month, due.day) == (day.month, day.day)


@given(dates, dates, years)
def test_cutoff_agrees_with_the_due_date_for_every_pair_of_days(formed, on, n):
    """The queue's SQL condition (date <= cutoff(on)) is the same as due_date(date) <= on."""
    assert (formed <= opening.cutoff(on, n)) == opening.is_due(formed, formed.year, on, n)


@given(st.integers(min_value=1900, max_value=2070), dates, years)
def test_an_undated_item_counts_from_the_end_of_its_year(year, on, n):
    c = opening.cutoff(on, n)
    last_year = c.year if (c.month, c.day) == (12, 31) else c.year - 1
    assert (year <= last_year) == opening.is_due(None, year, on, n)


@given(dates, st.integers(min_value=0, max_value=3000), years)
def test_being_due_never_stops(formed, later, n):
    due = opening.due_date(formed, formed.year, n)
    assert opening.is_due(formed, formed.year, due, n)
    assert opening.is_due(formed, formed.year, due + dt.timedelta(days=later), n)
    assert not opening.is_due(formed, formed.year, due - dt.timedelta(days=1), n)


def test_twenty_five_years_by_default_and_configurable(settings):
    assert opening.opening_years() == 25
    assert opening.due_date(dt.date(2000, 2, 29), 2000) == dt.date(2025, 3, 1)
    assert opening.due_date(None, 2000) == dt.date(2025, 12, 31)
    settings.QUNLI_OPENING_YEARS = 30
    assert opening.due_date(dt.date(2000, 6, 1), 2000) == dt.date(2030, 6, 1)


# --- the queue -------------------------------------------------------------------------------------

@pytest.fixture
def filed(capture, accounts):
    def make(date, **kw):
        item = capture(date=date, **kw)
        actions.file_items(accounts["women_staff"], [item.pk])
        return Item.objects.get(pk=item.pk)
    return make


pytestmark = pytest.mark.django_db


def test_only_filed_items_past_the_period_and_not_open_enter_the_queue_once(filed, capture, fonds, accounts):
    staff = accounts["women_staff"]
    on = dt.date(2026, 6, 1)
    due = filed(dt.date(2001, 6, 1))  # exactly 25 years
    not_yet = filed(dt.date(2001, 6, 2))
    already_open = filed(dt.date(1990, 1, 1), openness="open")
    capture(date=dt.date(1980, 1, 1))  # never filed
    assert opening.enqueue_due(staff, fonds, on=on) == 1
    assert list(OpeningReview.objects.values_list("item_id", "due_on")) == [(due.pk, dt.date(2026, 6, 1))]
    assert opening.enqueue_due(staff, fonds, on=on) == 0  # queued once
    assert opening.enqueue_due(staff, fonds, on=dt.date(2026, 6, 2)) == 1  # the next day's item
    assert not OpeningReview.objects.filter(item__in=[already_open]).exists()
    assert OpeningReview.objects.filter(item=not_yet).exists()
    log = ChangeLog.objects.filter(action="records.enqueue_opening").first()
    assert log.after["count"] == 1 and log.actor == staff


def test_leaders_cannot_enqueue_and_foreign_fonds_is_out_of_reach(fonds, accounts):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        opening.enqueue_due(accounts["leader"], fonds)


def test_batch_decision_sets_openness_with_reason_and_one_log_row_per_item(filed, fonds, accounts):
    staff = accounts["women_staff"]
    items = [filed(dt.date(1990, 1, i + 1)) for i in range(3)]
    opening.enqueue_due(staff, fonds, on=dt.date(2026, 1, 1))
    reviews = list(OpeningReview.objects.order_by("id").values_list("pk", flat=True))
    assert opening.decide_opening(staff, reviews[:2], decision="open", reason="内容不涉及国家秘密和个人隐私") == 2
    assert opening.decide_opening(staff, reviews[2:], decision="controlled", reason="涉及个人隐私") == 1
    states = dict(Item.objects.filter(pk__in=[i.pk for i in items]).values_list("pk", "openness"))
    assert [states[i.pk] for i in items] == ["open", "open", "controlled"]
    logs = ChangeLog.objects.filter(action="records.decide_opening")
    assert logs.count() == 3
    assert {log.after["reason"] for log in logs} == {"内容不涉及国家秘密和个人隐私", "涉及个人隐私"}
    assert all(log.before == {"openness": "pending"} for log in logs)
    batches = {log.after["batch"] for log in logs}
    assert len(batches) == 2
    with pytest.raises(ActionError, match="不能重复鉴定"):
        opening.decide_opening(staff, reviews[:1], decision="controlled", reason="改判")


def test_a_batch_with_one_bad_review_changes_nothing(filed, fonds, accounts):
    staff = accounts["women_staff"]
    plain = filed(dt.date(1990, 1, 1))
    secret = filed(dt.date(1990, 1, 2), classification="secret")
    opening.enqueue_due(staff, fonds, on=dt.date(2026, 1, 1))
    ids = list(OpeningReview.objects.values_list("pk", flat=True))
    with pytest.raises(ActionError, match="须先解密"):
        opening.decide_opening(staff, ids, decision="open", reason="到期开放")
    assert set(Item.objects.filter(pk__in=[plain.pk, secret.pk]).values_list("openness", flat=True)) == {"pending"}
    assert not OpeningReview.objects.exclude(decision="queued").exists()
    assert not ChangeLog.objects.filter(action="records.decide_opening").exists()
    with pytest.raises(ActionError, match="请填写鉴定理由"):
        opening.decide_opening(staff, ids, decision="controlled", reason="  ")
    with pytest.raises(ActionError, match="结论"):
        opening.decide_opening(staff, ids, decision="maybe", reason="x")


def test_deferred_items_come_back_when_their_date_has_come(filed, fonds, accounts, monkeypatch):
    staff = accounts["women_staff"]
    item = filed(dt.date(1990, 1, 1))
    opening.enqueue_due(staff, fonds, on=dt.date(2026, 1, 1))
    review = OpeningReview.objects.get()
    with pytest.raises(ActionError, match="延期日期"):
        opening.decide_opening(staff, [review.pk], decision="deferred", reason="待整理")
    later = dt.date.today() + dt.timedelta(days=365)
    opening.decide_opening(staff, [review.pk], decision="deferred", reason="待整理后再鉴定", defer_until=later)
    assert Item.objects.get(pk=item.pk).openness == "pending"
    assert opening.enqueue_due(staff, fonds, on=later - dt.timedelta(days=1)) == 0
    assert opening.enqueue_due(staff, fonds, on=later) == 1


def test_controlled_items_stay_out_of_the_queue_until_requeued(filed, fonds, accounts):
    staff = accounts["women_staff"]
    item = filed(dt.date(1990, 1, 1))
    opening.enqueue_due(staff, fonds, on=dt.date(2026, 1, 1))
    opening.decide_opening(staff, list(OpeningReview.objects.values_list("pk", flat=True)), decision="controlled",
                           reason="涉及个人隐私")
    assert opening.enqueue_due(staff, fonds, on=dt.date(2040, 1, 1)) == 0
    opening.requeue(staff, item, reason="情况变化，重新鉴定")
    with pytest.raises(ActionError, match="已在开放鉴定队列"):
        opening.requeue(staff, item, reason="再次提出")


def test_queue_page_and_batch_form(filed, fonds, accounts, client_for, django_assert_max_num_queries):
    staff = accounts["women_staff"]
    for i in range(5):
        filed(dt.date(1990, 1, i + 1))
    c = client_for(staff)
    r = c.post(reverse("records:opening_enqueue"), {"fonds": fonds.pk})
    assert r.status_code == 302 and OpeningReview.objects.count() == 5
    with django_assert_max_num_queries(14):
        page = c.get(reverse("records:opening_queue"), {"decision": "queued"})
    assert page.status_code == 200 and "开放鉴定" in page.content.decode()
    ids = list(OpeningReview.objects.values_list("pk", flat=True))
    r = c.post(reverse("records:opening_decide"), {"pk": ids, "decision": "open", "reason": "到期开放"})
    assert r.status_code == 302
    assert Item.objects.public().count() == 5
    # bad input: a message, nothing changed
    filed(dt.date(1991, 1, 1))
    c.post(reverse("records:opening_enqueue"), {"fonds": fonds.pk})
    new = OpeningReview.objects.get(decision="queued")
    r = c.post(reverse("records:opening_decide"), {"pk": [new.pk], "decision": "deferred", "reason": "x",
                                                   "defer_until": "明年"}, follow=True)
    assert "延期日期格式" in r.content.decode()
    assert OpeningReview.objects.get(pk=new.pk).decision == "queued"


@settings(max_examples=1)
@given(st.just(None))
def test_hypothesis_is_configured(_):
    """A trivial property so a broken hypothesis install fails loudly here."""


def test_a_review_of_a_destroyed_item_cannot_be_decided(filed, fonds, accounts):
    staff = accounts["women_staff"]
    plain = filed(dt.date(1990, 1, 1))
    gone = filed(dt.date(1990, 1, 2))
    opening.enqueue_due(staff, fonds, on=dt.date(2026, 1, 1))
    Item.objects.filter(pk=gone.pk).update(status=Item.Status.DISPOSED)  # destroyed around the queue
    ids = list(OpeningReview.objects.values_list("pk", flat=True))
    with pytest.raises(ActionError, match="已销毁，不能进行开放鉴定"):
        opening.decide_opening(staff, ids, decision="open", reason="到期开放")
    assert set(Item.objects.filter(pk__in=[plain.pk, gone.pk]).values_list("openness", flat=True)) == {"pending"}
    assert not ChangeLog.objects.filter(action="records.decide_opening").exists()
