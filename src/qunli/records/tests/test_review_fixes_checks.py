"""Reviewer's findings on 四性检测, transfer receipt, the item and fixity pages, destruction
notices, the 归档文件目录 and small form slips: each test names the behaviour it keeps."""

import datetime as dt
import io
import re

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from qunli.core.actions import ActionError
from qunli.records import actions, checks, destruction, fixity, offsite, printing, transfer, use
from qunli.records.checks import size_label
from qunli.records.models import CheckRun, Item, TransferBatch
from qunli.records.tests.samples import minimal_pdf
from qunli.records.tests.test_transfer import package_bytes, upload

PDF = minimal_pdf(b"review")


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "storage")}}}
    settings.QUNLI_OFFSITE = ""  # no off-site copy unless a test gives one


@pytest.fixture
def no_scanner(monkeypatch):
    """No ClamAV on the machine: the virus scan (4-1) is not performed."""
    monkeypatch.setattr(checks.shutil, "which", lambda name: None)


def _rec(piece: int, org: str = "BGS") -> checks.ItemRec:
    meta = {"fonds_code": "J001", "category": "WS", "year": 2023, "retention": "Y", "org": org, "piece_no": piece,
            "title": f"第{piece}件", "responsible": "示范县妇联", "date": "2023-03-01", "classification": "internal",
            "openness": "pending", "pages": 1}
    meta["archival_code"] = checks.expected_code(meta)
    return checks.ItemRec(label=meta["archival_code"], meta=meta, events=1)


def _result(results, code: str) -> checks.Result:
    return next(r for r in results if r.code == code)


def status_of(run: CheckRun) -> dict:
    return {r["code"]: r["status"] for r in run.results}


# --- 1. 件号 gaps start at 0001 ------------------------------------------------------------------

def test_a_missing_first_piece_is_a_gap(db):
    r = _result(checks.run_checks([_rec(2), _rec(3)]), "2-4")
    assert r.status == checks.FAILED
    assert "缺号 1 个（0001）" in "".join(r.failures)


def test_a_missing_first_piece_that_was_destroyed_is_no_gap(db):
    destroyed = {("J001", "WS", 2023, "Y", "BGS"): {1}}
    r = _result(checks.run_checks([_rec(2), _rec(3)], destroyed=destroyed), "2-4")
    assert r.status == checks.PASSED, r.failures


def test_gaps_are_counted_per_class_from_0001(db):
    r = _result(checks.run_checks([_rec(1), _rec(2), _rec(3, org="QYB")]), "2-4")
    assert r.status == checks.FAILED
    text = "".join(r.failures)
    assert "QYB" in text and "0001、0002" in text and "BGS：" not in text.replace("QYB", "")


def test_the_filing_check_of_a_later_filing_counts_the_pieces_filed_before(capture, accounts):
    staff = accounts["women_staff"]
    actions.file_items(staff, [capture().pk, capture().pk])
    later = [capture().pk, capture().pk]
    actions.file_items(staff, later)
    assert sorted(Item.objects.filter(pk__in=later).values_list("piece_no", flat=True)) == [3, 4]
    [run] = transfer.check_after_filing(staff, later)
    assert status_of(run)["2-4"] == "passed", run.results


def test_a_later_batch_of_a_class_counts_the_pieces_an_archives_already_received(fonds, capture, accounts, archives):
    unit, archivist = archives
    staff = accounts["women_staff"]
    first = [capture(files=[(f"{n}.pdf", minimal_pdf(b"%d" % n))]) for n in range(2)]
    actions.file_items(staff, [i.pk for i in first])
    batch = transfer.send_transfer(staff, transfer.create_transfer(staff, fonds, receiver=unit,
                                                                   item_ids=[i.pk for i in first]))
    assert transfer.check_receipt(archivist, batch).passed
    transfer.accept_transfer(archivist, batch)
    later = [capture(files=[(f"后{n}.pdf", minimal_pdf(b"later%d" % n))]) for n in range(2)]
    actions.file_items(staff, [i.pk for i in later])  # 0003 and 0004 of the same class
    second = transfer.create_transfer(staff, fonds, receiver=unit, item_ids=[i.pk for i in later])
    run = second.check_runs.get()
    assert status_of(run)["2-4"] == "passed", run.results
    transfer.send_transfer(staff, second)
    assert status_of(transfer.check_receipt(archivist, second))["2-4"] == "passed"
    # offline too: the receiver already holds 0001 and 0002 of that class
    TransferBatch.objects.filter(pk=second.pk).update(status="returned")
    offline = upload(archives, package_bytes(second)).check_runs.get()
    assert status_of(offline)["2-4"] == "passed", offline.results


# --- 2. not performed never reads as 通过 ---------------------------------------------------------

def test_the_verdict_names_the_items_not_performed():
    skipped = [{"status": "passed", "name": "总件数相符"}, {"status": "not_performed", "name": "病毒检测"}]
    assert checks.verdict(True, skipped) == "通过（1 项未执行：病毒检测）"
    assert checks.verdict(False, skipped) == "不通过（另有 1 项未执行：病毒检测）"
    assert checks.verdict(True, skipped[:1]) == "通过"


def test_a_run_without_a_virus_scanner_is_headed_passed_with_the_scan_not_performed(fonds, capture, accounts,
                                                                                     client_for, no_scanner):
    staff = accounts["women_staff"]
    item = capture(files=[("a.pdf", PDF)])
    actions.file_items(staff, [item.pk])
    run = transfer.check_holdings(staff, fonds)
    assert run.passed and run.not_performed_items == 1  # not a blocking failure
    headline = "通过（1 项未执行：病毒检测）"
    assert run.verdict == headline
    c = client_for(staff)
    page = c.get(run.get_absolute_url()).content.decode()
    assert headline in page and '<span class="badge text-bg-success">通过</span>' not in page
    listed = c.get(reverse("records:check_list")).content.decode()
    assert headline in listed
    xlsx = c.get(reverse("records:check_xlsx", args=[run.pk]))
    rows = list(openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active.values)
    assert rows[1][1] == "总体结论" and rows[1][3] == headline
    html = c.get(reverse("records:check_pdf", args=[run.pk]))
    assert html.content.startswith(b"%PDF")
    if printing.cjk_font() is not None:  # the text of a PDF printed without CJK fonts is empty boxes
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(html.content)
        text = "".join(pdf[i].get_textpage().get_text_bounded() for i in range(len(pdf)))
        assert "结论：通过（1项未执行：病毒检测）" in re.sub(r"\s+", "", text)


def test_the_filing_notice_says_what_was_not_performed(client, capture, accounts, no_scanner):
    items = [capture(files=[("a.pdf", PDF)])]
    client.force_login(accounts["women_staff"])
    r = client.post(reverse("records:file_items"), {"pk": [str(i.pk) for i in items]}, follow=True)
    assert "归档检测（四性检测）通过（1 项未执行：病毒检测）" in r.content.decode()


def test_transfer_and_receipt_messages_and_batch_checks_say_what_was_not_performed(
        client, fonds, capture, accounts, county_archives, no_scanner):
    unit, archivist = county_archives
    staff = accounts["women_staff"]
    actions.file_items(staff, [capture(files=[("a.pdf", PDF)]).pk])
    client.force_login(staff)
    r = client.post(reverse("records:transfer_add"), {"fonds": fonds.pk, "year": 2023, "retention": "Y",
                                                     "receiver": unit.pk, "title": ""}, follow=True)
    assert "移交检测通过（1 项未执行：病毒检测），可以移交" in r.content.decode()
    batch = TransferBatch.objects.get()
    page = client.get(batch.get_absolute_url() + "?tab=checks").content.decode()
    assert "通过（1 项未执行：病毒检测）" in page
    transfer.send_transfer(staff, batch)  # not performed does not block
    client.force_login(archivist)
    r = client.post(reverse("records:transfer_check", args=[batch.pk]), follow=True)
    assert "接收检测已完成：通过（1 项未执行：病毒检测）" in r.content.decode()


# --- 3. the receive page explains receipt --------------------------------------------------------

def test_the_receive_page_explains_receipt_not_packaging(client_for, archives, accounts):
    unit, archivist = archives
    page = client_for(archivist).get(reverse("records:transfer_receive")).content.decode()
    assert "上传后立即进行接收检测" in page and "检测报告逐项列出问题" in page and "退回移交单位并说明原因" in page
    assert "组包时逐个读取电子文件" not in page and "批次不能移交" not in page
    sender = client_for(accounts["women_staff"]).get(reverse("records:transfer_add")).content.decode()
    assert "组包时逐个读取电子文件" in sender and "上传后立即进行接收检测" not in sender


# --- 4. the item page --------------------------------------------------------------------------

def test_the_item_page_names_the_source_in_chinese_only(client_for, capture, accounts):
    manual = capture(source={"source_type": "manual", "source_repr": "手工登记"})
    case = capture(source={"source_type": "casework.case", "source_id": "7", "source_repr": "关于张某诉求的个案"})
    c = client_for(accounts["women_staff"])
    page = c.get(reverse("records:item_detail", args=[manual.pk])).content.decode()
    assert "<dd class=\"col-sm-10\">手工登记</dd>" in page and "manual" not in page
    page = c.get(reverse("records:item_detail", args=[case.pk])).content.decode()
    assert "关于张某诉求的个案" in page and "（个案）" in page and "casework.case" not in page


def test_the_item_page_caps_scanned_pages_as_the_fonds_page_does_and_warns(client_for, capture, accounts, fonds):
    item = capture(pages=2)
    Item.objects.filter(pk=item.pk).update(scanned_pages=3)
    c = client_for(accounts["women_staff"])
    page = c.get(reverse("records:item_detail", args=[item.pk])).content.decode()
    assert "已数字化 2 / 2 页（100.0%）" in page and "3 / 2" not in page
    assert "扫描页数（3 页）多于著录页数（2 页），请核对页数" in page
    fonds_page = c.get(reverse("records:digitization", args=[fonds.pk])).content.decode()
    assert "<td>2</td><td>2</td><td>100.0%</td>" in fonds_page  # pages, scanned (capped), rate
    assert "有 1 件扫描页数多于著录页数，请核对页数" in fonds_page
    assert f'<a href="{item.get_absolute_url()}">' in fonds_page and "（著录 2 页，扫描 3 页）" in fonds_page


# --- 5. fixity counts and destruction notices -----------------------------------------------------

def test_sizes_show_one_decimal_and_kb_under_a_megabyte():
    assert size_label(int(0.3 * 1024 * 1024)) == "307.2 KB"
    assert size_label(int(1.5 * 1024 * 1024)) == "1.5 MB"
    assert size_label(3 * 1024 ** 3) == "3.0 GB"


def test_fixity_counts_are_all_of_files_and_add_up(client_for, capture, accounts):
    same = minimal_pdf(b"same content")
    capture(files=[("a.pdf", same)])
    capture(files=[("b.pdf", same)])  # the same bytes: one stored object, two files
    capture(files=[("c.pdf", PDF)])
    run = fixity.run_fixity(mode="all")
    assert run.objects_checked == 2 and run.ok_count == 3
    page = client_for(accounts["women_staff"]).get(reverse("records:fixity")).content.decode()
    assert "电子文件（个）" in page and "读取数据量" in page
    row = page[page.index(f'href="?run={run.pk}"'):]
    row = row[:row.index("</tr>")]
    cells = re.findall(r'<td class="text-end[^"]*">(.*?)</td>', row, re.S)
    assert cells[:4] == ["3", "3", "0", "0"]  # checked = consistent + mismatched + missing
    assert re.match(r"\d+\.\d KB<div", cells[4]) and "2 个存储对象" in cells[4]


def _approved_batch(accounts, items, title="第1批"):
    staff = accounts["women_staff"]
    ids = [i.pk for i in items]
    destruction.appraise(staff, ids, decision="destroy", reason="已无保存价值", year=2026)
    batch = destruction.propose_destruction(staff, items[0].fonds, ids, title=title, reason="保管期满")
    destruction.decide_destruction(accounts["leader"], batch, approve=True, note="同意")
    return batch


@pytest.fixture
def expired(capture, accounts):
    made = [capture(date=dt.date(2014, 5, 1), retention="D10", files=[("a.pdf", PDF)]),
            capture(date=dt.date(2014, 6, 1), retention="D10")]
    actions.file_items(accounts["women_staff"], [i.pk for i in made])
    return [Item.objects.get(pk=i.pk) for i in made]


def test_destroying_items_without_files_says_there_were_none(client_for, accounts, expired,
                                                            django_capture_on_commit_callbacks):
    batch = _approved_batch(accounts, expired[1:])
    c = client_for(accounts["women_staff"])
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(reverse("records:destruction_execute", args=[batch.pk]), follow=True)
    page = r.content.decode()
    assert "1 件条目均没有电子文件，无文件可删除" in page and "异地备份删除" not in page
    item_page = c.get(reverse("records:item_detail", args=[expired[1].pk])).content.decode()
    assert "销毁时该件没有电子文件" in item_page and "电子文件已删除" not in item_page


def test_destroying_without_an_off_site_copy_says_so(client_for, accounts, expired, django_capture_on_commit_callbacks):
    batch = _approved_batch(accounts, expired)
    c = client_for(accounts["women_staff"])
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(reverse("records:destruction_execute", args=[batch.pk]), follow=True)
    page = r.content.decode()
    assert "2 件条目的 1 个电子文件已从主存储（未配置异地备份，没有异地副本）删除" in page
    assert "主存储和异地备份" not in page


def test_destroying_with_an_off_site_copy_says_both_storages(accounts, expired, tmp_path,
                                                             django_capture_on_commit_callbacks):
    store = offsite.FileStore(tmp_path / "offsite")
    offsite.sync(store=store)
    name = expired[0].files.get().storage_name
    batch = _approved_batch(accounts, expired)
    with django_capture_on_commit_callbacks(execute=True):
        batch = destruction.execute_destruction(accounts["women_staff"], batch, store=store)
    assert destruction.execution_message(batch) == \
        "已执行销毁：2 件条目的 1 个电子文件已从主存储和异地备份删除；目录条目保留并标注“已销毁”。"
    assert not default_storage.exists(name) and not store.exists(name)


# --- 6. the 归档文件目录 per class ----------------------------------------------------------------

@pytest.fixture
def two_classes(fonds, capture, accounts):
    """2023 永久: two items of 办公室 (BGS), three of 权益部 (QYB) — 件号 1, 2 and 1, 2, 3."""
    staff = accounts["women_staff"]
    actions.add_org_code(staff, fonds, code="QYB", name="权益部")
    made = [capture(title=f"办公室文件{n}") for n in range(2)] + \
        [capture(title=f"权益部文件{n}", org_code="QYB") for n in range(3)]
    actions.file_items(staff, [i.pk for i in made])
    return made


def test_the_catalogue_xlsx_has_a_sheet_per_class_with_its_heading(client_for, accounts, fonds, two_classes):
    r = client_for(accounts["women_staff"]).get(reverse("records:catalogue", args=[fonds.pk]),
                                                {"year": 2023, "retention": "Y", "category": "WS"})
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    assert wb.sheetnames == ["WS·2023-Y-BGS", "WS·2023-Y-QYB"]
    for name, org, titles in (("WS·2023-Y-BGS", "办公室（BGS）", ["办公室文件0", "办公室文件1"]),
                              ("WS·2023-Y-QYB", "权益部（QYB）", ["权益部文件0", "权益部文件1", "权益部文件2"])):
        rows = list(wb[name].iter_rows(values_only=True))
        assert rows[0][0] == "归档文件目录"
        assert f"机构（问题）：{org}" in rows[1][0] and "年度：2023" in rows[1][0] and "保管期限：永久" in rows[1][0]
        assert rows[2][:2] == ("件号", "档号")
        assert [row[0] for row in rows[3:]] == list(range(1, len(titles) + 1))
        assert sorted(row[4] for row in rows[3:]) == titles
        assert all(row[1].startswith(f"J001-{name}-") for row in rows[3:])


def test_the_catalogue_pdf_prints_each_class_as_its_own_section(client_for, accounts, fonds, two_classes):
    classes = list(printing.catalogue_classes(fonds, printing.selection(
        accounts["women_staff"], fonds, 2023, "Y", "WS", printing.PRINTS["catalogue"].statuses), 2023, "Y"))
    assert [c.heading for c in classes] == ["文书（WS） · 2023年度 · 永久 · 机构（问题）：办公室（BGS）",
                                            "文书（WS） · 2023年度 · 永久 · 机构（问题）：权益部（QYB）"]
    assert [[i.piece_no for i in c.items] for c in classes] == [[1, 2], [1, 2, 3]]
    if printing.cjk_font() is None:
        pytest.skip("no CJK font: the PDF text cannot be read back")
    import pypdfium2 as pdfium

    r = client_for(accounts["women_staff"]).get(reverse("records:catalogue_pdf", args=[fonds.pk]),
                                                {"year": 2023, "retention": "Y", "category": "WS"})
    pdf = pdfium.PdfDocument(r.content)
    pages = [re.sub(r"\s+", "", pdf[i].get_textpage().get_text_bounded()) for i in range(len(pdf))]
    assert len(pages) == 2  # a class per page here (each class starts a new page)
    assert "办公室（BGS）" in pages[0] and "权益部文件" not in pages[0]
    assert "权益部（QYB）" in pages[1] and "办公室文件" not in pages[1]


def test_an_unknown_category_code_is_refused_in_chinese(client_for, accounts, fonds, two_classes):
    c = client_for(accounts["women_staff"])
    for name in ("records:catalogue", "records:catalogue_pdf"):
        r = c.get(reverse(name, args=[fonds.pk]), {"year": 2023, "retention": "Y", "category": "XX"}, follow=True)
        assert "门类代码“XX”不存在，请从门类列表中选择。" in r.content.decode()
    with pytest.raises(ActionError, match="门类代码“zp”不存在"):
        printing.start_print_job(accounts["women_staff"], fonds, "catalogue", year=2023, retention="Y", category="zp")


# --- 7. small slips -------------------------------------------------------------------------------

def test_the_catalogue_form_has_no_ascii_colons_and_offers_the_categories(client_for, accounts, fonds):
    page = client_for(accounts["women_staff"]).get(reverse("records:fonds_detail", args=[fonds.pk])).content.decode()
    form = page[page.index('action="' + reverse("records:catalogue", args=[fonds.pk])):]
    form = form[:form.index("</form>")]
    assert ">年度</label>" in form and ">保管期限</label>" in form and ">门类</label>" in form
    assert not re.search(r"[^\s<>]:</label>", form)
    assert '<option value="WS" selected>文书（WS）</option>' in form and '<option value="ZP">照片（ZP）</option>' in form


def test_the_use_rule_of_a_pending_item_says_pending_not_controlled(client_for, accounts, fonds, capture):
    staff = accounts["women_staff"]
    pending, controlled = capture(openness="pending"), capture(openness="controlled")
    actions.file_items(staff, [pending.pk, controlled.pk])
    items = list(Item.objects.filter(pk__in=[pending.pk, controlled.pk]))
    assert {use.rule_for(i, online=False) for i in items} == {"leader"}  # the rule: a leader decides both
    req = use.register_use(staff, fonds=fonds, reader_name="李建国", purpose="marriage", phone="13912345678",
                           items=items)
    page = client_for(staff).get(req.get_absolute_url()).content.decode()
    row = {i.pk: page[page.index(f'href="{i.get_absolute_url()}"'):] for i in items}
    pending_row = row[pending.pk][:row[pending.pk].index("</tr>")]
    controlled_row = row[controlled.pk][:row[controlled.pk].index("</tr>")]
    assert "待定（未经开放鉴定，须档案部门领导审批）" in pending_row and "控制使用" not in pending_row
    assert "控制使用（须档案部门领导审批）" in controlled_row
    api = client_for(staff).get(f"/api/records/use/{req.pk}").json()
    assert {ln["rule_display"] for ln in api["lines"]} == {"未开放档案（须档案部门领导审批）"}  # true of both
