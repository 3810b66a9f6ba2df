"""The staff archives API (/api/records): the same scoping as the pages (a foreign fonds or item
is a 404 like a missing id and never part of a list or a search), the same 密级/划控 rule as
the item list and the use desk, capture with files, DA/T 22 filing with gapless 档号, 四性检测
reports, a transfer round trip, 利用 approval, 馆藏统计 — and a refused action that changes
nothing and answers 400 in Chinese."""

import datetime as dt
import hashlib
import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from conftest import CJK, TokenClient, body, chinese_error, grant, make_user
from qunli.core.api import NOT_VISIBLE
from qunli.core.models import ChangeLog
from qunli.records import actions, holdings, transfer
from qunli.records.models import (
    CheckRun,
    Custody,
    FilingCounter,
    Item,
    TransferBatch,
    UseLine,
    UseRequest,
)
from qunli.records.tests.samples import minimal_pdf

pytestmark = pytest.mark.django_db

PDF = minimal_pdf()
FOREIGN_WORD = "邻县独有词"


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    settings.QUNLI_CHECK_WORKERS = 1


@pytest.fixture
def api(accounts):
    return lambda who: TokenClient(accounts[who] if isinstance(who, str) else who, "/api/records")


def ids(r) -> list[int]:
    assert r.status_code == 200, r.content.decode()
    return [row["id"] for row in body(r)["items"]]


@pytest.fixture
def foreign(tree, django_capture_on_commit_callbacks):
    """邻县妇联's own fonds with a filed and a pending item carrying a word no county item has."""
    outsider = make_user("linxian")
    grant(outsider, "staff", tree["other_women"], all_lines=True)
    with django_capture_on_commit_callbacks(execute=True):
        f = actions.create_fonds(outsider, unit=tree["other_women"], code="LX01", name="邻县妇联")
        data = dict(
            unit=tree["other_women"], responsible="邻县妇联", date=dt.date(2023, 5, 1), retention="Y", pages=1
        )
        filed = actions.capture_record(outsider, title=f"{FOREIGN_WORD}甲", **data)
        actions.file_items(outsider, [filed.pk])
        pending = actions.capture_record(outsider, title=f"{FOREIGN_WORD}乙", **data)
    filed.refresh_from_db()
    return {"fonds": f, "filed": filed, "pending": pending, "user": outsider}


# --- scoping -------------------------------------------------------------------------------------


def test_foreign_fonds_and_items_are_404_like_missing_ids_and_never_listed(api, fonds, capture, foreign):
    mine = capture(title="本县通知")
    a = api("women_staff")
    assert ids(a.get("/fonds")) == [fonds.pk]
    for url in (
        f"/fonds/{foreign['fonds'].pk}",
        f"/items/{foreign['filed'].pk}",
        f"/items/{foreign['pending'].pk}",
    ):
        r = a.get(url)
        assert chinese_error(r, 404) == [NOT_VISIBLE]
        missing = a.get(re.sub(r"\d+$", "999999999", url))
        assert missing.status_code == 404 and missing.content == r.content
    assert ids(a.get("/items")) == [mine.pk]
    for status in ("filed", "pending"):
        assert foreign["filed"].pk not in ids(a.get("/items", status=status))
    assert ids(a.get("/items", q=FOREIGN_WORD)) == []
    assert ids(a.get("/items", q="LX01")) == []
    # filtering by a foreign fonds is refused, not answered from it
    assert chinese_error(a.get("/items", fonds=foreign["fonds"].pk), 400) == [
        "全宗：全宗不存在或不在您的数据范围内。"
    ]
    report = body(a.get("/holdings", year=2023))
    assert [r["fonds_code"] for r in report["rows"]] == ["J001"]
    # the outsider sees its own, and none of ours
    b = api(foreign["user"])
    assert set(ids(b.get("/items"))) == {foreign["filed"].pk, foreign["pending"].pk}
    assert ids(b.get("/items", q=FOREIGN_WORD + "甲")) == [foreign["filed"].pk]
    assert b.get(f"/items/{mine.pk}").status_code == 404


def test_writes_on_foreign_objects_are_404_and_change_nothing(api, fonds, capture, foreign):
    a = api("women_staff")
    mine = capture()
    before = ChangeLog.objects.count()
    r = a.post("/items/file", {"item_ids": [mine.pk, foreign["pending"].pk]})
    assert chinese_error(r, 404) == [NOT_VISIBLE]
    assert a.post(f"/fonds/{foreign['fonds'].pk}/check").status_code == 404
    r = a.post_form(
        "/items",
        {"unit_id": foreign["fonds"].unit_id, "title": "题名", "responsible": "某", "date": "2023-01-01"},
    )
    assert "不存在或不在您的数据范围内" in chinese_error(r, 400)[0]
    r = a.post(
        "/use",
        {
            "fonds_id": foreign["fonds"].pk,
            "reader_name": "张三",
            "purpose": "work",
            "archival_codes": [foreign["filed"].archival_code],
        },
    )
    assert "不存在或不在您的数据范围内" in chinese_error(r, 400)[0]
    assert Item.objects.get(pk=mine.pk).status == "pending"
    assert Item.objects.get(pk=foreign["pending"].pk).status == "pending"
    assert ChangeLog.objects.count() == before and not UseRequest.objects.exists()


# --- 密级 and 划控: the item list's rule, the use desk's rule --------------------------------------------


def _ui_ids(client, **params) -> set[int]:
    page = client.get(reverse("records:item_list"), params)
    assert page.status_code == 200
    return {int(pk) for pk in re.findall(r'href="/records/items/(\d+)/"', page.content.decode())}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"openness": "controlled"},
        {"classification": "secret"},
        {"classification": "confidential"},
        {"status": "pending"},
        {"q": "返城安置"},
        {"q": "测绘坐标"},
        {"q": "婚姻登记"},
        {"q": "婚姻登记", "openness": "open"},
        {"year": "1970"},
        {"retention": "Y", "status": "filed"},
    ],
)
def test_the_api_lists_exactly_what_the_item_page_lists(params, api, holdings, client_for, accounts, foreign):
    """Controlled (划控), undecided, secret and confidential items of the account's scope are
    listed and searchable for staff, with their 密级 and 开放标识, exactly as on the page."""
    for who in ("women_staff", "party_office", "leader", "union_staff", "clerk"):
        ui = _ui_ids(client_for(accounts[who]), **params)
        got = api(who).get("/items", **params)
        assert set(ids(got)) == ui, (who, params)
    assert foreign["filed"].pk not in ui


def test_secret_and_controlled_items_show_their_marks_to_staff_and_stay_out_of_the_public_api(api, holdings):
    a = api("women_staff")
    rows = {row["id"]: row for row in body(a.get("/items", limit=50))["items"]}
    assert rows[holdings["controlled"].pk]["openness"] == "controlled"
    assert rows[holdings["controlled"].pk]["openness_display"] == "控制"
    assert rows[holdings["secret"].pk]["classification_display"] == "秘密"
    assert rows[holdings["confidential"].pk]["classification"] == "confidential"
    detail = body(a.get(f"/items/{holdings['secret'].pk}"))
    assert detail["archival_code"] == holdings["secret"].archival_code and detail["files"] == []
    public = Client()
    for key in ("controlled", "secret", "confidential", "undecided", "unfiled"):
        assert public.get(f"/api/public/items/{holdings[key].pk}").status_code == 404
    assert body(public.get("/api/public/items", {"q": "返城安置"}))["items"] == []


def test_use_desk_rule_open_at_once_controlled_by_a_leader_secret_refused(api, holdings):
    a = api("women_staff")
    base = {
        "fonds_id": holdings["open"].fonds_id,
        "reader_name": "王芳",
        "purpose": "marriage",
        "phone": "13912345678",
    }
    # a secret item anywhere in the request refuses all of it
    r = a.post(
        "/use", {**base, "archival_codes": [holdings["open"].archival_code, holdings["secret"].archival_code]}
    )
    assert "涉密档案（秘密）不能通过本系统提供利用" in " ".join(chinese_error(r, 400))
    r = a.post("/use", {**base, "archival_codes": [holdings["confidential"].archival_code]})
    assert "涉密档案（机密）" in chinese_error(r, 400)[0]
    assert (
        not UseRequest.objects.exists()
        and not ChangeLog.objects.filter(action="records.register_use").exists()
    )

    r = a.post(
        "/use",
        {**base, "archival_codes": [holdings["open"].archival_code, holdings["controlled"].archival_code]},
    )
    assert r.status_code == 201, r.content.decode()
    req = body(r)
    assert req["reader_phone"] == "139****5678" and "13912345678" not in r.content.decode()
    lines = {ln["item_id"]: ln for ln in req["lines"]}
    assert lines[holdings["open"].pk]["status"] == "approved" and lines[holdings["open"].pk]["rule"] == "open"
    pending = lines[holdings["controlled"].pk]
    assert pending["status"] == "pending" and pending["rule"] == "leader" and req["is_leader"] is False
    assert ids(a.get("/use", waiting=True)) == [req["id"]]

    # staff cannot decide; an archives leader can, and refusing needs a reason
    r = a.post(f"/use/lines/{pending['id']}/decision", {"approve": True})
    assert chinese_error(r, 403) == ["控制使用的档案须由档案部门领导审批。"]
    lead = api("leader")
    assert chinese_error(lead.post(f"/use/lines/{pending['id']}/decision", {"approve": False}), 400) == [
        "请填写不予提供的理由。"
    ]
    assert UseLine.objects.get(pk=pending["id"]).status == "pending"
    r = lead.post(f"/use/lines/{pending['id']}/decision", {"approve": True, "reason": "同意"})
    assert r.status_code == 200 and body(r)["is_leader"] is True
    assert {ln["item_id"]: ln["status"] for ln in body(r)["lines"]}[holdings["controlled"].pk] == "approved"
    assert ids(a.get("/use", waiting=True)) == []
    assert ChangeLog.objects.filter(action="records.decide_use").count() == 1



def test_a_certificate_is_issued_for_an_approved_line_and_downloaded_as_the_pages_pdf(api, holdings, foreign):
    a = api("women_staff")
    base = {"fonds_id": holdings["open"].fonds_id, "reader_name": "王芳", "purpose": "marriage"}
    req = body(a.post("/use", {**base, "archival_codes": [holdings["open"].archival_code,
                                                           holdings["controlled"].archival_code]}))
    lines = {ln["item_id"]: ln for ln in req["lines"]}
    pending = lines[holdings["controlled"].pk]["id"]
    assert chinese_error(a.post(f"/use/lines/{pending}/certificate"), 400) == ["只能为已批准利用的档案出具证明。"]
    r = a.post(f"/use/lines/{lines[holdings['open'].pk]['id']}/certificate")
    assert r.status_code == 201, r.content.decode()
    cert = body(r)
    assert cert["reader_mask"] == "王*" and cert["archival_code"] == holdings["open"].archival_code
    assert ChangeLog.objects.filter(action="records.issue_certificate").count() == 1
    pdf = a.client.get(cert["pdf_url"])
    data = b"".join(pdf.streaming_content)
    assert pdf.status_code == 200 and data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == cert["sha256"]
    detail = body(a.get(f"/use/{req['id']}"))
    assert [c["code"] for ln in detail["lines"] for c in ln["certificates"]] == [cert["code"]]
    # a foreign county neither reaches the line nor the PDF: 404, as for a missing id
    outsider = api(foreign["user"])
    r = outsider.post(f"/use/lines/{lines[holdings['open'].pk]['id']}/certificate")
    assert chinese_error(r, 404) == [NOT_VISIBLE]
    assert chinese_error(outsider.client.get(cert["pdf_url"]), 404) == [NOT_VISIBLE]
    assert ChangeLog.objects.filter(action="records.issue_certificate").count() == 1

# --- capture and filing -----------------------------------------------------------------------------


def test_capture_with_files_through_the_capture_action(api, fonds, tree):
    a = api("women_staff")
    r = a.post_form(
        "/items",
        {
            "unit_id": tree["women"].pk,
            "title": "关于召开执委会的通知",
            "responsible": "示范县妇联",
            "date": "2024-03-08",
            "doc_no": "县妇发〔2024〕3号",
            "retention": "Y",
            "org_code": "BGS",
            "pages": "2",
            "classification": "internal",
            "source_id": "OA-77",
            "files": [SimpleUploadedFile("通知.pdf", PDF, "application/pdf")],
        },
    )
    assert r.status_code == 201, r.content.decode()
    item = body(r)
    assert item["status"] == "pending" and item["archival_code"] is None and item["fonds_code"] == "J001"
    assert item["year"] == 2024 and item["org_code"] == "BGS" and item["source_type"] == "api"
    assert item["source_id"] == "OA-77" and item["source_repr"] == "接口登记"
    (f,) = item["files"]
    assert f["sm3"] == hashlib.new("sm3", PDF).hexdigest() and f["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert ChangeLog.objects.filter(action="records.capture_record", object_id=str(item["id"])).count() == 1


def test_capture_refusals_change_nothing(api, fonds, tree):
    a = api("women_staff")
    base = {"unit_id": tree["women"].pk, "title": "题名", "responsible": "责任者", "date": "2024-01-01"}
    r = a.post_form("/items", {**base, "files": [SimpleUploadedFile("假.pdf", b"not a pdf at all")]})
    assert chinese_error(r, 400) == ["文件“假.pdf”的内容与扩展名 .pdf 不符或文件已损坏。"]
    r = a.post_form("/items", {**base, "org_code": "XXX"})
    assert chinese_error(r, 400) == ["全宗J001没有机构（问题）代码“XXX”。"]
    r = a.post_form("/items", {**base, "category": "NOPE"})
    assert chinese_error(r, 400) == ["门类代码“NOPE”不存在。"]
    assert "title" in chinese_error(a.post_form("/items", {**base, "title": ""}), 422)[0]
    # read-only: the leader sees the unit but may not capture into it
    assert chinese_error(api("leader").post_form("/items", base), 403)
    assert (
        not Item.objects.exists() and not ChangeLog.objects.filter(action="records.capture_record").exists()
    )


def test_filing_via_the_api_gives_gapless_codes(api, capture):
    a = api("women_staff")
    first = [capture(date=dt.date(2023, m, 1)) for m in (5, 3, 4)]
    r = a.post("/items/file", {"item_ids": [i.pk for i in first]})
    assert r.status_code == 200, r.content.decode()
    out = body(r)
    assert out["count"] == 3 and out["classes"] == [
        {
            "prefix": "J001-WS·2023-Y-BGS",
            "first": 1,
            "last": 3,
            "item_ids": [first[1].pk, first[2].pk, first[0].pk],
        }
    ]
    assert [(x["id"], x["piece_no"]) for x in out["items"]] == [
        (first[1].pk, 1),
        (first[2].pk, 2),
        (first[0].pk, 3),
    ]
    assert out["items"][0]["archival_code"] == "J001-WS·2023-Y-BGS-0001"
    (run,) = out["checks"]
    assert run["phase"] == "filing" and run["item_count"] == 3
    # the next batch continues the class: no gap, no repeat
    later = [capture(date=dt.date(2023, 1, 1)), capture(date=dt.date(2023, 12, 1))]
    out = body(a.post("/items/file", {"item_ids": [i.pk for i in later]}))
    assert [x["piece_no"] for x in out["items"]] == [4, 5]
    pieces = sorted(Item.objects.filter(status="filed").values_list("piece_no", flat=True))
    assert pieces == [1, 2, 3, 4, 5]
    assert {row["archival_code"] for row in body(a.get("/items", status="filed"))["items"]} == {
        f"J001-WS·2023-Y-BGS-000{n}" for n in range(1, 6)
    }


def test_a_refused_filing_changes_nothing_and_answers_400_in_chinese(api, capture, accounts):
    a = api("women_staff")
    good, bad = capture(), capture(pages=None, responsible="")
    before = ChangeLog.objects.count()
    r = a.post("/items/file", {"item_ids": [good.pk, bad.pk]})
    detail = chinese_error(r, 400)
    assert detail == [f"“{bad.title}”（条目 {bad.pk}）缺少必著项：责任者、页数。"]
    assert set(Item.objects.values_list("status", flat=True)) == {"pending"}
    assert not FilingCounter.objects.exists() and not CheckRun.objects.exists()
    assert ChangeLog.objects.count() == before
    assert chinese_error(a.post("/items/file", {"item_ids": []}), 400) == ["请先选择要归档的条目。"]
    assert chinese_error(api("leader").post("/items/file", {"item_ids": [good.pk]}), 403)
    actions.file_items(accounts["women_staff"], [good.pk])
    assert chinese_error(a.post("/items/file", {"item_ids": [good.pk]}), 400)[0].endswith(
        "已归档，不能重复归档。"
    )


# --- 四性检测 -----------------------------------------------------------------------------------------


def test_check_a_fonds_and_read_the_report(api, capture, accounts):
    items = [capture(files=[(f"{n}.pdf", minimal_pdf(b"%d" % n))]) for n in range(2)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    a = api("women_staff")
    r = a.post(f"/fonds/{items[0].fonds_id}/check")
    assert r.status_code == 200, r.content.decode()
    report = body(r)
    assert report["phase"] == "storage" and report["item_count"] == 2 and report["passed"] is True
    codes = [x["code"] for x in report["results"]]
    assert codes[:3] == ["1-1", "1-2", "1-3"] and codes[-1] == "4-2"
    assert body(a.get(f"/checks/{report['id']}")) == report
    assert ids(a.get("/checks", phase="storage")) == [report["id"]]
    # a subset, and a refusal: nothing filed in it
    assert body(a.post(f"/fonds/{items[0].fonds_id}/check", {"item_ids": [items[0].pk]}))["item_count"] == 1
    pending = capture()
    r = a.post(f"/fonds/{items[0].fonds_id}/check", {"item_ids": [pending.pk]})
    assert chinese_error(r, 400) == ["没有可检测的已归档条目。"]
    # read-only accounts find no fonds to check, as on the page
    assert api("leader").post(f"/fonds/{items[0].fonds_id}/check").status_code == 404
    assert CheckRun.objects.count() == 2


# --- 移交/接收 ----------------------------------------------------------------------------------------


@pytest.fixture
def filed(capture, accounts):
    items = [
        capture(date=dt.date(2023, m, 1), files=[(f"{m}.pdf", minimal_pdf(b"%d" % m))]) for m in (3, 4, 5)
    ]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    return list(Item.objects.filter(pk__in=[i.pk for i in items]).order_by("piece_no"))


def test_transfer_round_trip(api, fonds, filed, county_archives):
    unit, archivist = county_archives
    sender, receiver = api("women_staff"), api(archivist)
    r = sender.post(
        "/transfers", {"fonds_id": fonds.pk, "receiver_id": unit.pk, "year": 2023, "retention": "Y"}
    )
    assert r.status_code == 201, r.content.decode()
    batch = body(r)
    assert (
        batch["status"] == "prepared"
        and batch["item_count"] == 3
        and batch["title"] == "示范县群团组织档案移交"
    )
    assert batch["is_sender"] and batch["receiver_name"] == "示范县档案馆"
    assert sorted(batch["archival_codes"]) == sorted(
        i.archival_code for i in Item.objects.filter(status="filed")
    )
    (run,) = batch["checks"]
    assert run["phase"] == "transfer" and run["passed"]
    bid = batch["id"]
    assert ids(receiver.get("/transfers")) == [bid] and ids(sender.get("/transfers", status="prepared")) == [
        bid
    ]

    assert chinese_error(receiver.post(f"/transfers/{bid}/send"), 403)  # the receiver cannot send
    assert body(sender.post(f"/transfers/{bid}/send"))["status"] == "sent"
    assert chinese_error(receiver.post(f"/transfers/{bid}/accept"), 400) == ["请先进行接收检测（四性检测）。"]
    r = receiver.post(f"/transfers/{bid}/check")
    assert r.status_code == 200 and body(r)["phase"] == "receipt" and body(r)["passed"]
    assert (
        body(sender.get(f"/checks/{body(r)['id']}"))["batch_id"] == bid
    )  # the sender reads the receiver's report
    done = body(receiver.post(f"/transfers/{bid}/accept"))
    assert (
        done["status"] == "accepted" and done["is_receiver"] and not done["is_sender"] and done["decided_at"]
    )
    assert set(Custody.objects.values_list("item_id", "unit_id")) == {(i.pk, unit.pk) for i in filed}
    assert body(sender.get(f"/transfers/{bid}"))["status"] == "accepted"
    # nothing is left to transfer: a new batch is refused in Chinese and nothing is written
    r = sender.post("/transfers", {"fonds_id": fonds.pk, "receiver_id": unit.pk, "year": 2023})
    assert chinese_error(r, 400) == ["全宗J001 2023 年度没有可移交的已归档条目。"]
    assert TransferBatch.objects.count() == 1 and CheckRun.objects.count() == 2


def test_each_side_its_own_steps_and_a_return_with_reasons(api, fonds, filed, archives, accounts):
    unit, archivist = archives
    batch = transfer.create_transfer(
        accounts["women_staff"], fonds, receiver=unit, item_ids=[filed[0].pk, filed[1].pk]
    )
    sender, receiver, bid = api("women_staff"), api(archivist), batch.pk
    assert chinese_error(receiver.post(f"/transfers/{bid}/return", {"reason": "缺页"}), 400) == [
        "只有待接收的批次才能退回。"
    ]
    assert chinese_error(receiver.post(f"/transfers/{bid}/send"), 403)
    assert chinese_error(
        api("leader").post(f"/transfers/{bid}/send"), 403
    )  # reads the county, changes nothing
    assert body(sender.post(f"/transfers/{bid}/send"))["status"] == "sent"
    assert chinese_error(sender.post(f"/transfers/{bid}/accept"), 403)
    assert chinese_error(sender.post(f"/transfers/{bid}/return", {"reason": "缺页"}), 403)
    assert chinese_error(receiver.post(f"/transfers/{bid}/return", {"reason": "  "}), 400) == [
        "请填写退回原因。"
    ]
    assert TransferBatch.objects.get(pk=bid).status == "sent"
    r = receiver.post(f"/transfers/{bid}/return", {"reason": "第2件页数不符"})
    assert body(r)["status"] == "returned" and body(r)["is_receiver"]
    assert body(sender.get(f"/transfers/{bid}"))["return_reason"] == "第2件页数不符"
    assert chinese_error(receiver.post(f"/transfers/{bid}/accept"), 400) == ["只有待接收的批次才能接收。"]
    assert api("clerk").get(f"/transfers/{bid}").status_code == 404  # a village clerk is neither side
    assert ChangeLog.objects.filter(action="records.return_transfer").count() == 1


def test_create_transfer_refusals_change_nothing(api, fonds, filed, county_archives):
    sender = api("women_staff")
    unit = county_archives[0]
    r = sender.post(
        "/transfers", {"fonds_id": fonds.pk, "receiver_id": unit.pk, "item_ids": [filed[2].pk, 999999]}
    )
    assert chinese_error(r, 400) == ["有 1 件条目未归档、已移交、正在其他批次中或不属于本全宗，不能移交。"]
    r = sender.post("/transfers", {"fonds_id": fonds.pk, "receiver_id": 999999, "year": 2023})
    assert chinese_error(r, 400) == ["所选接收单位（编号 999999）不是示范县所在地区的档案馆或综合档案室。"]
    r = sender.post("/transfers", {"fonds_id": fonds.pk, "receiver_id": unit.pk})
    assert chinese_error(r, 400) == ["请填写年度（或逐件指定要移交的条目）。"]
    r = sender.post("/transfers", {"fonds_id": fonds.pk, "receiver_id": fonds.unit_id, "year": 2023})
    assert chinese_error(r, 400) == [f"所选接收单位（编号 {fonds.unit_id}）不是示范县所在地区的档案馆或综合档案室。"]
    r = api("leader").post("/transfers", {"fonds_id": fonds.pk, "receiver_id": unit.pk, "year": 2023})
    assert chinese_error(r, 403)
    assert not TransferBatch.objects.exists() and not CheckRun.objects.exists()
    assert not ChangeLog.objects.filter(action="records.create_transfer").exists()


# --- 馆藏统计, pagination, query ceilings ---------------------------------------------------------------


def test_holdings_figures_are_the_report_of_the_page(api, filed, capture, accounts):
    capture()  # one pending
    report = body(api("women_staff").get("/holdings", year=dt.date.today().year))
    expected = holdings.annual_report(accounts["women_staff"], dt.date.today().year)
    (row,) = report["rows"]
    assert row["fonds_code"] == "J001" and row["total"] == 3 and row["y"] == 3 and row["pending"] == 1
    assert row["digitized"] == 3 and row["rate"] == 100.0
    for key in ("total", "pending", "filed_in_year", "digitized", "mb", "pages"):
        assert report["total"][key] == expected["total"][key]
    assert report["by_retention"] == [{"key": "Y", "label": "永久", "n": 3}]
    assert report["by_year"] == [{"key": "2023", "label": "2023年", "n": 3}]
    assert chinese_error(api("women_staff").get("/holdings", year=1800), 422)


def test_items_are_paginated_newest_first(api, capture):
    made = [capture(title=f"分页测试第{n}号") for n in range(5)]
    page = body(api("women_staff").get("/items", limit=2, offset=2))
    assert page["count"] == 5 and [r["id"] for r in page["items"]] == [made[2].pk, made[1].pk]


def test_search_pages_and_snippets(api, capture, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        made = [capture(title=f"关于妇女议事会第{n}次会议的纪要") for n in range(3)]
        capture(title="无关的文件")
    page = body(api("women_staff").get("/items", q="议事会", limit=2))
    assert page["count"] == 3 and [r["id"] for r in page["items"]] == [made[2].pk, made[1].pk]
    assert "<mark>议事会</mark>" in page["items"][0]["snippet"]


def test_query_ceilings(
    api,
    filed,
    capture,
    fonds,
    county_archives,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    a = api("women_staff")
    with django_capture_on_commit_callbacks(execute=True):  # indexed: "?q=" finds all twenty
        for _ in range(20):
            capture()
    unit, _ = county_archives
    a.post("/transfers", {"fonds_id": fonds.pk, "receiver_id": unit.pk, "year": 2023})
    a.post(
        "/use",
        {
            "fonds_id": fonds.pk,
            "reader_name": "甲",
            "purpose": "work",
            "archival_codes": [filed[0].archival_code],
        },
    )
    batch, req = TransferBatch.objects.get(), UseRequest.objects.get()
    for url in (
        "/fonds",
        f"/fonds/{fonds.pk}",
        "/items",
        "/items?q=通知",
        "/items?status=filed&year=2023",
        f"/items/{filed[0].pk}",
        "/checks",
        f"/checks/{CheckRun.objects.first().pk}",
        "/transfers",
        f"/transfers/{batch.pk}",
        "/use",
        f"/use/{req.pk}",
        "/holdings",
    ):
        # token, grants, count and page (or the search's ids and the page), the page's own joins
        with django_assert_max_num_queries(12 if url == "/holdings" else 9):
            assert a.client.get("/api/records" + url).status_code == 200, url


def test_every_operation_has_a_chinese_summary_in_openapi(db):
    paths = body(Client().get("/api/openapi.json"))["paths"]
    ops = [(p, m, op) for p, item in paths.items() if p.startswith("/api/records/") for m, op in item.items()]
    assert len(ops) == 28  # 25 paths; items, transfers and use take GET and POST
    for path, method, op in ops:
        assert CJK.search(op.get("summary", "")), (method, path)
    capture = paths["/api/records/items"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in capture
    assert "multipart/form-data" in paths["/api/records/transfers/upload"]["post"]["requestBody"]["content"]


def test_withdraw_frees_the_items_for_a_new_batch(api, fonds, filed, county_archives):
    sender, unit = api("women_staff"), county_archives[0]
    first = body(sender.post("/transfers", {"fonds_id": fonds.pk, "receiver_id": unit.pk, "year": 2023}))
    again = sender.post("/transfers", {"fonds_id": fonds.pk, "receiver_id": unit.pk, "year": 2023})
    assert chinese_error(again, 400) == [
        "全宗J001 2023 年度没有可移交的已归档条目。"
    ]  # all in the open batch
    assert body(sender.post(f"/transfers/{first['id']}/withdraw"))["status"] == "withdrawn"
    assert chinese_error(sender.post(f"/transfers/{first['id']}/send"), 400) == [
        "只有“已组包”的批次才能移交。"
    ]
    again = sender.post("/transfers", {"fonds_id": fonds.pk, "receiver_id": unit.pk, "year": 2023})
    assert again.status_code == 201 and body(again)["item_count"] == 3


# --- bad input: out-of-range ids, NUL characters, blank text -----------------------------------------

BEYOND = 10**20  # more than any database integer (SQLite cannot even bind it)


def test_ids_beyond_any_database_row_are_refused_in_chinese_not_a_server_error(api, fonds, filed):
    """SQLite raised OverflowError (a 500) on these; PostgreSQL simply found nothing."""
    a = api("women_staff")
    before = ChangeLog.objects.count()
    assert "batch_id" in chinese_error(a.get("/checks", batch_id=BEYOND), 422)[0]
    assert "fonds" in chinese_error(a.get("/use", fonds=BEYOND), 422)[0]
    # a bulk request naming a row that cannot exist: refused as malformed, like any id beyond 2⁶³−1
    assert "item_ids.0" in chinese_error(a.post("/items/file", {"item_ids": [BEYOND]}), 422)[0]
    r = a.post(f"/fonds/{fonds.pk}/check", {"item_ids": [filed[0].pk, BEYOND]})
    assert "item_ids.1" in chinese_error(r, 422)[0]
    r = a.post("/transfers", {"fonds_id": fonds.pk, "receiver_id": fonds.unit_id, "item_ids": [BEYOND]})
    assert "item_ids" in chinese_error(r, 422)[0]
    assert ChangeLog.objects.count() == before and not TransferBatch.objects.exists()
    assert not CheckRun.objects.filter(phase="storage").exists()


def test_a_nul_character_is_refused_in_chinese_and_changes_nothing(api, fonds, tree):
    """PostgreSQL cannot store U+0000 (it answered 500); the pages' forms refuse it too."""
    a = api("women_staff")
    before = ChangeLog.objects.count()
    assert "q" in chinese_error(a.get("/items", q="\x00"), 400)[0]
    r = a.post(
        "/use", {"fonds_id": fonds.pk, "reader_name": "王\x00芳", "purpose": "work", "archival_codes": []}
    )
    assert "reader_name" in chinese_error(r, 400)[0]
    r = a.post_form(
        "/items",
        {"unit_id": tree["women"].pk, "title": "题\x00名", "responsible": "某", "date": "2024-01-01"},
    )
    assert "title" in chinese_error(r, 400)[0]
    assert (
        ChangeLog.objects.count() == before and not Item.objects.exists() and not UseRequest.objects.exists()
    )
    # the bytes of an uploaded file are not text: a PDF (NUL bytes and all) is still captured
    pdf = PDF + b"\x00\x00"
    r = a.post_form(
        "/items",
        {
            "unit_id": tree["women"].pk,
            "title": "题名",
            "responsible": "某",
            "date": "2024-01-01",
            "files": [SimpleUploadedFile("a.pdf", pdf, "application/pdf")],
        },
    )
    assert r.status_code == 201, r.content.decode()


def test_a_blank_title_or_responsible_is_refused_like_the_capture_page(api, fonds, tree):
    """The page's form strips text and requires 题名 and 责任者; "   " got through the API and
    the item could then be filed with a blank 题名."""
    a = api("women_staff")
    base = {"unit_id": tree["women"].pk, "title": "题名", "responsible": "某", "date": "2024-01-01"}
    assert "title" in chinese_error(a.post_form("/items", {**base, "title": "   "}), 422)[0]
    assert "responsible" in chinese_error(a.post_form("/items", {**base, "responsible": " \t"}), 422)[0]
    assert not Item.objects.exists()
    r = a.post_form("/items", {**base, "title": "  关于召开执委会的通知  "})
    assert r.status_code == 201 and body(r)["title"] == "关于召开执委会的通知"


def test_renumber_through_the_api_keeps_the_class_gapless_and_logs_the_reason(api, capture, foreign):
    a = api("women_staff")
    made = [capture(date=dt.date(2023, m, 1)) for m in (1, 2, 3)]
    body(a.post("/items/file", {"item_ids": [i.pk for i in made]}))
    last = made[2]
    r = a.post(f"/items/{last.pk}/renumber", {"piece_no": 1, "reason": "发文日期登记有误"})
    assert r.status_code == 200, r.content.decode()
    assert body(r)["piece_no"] == 1 and body(r)["archival_code"] == "J001-WS·2023-Y-BGS-0001"
    assert [Item.objects.get(pk=i.pk).piece_no for i in made] == [2, 3, 1]
    log = ChangeLog.objects.filter(action="records.renumber_item").get()
    assert log.after["reason"] == "发文日期登记有误"
    assert chinese_error(a.post(f"/items/{last.pk}/renumber", {"piece_no": 1, "reason": "再调"}), 400)
    assert chinese_error(a.post(f"/items/{last.pk}/renumber", {"piece_no": 2}), 422)  # no reason
    before = list(Item.objects.order_by("pk").values_list("pk", "piece_no"))
    r = a.post(f"/items/{foreign['filed'].pk}/renumber", {"piece_no": 1, "reason": "越权"})
    assert chinese_error(r, 404)
    assert list(Item.objects.order_by("pk").values_list("pk", "piece_no")) == before


def test_offline_transfer_through_the_api_download_then_upload(api, fonds, filed, county_archives, tree):
    unit, archivist = county_archives
    sender, receiver = api("women_staff"), api(archivist)
    batch = body(sender.post("/transfers", {"fonds_id": fonds.pk, "receiver_id": unit.pk, "year": 2023}))
    r = sender.client.get(f"/api/records/transfers/{batch['id']}/package")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    package = b"".join(r.streaming_content)
    assert zipfile.ZipFile(io.BytesIO(package)).read("bagit.txt").startswith(b"BagIt-Version")
    assert chinese_error(api("clerk").client.get(f"/api/records/transfers/{batch['id']}/package"), 404)

    n = TransferBatch.objects.count()
    bad = SimpleUploadedFile("package.zip", b"not a zip at all", content_type="application/zip")
    r = receiver.post_form("/transfers/upload", {"receiver_id": unit.pk, "package": bad})
    assert chinese_error(r, 400) and TransferBatch.objects.count() == n
    upload = SimpleUploadedFile("package.zip", package, content_type="application/zip")
    r = receiver.post_form("/transfers/upload", {"receiver_id": unit.pk, "title": "离线带来的数据包", "package": upload})
    assert r.status_code == 201, r.content.decode()
    got = body(r)
    assert got["status"] == "sent" and got["is_receiver"] and got["title"] == "离线带来的数据包"
    assert got["item_count"] == 3 and got["checks"][0]["phase"] == "receipt" and got["checks"][0]["passed"]
    # a unit outside the uploader's grant: the same answer as a missing one, nothing written
    upload = SimpleUploadedFile("package.zip", package, content_type="application/zip")
    r = receiver.post_form("/transfers/upload", {"receiver_id": tree["other_women"].pk, "package": upload})
    assert chinese_error(r, 400) and TransferBatch.objects.count() == n + 1
