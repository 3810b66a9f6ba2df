"""Retention expiry → appraisal → destruction: 永久 never, the proposer never approves, the
catalogue entry stays (已销毁) while its bytes leave both storages."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.urls import reverse

from conftest import grant
from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog
from qunli.records import actions, destruction, offsite
from qunli.records.models import Appraisal, DestructionBatch, Item, PreservationEvent
from qunli.records.tests.samples import minimal_pdf

PDF = minimal_pdf(b"x" * 500)
THIS_YEAR = 2026


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "primary")}}}


@pytest.fixture
def filed(capture, accounts):
    """D10 items of 2014 and 2020, a D30 of 1990, a Y of 1980 — filed."""
    made = {
        "d10_old": capture(date=dt.date(2014, 5, 1), retention="D10", files=[("a.pdf", PDF)]),
        "d10_old2": capture(date=dt.date(2014, 6, 1), retention="D10", files=[("b.pdf", PDF + b"b")]),
        "d10_new": capture(date=dt.date(2020, 5, 1), retention="D10"),
        "d30_old": capture(date=dt.date(1990, 5, 1), retention="D30"),
        "y_old": capture(date=dt.date(1980, 5, 1), retention="Y"),
    }
    actions.file_items(accounts["women_staff"], [i.pk for i in made.values()])
    return {k: Item.objects.get(pk=v.pk) for k, v in made.items()}


def _due(year=THIS_YEAR):
    return set(destruction.due_for_appraisal(Item.objects.all(), year).values_list("pk", flat=True))


def test_expired_d10_and_d30_are_due_for_appraisal_never_y(filed):
    assert _due() == {filed["d10_old"].pk, filed["d10_old2"].pk, filed["d30_old"].pk}
    assert filed["d10_old"].pk not in _due(2024)  # kept through 2024, due from 2025
    assert filed["d10_old"].pk in _due(2025)


def test_keep_decision_sets_a_new_period_and_comes_back_when_it_ends(filed, accounts):
    it = filed["d10_old"]
    [a] = destruction.appraise(accounts["women_staff"], [it.pk], decision="keep", new_retention="D10",
                               reason="仍有查考价值", year=THIS_YEAR)
    assert a.review_year == THIS_YEAR + 10
    assert it.pk not in _due(THIS_YEAR) and it.pk in _due(THIS_YEAR + 10)
    assert ChangeLog.objects.filter(action="records.appraise", object_id=str(it.pk)).exists()


def test_y_cannot_be_appraised_for_destruction(filed, accounts):
    with pytest.raises(ActionError, match="永久"):
        destruction.appraise(accounts["women_staff"], [filed["y_old"].pk, filed["d10_old"].pk], decision="destroy",
                             reason="到期", year=THIS_YEAR)
    assert not Appraisal.objects.exists()  # all or nothing


def test_appraisal_needs_a_reason_and_an_expired_item(filed, accounts):
    with pytest.raises(ActionError, match="鉴定理由"):
        destruction.appraise(accounts["women_staff"], [filed["d10_old"].pk], decision="destroy", reason=" ")
    with pytest.raises(ActionError, match="尚未到期"):
        destruction.appraise(accounts["women_staff"], [filed["d10_new"].pk], decision="destroy", reason="x",
                             year=THIS_YEAR)


def _proposed(filed, accounts, keys=("d10_old", "d10_old2")):
    staff = accounts["women_staff"]
    ids = [filed[k].pk for k in keys]
    destruction.appraise(staff, ids, decision="destroy", reason="已无保存价值", year=THIS_YEAR)
    return destruction.propose_destruction(staff, filed["d10_old"].fonds, ids, title="2026年第1批销毁清册",
                                           reason="保管期满，经鉴定无保存价值")


def test_the_proposer_cannot_approve_even_as_a_leader(filed, accounts, tree):
    staff = accounts["women_staff"]
    grant(staff, "leader", tree["county"], all_lines=True)  # the proposer also holds a leader grant
    batch = _proposed(filed, accounts)
    with pytest.raises(ActionError, match="提出人不能审批"):
        destruction.decide_destruction(staff, batch, approve=True)
    with pytest.raises(PermissionDenied):  # staff of another line, no leader grant
        destruction.decide_destruction(accounts["party_office"], batch, approve=True)
    with pytest.raises(ActionError, match="未经批准"):
        destruction.execute_destruction(staff, batch)
    assert DestructionBatch.objects.get(pk=batch.pk).status == "proposed"


def test_y_items_never_enter_a_batch(filed, accounts):
    Appraisal.objects.create(item=filed["y_old"], decision="destroy", reason="伪造的鉴定",
                             decided_by=accounts["women_staff"])  # even if someone wrote it around the action
    with pytest.raises(ActionError, match="永久"):
        destruction.propose_destruction(accounts["women_staff"], filed["y_old"].fonds, [filed["y_old"].pk],
                                        title="清册", reason="理由")


def test_rejected_batch_keeps_items_and_frees_them(filed, accounts):
    batch = _proposed(filed, accounts)
    with pytest.raises(ActionError, match="审批意见"):
        destruction.decide_destruction(accounts["leader"], batch, approve=False)
    destruction.decide_destruction(accounts["leader"], batch, approve=False, note="请复核第2件")
    assert set(destruction.awaiting_destruction(Item.objects.all()).values_list("pk", flat=True)) == \
        {filed["d10_old"].pk, filed["d10_old2"].pk}


def test_execution_removes_bytes_everywhere_but_keeps_the_entry(filed, accounts, tmp_path,
                                                              django_capture_on_commit_callbacks):
    store = offsite.FileStore(tmp_path / "offsite")
    keep = filed["d30_old"]
    # a live item shares the bytes of d10_old: those bytes must survive
    shared = actions.capture_record(accounts["women_staff"], unit=keep.fonds.unit, title="同文件", responsible="x",
                                    date=dt.date(2022, 1, 1), files=[("same.pdf", PDF)])
    offsite.sync(store=store)
    name_shared = filed["d10_old"].files.get().storage_name
    name_gone = filed["d10_old2"].files.get().storage_name
    batch = _proposed(filed, accounts)
    destruction.decide_destruction(accounts["leader"], batch, approve=True, note="同意")
    with django_capture_on_commit_callbacks(execute=True):
        destruction.execute_destruction(accounts["women_staff"], batch, store=store)
    gone = Item.objects.get(pk=filed["d10_old2"].pk)
    assert gone.status == "disposed" and gone.get_status_display() == "已销毁"
    assert gone.archival_code and not gone.files.exists()
    entry = batch.entries.get(item=gone)
    assert entry.files[0]["sm3"] == name_gone.rsplit("/", 1)[1]
    assert not default_storage.exists(name_gone) and not store.exists(name_gone)
    assert default_storage.exists(name_shared) and store.exists(name_shared)
    assert shared.files.get().storage_name == name_shared
    assert PreservationEvent.objects.filter(item=gone, kind="destruction").exists()
    assert ChangeLog.objects.filter(action="records.execute_destruction", object_id=str(batch.pk)).exists()
    with pytest.raises(ActionError, match="未经批准"):
        destruction.execute_destruction(accounts["women_staff"], batch, store=store)
    with pytest.raises(ActionError, match="已销毁的条目不能修改"):
        actions.update_item(accounts["women_staff"], gone, title="改名")


def test_destroyed_items_leave_lists_and_search_by_default_but_stay_findable(filed, accounts, client_for,
                                                                          django_capture_on_commit_callbacks):
    batch = _proposed(filed, accounts, keys=("d10_old2",))
    destruction.decide_destruction(accounts["leader"], batch, approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        destruction.execute_destruction(accounts["women_staff"], batch, store=offsite.FileStore("/nonexistent"))
    from qunli.core import search

    search.drain()  # the outbox of this test's writes (their commit never comes)
    c = client_for(accounts["women_staff"])
    code = filed["d10_old2"].archival_code
    link = f'href="{reverse("records:item_detail", args=[filed["d10_old2"].pk])}"'
    assert link not in c.get(reverse("records:item_list")).content.decode()
    assert link not in c.get(reverse("records:item_list"), {"q": code}).content.decode()
    # a query matching both siblings finds the live one only
    hits = c.get(reverse("records:item_list"), {"q": "工作的通知"}).content.decode()
    assert f'href="{reverse("records:item_detail", args=[filed["d10_old"].pk])}"' in hits and link not in hits
    listed = c.get(reverse("records:item_list"), {"status": "disposed"}).content.decode()
    assert link in listed and "已销毁" in listed
    page = c.get(reverse("records:item_detail", args=[filed["d10_old2"].pk])).content.decode()
    assert "已销毁" in page and batch.title in page


def test_destruction_pages_walk_through(filed, accounts, client_for):
    staff = client_for(accounts["women_staff"])
    ids = [filed["d10_old"].pk, filed["d10_old2"].pk]
    r = staff.get(reverse("records:appraisal_list"))
    assert filed["d10_old"].archival_code in r.content.decode()
    assert filed["y_old"].archival_code not in r.content.decode()
    r = staff.post(reverse("records:appraise"), {"pk": ids, "decision": "destroy", "reason": "无保存价值"})
    assert r.status_code == 302 and Appraisal.objects.count() == 2
    r = staff.post(reverse("records:destruction_add"), {"pk": ids, "fonds": filed["d10_old"].fonds_id,
                                                        "title": "第1批", "reason": "期满"})
    batch = DestructionBatch.objects.get()
    assert r.status_code == 302
    assert staff.post(reverse("records:destruction_decide", args=[batch.pk]),
                      {"approve": "1"}).status_code == 403
    xlsx = staff.get(reverse("records:destruction_list_xlsx", args=[batch.pk]))
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxml")
    pdf = staff.get(reverse("records:destruction_list_pdf", args=[batch.pk]))
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content if pdf.streaming else [pdf.content])[:4] == b"%PDF"
    leader = client_for(accounts["leader"])
    r = leader.post(reverse("records:destruction_decide", args=[batch.pk]), {"approve": "1", "note": "同意"})
    assert r.status_code == 302
    assert DestructionBatch.objects.get().status == "approved"


def test_execution_also_removes_the_extracted_text_and_thumbnail_unless_shared(
        filed, accounts, tmp_path, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile

    from qunli.records.extract import thumb_name
    from qunli.records.file_models import FileContent

    store = offsite.FileStore(tmp_path / "offsite")
    keep = filed["d30_old"]
    actions.capture_record(accounts["women_staff"], unit=keep.fonds.unit, title="同文件", responsible="x",
                           date=dt.date(2022, 1, 1), files=[("same.pdf", PDF)])  # shares d10_old's bytes
    digest = {k: filed[k].files.get().sm3 for k in ("d10_old", "d10_old2")}
    thumb_file = tmp_path / "t.png"
    thumb_file.write_bytes(b"png")
    for sm3 in digest.values():
        FileContent.objects.filter(sm3=sm3).delete()
        FileContent.objects.create(sm3=sm3, kind="pdf", status="text", text="机密正文", thumb_name=thumb_name(sm3))
        if not default_storage.exists(thumb_name(sm3)):
            default_storage.save(thumb_name(sm3), ContentFile(b"png"))
        store.put(thumb_name(sm3), str(thumb_file))
    batch = _proposed(filed, accounts)
    destruction.decide_destruction(accounts["leader"], batch, approve=True, note="同意")
    with django_capture_on_commit_callbacks(execute=True):
        destruction.execute_destruction(accounts["women_staff"], batch, store=store)
    gone, shared = digest["d10_old2"], digest["d10_old"]
    assert not FileContent.objects.filter(sm3=gone).exists()
    assert not default_storage.exists(thumb_name(gone)) and not store.exists(thumb_name(gone))
    assert FileContent.objects.filter(sm3=shared).exists()
    assert default_storage.exists(thumb_name(shared)) and store.exists(thumb_name(shared))


def _custody_batch(item, accounts, status="prepared"):
    from qunli.records.transfer_models import TransferBatch, TransferItem

    unit = item.fonds.unit
    batch = TransferBatch.objects.create(number=f"YJ-{item.pk}-{status}", title="移交", status=status,
                                         fonds=item.fonds, fonds_code=item.fonds.code, sender_unit=unit,
                                         sender_name=unit.name, receiver=unit)
    TransferItem.objects.create(batch=batch, item=item, archival_code=item.archival_code)
    return batch


def test_items_in_an_open_transfer_or_since_held_by_an_archives_are_not_destroyed_by_the_sender(
        filed, accounts, county_archives):
    from qunli.records.transfer_models import Custody

    staff = accounts["women_staff"]
    ids = [filed["d10_old"].pk, filed["d10_old2"].pk]
    destruction.appraise(staff, ids, decision="destroy", reason="已无保存价值", year=THIS_YEAR)
    sending = _custody_batch(filed["d10_old2"], accounts, "sent")
    assert set(destruction.awaiting_destruction(Item.objects.all()).values_list("pk", flat=True)) == \
        {filed["d10_old"].pk}
    with pytest.raises(ActionError, match="移交"):
        destruction.propose_destruction(staff, filed["d10_old"].fonds, ids, title="清册", reason="理由")
    sending.status = "returned"
    sending.save()  # a returned batch no longer holds the item
    batch = destruction.propose_destruction(staff, filed["d10_old"].fonds, ids, title="清册", reason="理由")
    destruction.decide_destruction(accounts["leader"], batch, approve=True, note="同意")
    # after the proposal, an archives received one of them
    accepted = _custody_batch(filed["d10_old"], accounts, "accepted")
    Custody.objects.create(item=filed["d10_old"], unit=county_archives[0], batch=accepted)
    with pytest.raises(ActionError, match="已由示范县档案馆保管"):
        destruction.execute_destruction(staff, batch)
    assert not Item.objects.filter(status="disposed").exists()
    assert DestructionBatch.objects.get(pk=batch.pk).status == "approved"


def test_execution_takes_the_destroyed_items_out_of_the_opening_queue(filed, accounts):
    from qunli.records import opening
    from qunli.records.models import OpeningReview

    staff = accounts["women_staff"]
    queued = opening.requeue(staff, filed["d10_old2"], reason="重新鉴定")
    kept = opening.requeue(staff, filed["d30_old"], reason="重新鉴定")
    batch = _proposed(filed, accounts)
    destruction.decide_destruction(accounts["leader"], batch, approve=True, note="同意")
    destruction.execute_destruction(staff, batch)
    assert not OpeningReview.objects.filter(pk=queued.pk).exists()
    assert OpeningReview.objects.filter(pk=kept.pk, decision="queued").exists()
    log = ChangeLog.objects.get(action="records.execute_destruction", object_id=str(batch.pk))
    assert log.after["closed_opening_reviews"] == [queued.pk]
