"""Review fixes of the archives module:

* custody after an accepted transfer: the archives that holds an item provides it (利用 and
  certificates in its own name), the sender no longer can, and the receiver's holdings
  statistics count what it holds while the sender keeps its 已移交 figure;
* 重新鉴定: an opening decision is reversed by requeue (with a reason) and a new decision, and an
  item opened by mistake leaves the public portal;
* a filed item's description is corrected through a logged change, its 档号 parts and 开放标识
  staying frozen;
* the pending list links each refusal line to the item it names."""

import datetime as dt
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from conftest import add_unit, grant, make_user
from qunli.core import search as fulltext
from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog
from qunli.records import actions, holdings, opening, transfer, use
from qunli.records import search as records_search
from qunli.records.models import Certificate, Item, OpeningReview, UseRequest
from qunli.records.tests.samples import minimal_pdf

pytestmark = pytest.mark.django_db

GENEROUS = {k: (100_000, 3600) for k in ("catalogue_export_ip", "use_ip", "use_phone", "reading_ip", "reading_code",
                                         "page_ip", "verify_ip")}


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "storage")}}}
    settings.QUNLI_CHECK_WORKERS = 2
    settings.QUNLI_PORTAL_RATE_LIMITS = GENEROUS


@pytest.fixture
def archives(tree, lines):
    """市档案馆 (outside the county: the county's staff cannot act for it), its archivist and leader."""
    unit = add_unit(tree["province"], name="市档案馆", level="county", line=lines["archives"])
    archivist = make_user("danganguan")
    grant(archivist, "staff", unit, all_lines=True)
    leader = make_user("guanzhang")
    grant(leader, "leader", unit, all_lines=True)
    return unit, archivist, leader


@pytest.fixture
def filed(capture, accounts):
    """Three filed items of J001-WS·2023-Y-BGS with a PDF each; the first is open."""
    items = [capture(date=dt.date(2023, 3, d), files=[(f"通知{d}.pdf", minimal_pdf(b"%d" % d))],
                     openness="open" if d == 1 else "pending") for d in (1, 2, 3)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    return list(Item.objects.filter(pk__in=[i.pk for i in items]).select_related("fonds__unit").order_by("piece_no"))


def accept(fonds, items, archives, staff):
    unit, archivist, _ = archives
    batch = transfer.create_transfer(staff, fonds, receiver=unit, item_ids=[i.pk for i in items])
    transfer.send_transfer(staff, batch)
    assert transfer.check_receipt(archivist, batch).passed
    return transfer.accept_transfer(archivist, batch)


# --- custody: who provides use ---------------------------------------------------------------------------

def test_after_acceptance_the_sender_cannot_register_use_and_is_told_which_archives_holds_it(fonds, filed, archives,
                                                                                             accounts):
    staff = accounts["women_staff"]
    accept(fonds, filed, archives, staff)
    code = filed[0].archival_code
    with pytest.raises(ActionError) as e:
        use.register_use(staff, fonds=fonds, reader_name="王芳", purpose="marriage",
                         items=use.items_by_code(staff, fonds, [code]))
    [msg] = e.value.messages
    assert f"档号“{code}”" in msg and "已于" in msg and "移交“市档案馆”保管" in msg and "请到市档案馆办理" in msg
    assert not UseRequest.objects.exists()


def test_the_sender_cannot_certify_an_item_handed_over_after_the_request_was_approved(fonds, filed, archives,
                                                                                     accounts):
    staff = accounts["women_staff"]
    req = use.register_use(staff, fonds=fonds, reader_name="王芳", purpose="marriage", items=[filed[0]])
    line = req.lines.get()
    assert line.status == "approved" and req.holder == fonds.unit
    accept(fonds, filed, archives, staff)
    with pytest.raises(ActionError, match="移交“市档案馆”保管，本单位不能再提供利用或出具证明"):
        use.issue_certificate(staff, line)
    assert not Certificate.objects.exists()


def test_the_receiving_archives_registers_use_and_certifies_in_its_own_name(fonds, filed, archives, accounts,
                                                                            client_for):
    unit, archivist, leader = archives
    staff = accounts["women_staff"]
    accept(fonds, filed, archives, staff)
    assert fonds in use.fonds_for_use(archivist)
    c = client_for(archivist)
    assert f'value="{fonds.pk}"' in c.get(reverse("records:use_add")).content.decode()
    r = c.post(reverse("records:use_add"), {"fonds": fonds.pk, "reader_name": "王芳", "purpose": "marriage",
                                            "codes": f"{filed[0].archival_code}\n{filed[1].archival_code}"})
    assert r.status_code == 302, r.content.decode()
    req = UseRequest.objects.get()
    assert req.holder == unit and req.fonds == fonds
    # the archives sees it, decides the controlled line with its own leader, certifies in its name
    assert UseRequest.objects.visible_to(archivist).filter(pk=req.pk).exists()
    assert not UseRequest.objects.visible_to(staff).filter(pk=req.pk).exists()
    open_line, waiting = req.lines.order_by("item__piece_no")
    assert open_line.status == "approved" and waiting.status == "pending"
    with pytest.raises(PermissionDenied):
        use.decide_line(accounts["leader"], waiting, approve=True)  # the county's leader no longer decides
    use.decide_line(leader, waiting, approve=True)
    cert = use.issue_certificate(archivist, open_line)
    assert cert.unit_name == "市档案馆"
    log = ChangeLog.objects.get(action="records.register_use", object_id=str(req.pk))
    assert log.unit_path == unit.path
    page = client_for(archivist).get(reverse("records:use_detail", args=[req.pk]))
    assert page.status_code == 200 and filed[0].archival_code in page.content.decode()
    # the archives opens the items it holds (through their custody; the fonds stays the sender's)
    assert client_for(archivist).get(filed[0].get_absolute_url()).status_code == 200
    assert client_for(staff).get(reverse("records:use_detail", args=[req.pk])).status_code == 404


def test_an_online_request_for_a_received_item_goes_to_the_archives_that_holds_it(fonds, filed, archives, accounts):
    from qunli.portal import actions as portal_actions

    accept(fonds, filed, archives, accounts["women_staff"])
    req = use.submit_online(portal_actions.portal_account(), item_pk=filed[0].pk, reader_name="王芳",
                            phone="13912345678", purpose="marriage")
    assert req.holder == archives[0]


def test_the_archives_cannot_register_items_it_does_not_hold(fonds, filed, archives, accounts):
    accept(fonds, filed[:2], archives, accounts["women_staff"])
    with pytest.raises(ActionError, match="不存在或不在您的数据范围内"):
        use.items_by_code(archives[1], fonds, [filed[2].archival_code])


def test_receiver_holdings_count_what_it_holds_and_the_sender_keeps_its_transferred_figure(fonds, filed, archives,
                                                                                          accounts, client_for, tree):
    staff = accounts["women_staff"]
    year = timezone.localdate().year
    accept(fonds, filed, archives, staff)
    [sender] = holdings.annual_report(staff, year)["rows"]
    assert (sender["total"], sender["transferred"], sender["filed_in_year"]) == (0, 3, 0)
    report = holdings.annual_report(archives[1], year)
    [row] = report["rows"]
    assert row["fonds__code"] == "J001" and "市档案馆保管" in row["fonds__name"]
    assert (row["total"], row["y"], row["filed_in_year"], row["digitized"], row["transferred"]) == (3, 3, 3, 3, 0)
    assert {x["year"]: x["n"] for x in report["by_year"]} == {2023: 3}
    # an account reaching both sides counts each held item once, in the row of its holder
    both = make_user("shengji")
    grant(both, "staff", tree["province"], all_lines=True)
    both_report = holdings.annual_report(both, year)
    assert both_report["total"]["total"] == 3 and both_report["total"]["transferred"] == 3
    assert both_report["total"]["filed_in_year"] == 3  # filed by the 妇联, received by the archives: once
    assert both_report["fonds_count"] == 1 and len(both_report["rows"]) == 2
    page = client_for(archives[1]).get(reverse("records:holdings")).content.decode()
    assert "J001" in page and "市档案馆保管" in page


def test_use_figures_follow_the_unit_that_provided_the_use(fonds, filed, archives, accounts):
    staff = accounts["women_staff"]
    use.register_use(staff, fonds=fonds, reader_name="李强", purpose="social_security", items=[filed[0]])
    accept(fonds, filed, archives, staff)
    use.register_use(archives[1], fonds=fonds, reader_name="王芳", purpose="marriage", items=[filed[0]])
    year = timezone.localdate().year
    [sender] = holdings.annual_report(staff, year)["rows"]
    [receiver] = holdings.annual_report(archives[1], year)["rows"]
    assert (sender["use_persons"], sender["use_items"]) == (1, 1)
    assert (receiver["use_persons"], receiver["use_items"]) == (1, 1)


# --- 重新鉴定 ----------------------------------------------------------------------------------------------

@pytest.fixture
def opened(capture, accounts):
    """An item of 1990, filed, appraised and opened — by mistake, as it turns out."""
    staff = accounts["women_staff"]
    item = capture(title="关于1990年离婚调解的情况汇报", date=dt.date(1990, 6, 1))
    actions.file_items(staff, [item.pk])
    review = opening.requeue(staff, Item.objects.get(pk=item.pk), reason="到期，提交鉴定")
    opening.decide_opening(staff, [review.pk], decision="open", reason="经鉴定可以开放")
    return Item.objects.select_related("fonds__unit").get(pk=item.pk)


def test_an_item_opened_by_mistake_goes_back_to_controlled_through_reappraisal_and_leaves_the_portal(
        opened, accounts, client_for):
    public = Client()
    assert public.get(reverse("portal:catalogue_item", args=[opened.pk])).status_code == 200
    c = client_for(accounts["women_staff"])
    assert reverse("records:item_reappraise", args=[opened.pk]) in \
        c.get(reverse("records:item_detail", args=[opened.pk])).content.decode()
    r = c.post(reverse("records:item_reappraise", args=[opened.pk]), {"reason": "涉及个人隐私，开放有误"})
    assert r.status_code == 302
    assert Item.objects.get(pk=opened.pk).openness == "pending"  # off the portal at once, before the decision
    assert public.get(reverse("portal:catalogue_item", args=[opened.pk])).status_code == 404
    review = OpeningReview.objects.get(item=opened, decision="queued")
    assert review.reason == "重新鉴定：涉及个人隐私，开放有误"
    log = ChangeLog.objects.filter(action="records.requeue_opening", object_id=str(opened.pk)).latest("seq")
    assert log.before == {"openness": "open"} and log.after["reason"] == "涉及个人隐私，开放有误"
    r = c.post(reverse("records:opening_decide"), {"pk": [review.pk], "decision": "controlled",
                                                   "reason": "涉及个人隐私，控制使用"})
    assert r.status_code == 302
    assert Item.objects.get(pk=opened.pk).openness == "controlled"
    assert public.get(reverse("portal:catalogue_item", args=[opened.pk])).status_code == 404
    assert public.get(f"/api/public/items/{opened.pk}").status_code == 404
    assert opened.title not in public.get(reverse("portal:catalogue"), {"q": "离婚调解"}).content.decode()
    # the earlier decision stays on record
    assert list(OpeningReview.objects.filter(item=opened).order_by("id").values_list("decision", flat=True)) == \
        ["open", "controlled"]


def test_reappraisal_needs_a_reason_and_the_right_to_decide(opened, accounts, client_for):
    with pytest.raises(ActionError, match="请填写重新鉴定的理由"):
        opening.requeue(accounts["women_staff"], opened, reason="  ")
    with pytest.raises(PermissionDenied):
        opening.requeue(accounts["leader"], opened, reason="理由")  # read-only grant
    assert client_for(accounts["leader"]).post(reverse("records:item_reappraise", args=[opened.pk]),
                                               {"reason": "理由"}).status_code == 403
    assert client_for(accounts["clerk"]).get(
        reverse("records:item_reappraise", args=[opened.pk])).status_code == 404  # a village clerk: out of reach
    assert Item.objects.get(pk=opened.pk).openness == "open"


def test_the_queue_page_requeues_the_checked_decided_rows(opened, accounts, client_for):
    c = client_for(accounts["women_staff"])
    decided = OpeningReview.objects.get(item=opened)
    page = c.get(reverse("records:opening_queue")).content.decode()
    assert reverse("records:opening_requeue") in page and "重新鉴定所选" in page
    r = c.post(reverse("records:opening_requeue"), {"pk": [decided.pk], "reason": ""}, follow=True)
    assert "请填写重新鉴定的理由" in r.content.decode() and Item.objects.get(pk=opened.pk).openness == "open"
    r = c.post(reverse("records:opening_requeue"), {"pk": [decided.pk], "reason": "复查"}, follow=True)
    assert "已将 1 件档案列入重新鉴定" in r.content.decode()
    assert Item.objects.get(pk=opened.pk).openness == "pending"
    r = c.post(reverse("records:opening_requeue"), {"pk": [decided.pk], "reason": "复查"}, follow=True)
    assert "已在开放鉴定队列中" in r.content.decode()


# --- correcting a filed item's description -----------------------------------------------------------------

def _public_ids(q):
    return [h.pk for h in fulltext.search(records_search.CATALOGUE_KIND, q, Item.objects.public())]


def test_a_filed_items_description_is_corrected_with_before_and_after_logged_and_reindexed(
        capture, accounts, django_capture_on_commit_callbacks):
    staff = accounts["women_staff"]
    with django_capture_on_commit_callbacks(execute=True):
        item = capture(title="关于表彰三八红旗手的通之", openness="open", classification="secret", pages=2)
        actions.file_items(staff, [item.pk])
    item = Item.objects.get(pk=item.pk)
    code = item.archival_code
    with django_capture_on_commit_callbacks(execute=True):
        actions.update_item(staff, item, title="关于表彰三八红旗手的通知", pages=3, responsible="示范县妇女联合会",
                            doc_no="县妇发〔2023〕9号", note="题名错字已更正", classification="internal",
                            date=dt.date(2023, 3, 8))
    item.refresh_from_db()
    assert (item.title, item.pages, item.classification, item.archival_code) == \
        ("关于表彰三八红旗手的通知", 3, "internal", code)
    log = ChangeLog.objects.get(action="records.correct_filed_item", object_id=str(item.pk))
    assert log.before["title"] == "关于表彰三八红旗手的通之" and log.after["title"] == "关于表彰三八红旗手的通知"
    assert log.before["pages"] == 2 and log.after["pages"] == 3
    assert log.before["classification"] == "secret" and log.after["classification"] == "internal"
    assert "archival_code" not in log.after  # only what changed
    staff_ids = [h.pk for h in fulltext.search(records_search.KIND, "通知", Item.objects.all())]
    assert staff_ids == [item.pk] and _public_ids("通知") == [item.pk]  # 解密: public now (it was flagged open)
    assert _public_ids("通之") == []
    assert not fulltext.check(records_search.KIND) and not fulltext.check(records_search.CATALOGUE_KIND)


@pytest.mark.parametrize("change,refusal", [
    ({"retention": "D30"}, "保管期限是档号的组成部分"),
    ({"org_code": ""}, "机构（问题）代码是档号的组成部分"),
    ({"category": "ZP"}, "门类是档号的组成部分"),
    ({"openness": "open"}, "开放标识只能通过开放鉴定"),
    ({"date": dt.date(2024, 1, 2)}, "日期须在2023年内"),
    ({"title": ""}, "题名是必著项"),
    ({"pages": None}, "页数是必著项"),
])
def test_a_filed_items_archival_code_parts_and_openness_stay_frozen(capture, accounts, change, refusal):
    staff = accounts["women_staff"]
    item = capture()
    actions.file_items(staff, [item.pk])
    item = Item.objects.get(pk=item.pk)
    before = Item.objects.filter(pk=item.pk).values().get()
    with pytest.raises(ActionError, match=refusal):
        actions.update_item(staff, item, **change)
    assert Item.objects.filter(pk=item.pk).values().get() == before
    assert not ChangeLog.objects.filter(action="records.correct_filed_item").exists()


def test_the_edit_page_of_a_filed_item_shows_code_parts_read_only_and_points_to_renumbering(capture, accounts,
                                                                                            client_for):
    staff = accounts["women_staff"]
    item = capture(title="会议纪要（初稿）")
    actions.file_items(staff, [item.pk])
    item = Item.objects.get(pk=item.pk)
    c = client_for(staff)
    page = c.get(reverse("records:item_edit", args=[item.pk])).content.decode()
    assert "更正著录项" in page and reverse("records:item_renumber", args=[item.pk]) in page
    for name in ("category", "retention", "org_code", "openness"):
        assert re.search(rf'<(input|select)[^>]*name="{name}"[^>]*disabled', page), name
    assert not re.search(r'<input[^>]*name="title"[^>]*disabled', page)
    data = {"title": "会议纪要", "responsible": item.responsible, "date": "2023-03-01", "doc_no": item.doc_no,
            "category": "ZP", "retention": "D10", "org_code": "", "classification": "internal",
            "openness": "open", "pages": 2, "note": ""}  # the read-only fields tampered with: ignored
    r = c.post(reverse("records:item_edit", args=[item.pk]), data)
    assert r.status_code == 302
    after = Item.objects.get(pk=item.pk)
    assert after.title == "会议纪要"
    assert (after.retention, after.openness, after.category_id, after.org_code_id, after.archival_code) == \
        (item.retention, item.openness, item.category_id, item.org_code_id, item.archival_code)
    r = c.post(reverse("records:item_edit", args=[item.pk]), {**data, "date": "2022-12-31"})
    assert "日期须在2023年内" in r.content.decode()


# --- the pending list --------------------------------------------------------------------------------------

def test_pending_list_refusal_lines_link_to_the_items_they_name(capture, accounts, client_for):
    a, b = capture(pages=None), capture(title="")
    c = client_for(accounts["women_staff"])
    r = c.post(reverse("records:file_items"), {"pk": [a.pk, b.pk]}, follow=True)
    page = r.content.decode()
    assert "缺少必著项：页数" in page and "缺少必著项：题名" in page
    for item in (a, b):
        assert f'href="{reverse("records:item_edit", args=[item.pk])}"' in page
    assert "&lt;a" not in page  # the link is markup, not escaped text
    assert not Item.objects.filter(status="filed").exists()


# --- custody: who may change a held item -----------------------------------------------------------------

def test_after_acceptance_the_sender_can_neither_correct_nor_renumber_the_items(fonds, filed, archives, accounts):
    from django.core.exceptions import PermissionDenied

    from qunli.records import actions as ra

    staff = accounts["women_staff"]
    accept(fonds, filed, archives, staff)
    item = Item.objects.get(pk=filed[0].pk)
    with pytest.raises(PermissionDenied, match="已移交“市档案馆”保管"):
        ra.update_item(staff, item, title="改过的题名")
    with pytest.raises(PermissionDenied, match="只有保管单位才能修改"):
        ra.renumber_item(staff, item, piece_no=2, reason="调整")
    assert Item.objects.get(pk=item.pk).title == filed[0].title


def test_a_held_items_page_names_its_keeper_and_offers_the_sender_no_edits(client, fonds, filed, archives, accounts):
    staff = accounts["women_staff"]
    accept(fonds, filed, archives, staff)
    client.force_login(staff)
    page = client.get(f"/records/items/{filed[0].pk}/").content.decode()
    assert "保管单位 市档案馆" in page
    assert f"/records/items/{filed[0].pk}/edit/" not in page and "调整件号" not in page


# --- custody: the archives appraises what it holds for opening ---------------------------------------------

def test_after_acceptance_the_archives_queues_and_decides_the_opening_and_the_sender_cannot(client, fonds, capture,
                                                                                            archives, accounts):
    staff = accounts["women_staff"]
    unit, archivist, _ = archives
    old = [capture(date=dt.date(1996, 3, d), title=f"1996年第{d}号通知") for d in (1, 2)]
    actions.file_items(staff, [i.pk for i in old])
    accept(fonds, list(Item.objects.filter(pk__in=[i.pk for i in old])), archives, staff)
    assert opening.enqueue_due(staff, fonds) == 0  # the sender keeps nothing of these any more
    client.force_login(archivist)
    r = client.post(reverse("records:opening_enqueue"), {"fonds": fonds.pk})
    assert r.status_code == 302
    reviews = list(OpeningReview.objects.filter(item__in=old, decision="queued"))
    assert len(reviews) == 2
    assert "1996年第1号通知" in client.get(reverse("records:opening_queue")).content.decode()
    with pytest.raises(PermissionDenied, match="移交后由保管单位鉴定"):
        opening.decide_opening(staff, [r.pk for r in reviews], decision="open", reason="经鉴定可以开放")
    opening.decide_opening(archivist, [r.pk for r in reviews], decision="open", reason="经鉴定可以开放")
    assert set(Item.objects.filter(pk__in=[i.pk for i in old]).values_list("openness", flat=True)) == {"open"}


def test_the_archives_opens_corrects_and_downloads_what_it_holds(client, fonds, capture, archives, accounts):
    """Its fonds stays the sender's: the archives reaches a held item through its custody — the
    holdings list links it, its page offers the keeper's buttons, its files download."""
    from qunli.records.tests.samples import minimal_pdf

    staff = accounts["women_staff"]
    unit, archivist, _ = archives
    item = capture(files=[("通知.pdf", minimal_pdf(b"held"))])
    actions.file_items(staff, [item.pk])
    accept(fonds, [Item.objects.get(pk=item.pk)], archives, staff)
    client.force_login(archivist)
    assert f"/records/items/{item.pk}/" in client.get(reverse("records:received_holdings")).content.decode()
    page = client.get(f"/records/items/{item.pk}/").content.decode()
    assert f"/records/items/{item.pk}/edit/" in page and "调整件号" in page
    f = item.files.get()
    assert client.get(reverse("records:file_download", args=[f.pk])).status_code == 200
    r = client.post(f"/records/items/{item.pk}/edit/", {
        "title": "关于开展三八节活动的通知（更正）", "responsible": item.responsible, "date": item.date.isoformat(),
        "doc_no": item.doc_no, "category": "WS", "retention": item.retention, "org_code": "BGS",
        "classification": item.classification, "openness": item.openness, "pages": item.pages, "note": ""})
    assert r.status_code == 302, r.content.decode()[:1500]
    assert Item.objects.get(pk=item.pk).title == "关于开展三八节活动的通知（更正）"
    client.force_login(staff)  # the sender reads it but may not change it
    assert client.get(f"/records/items/{item.pk}/").status_code == 200
    assert client.get(f"/records/items/{item.pk}/edit/").status_code == 403
