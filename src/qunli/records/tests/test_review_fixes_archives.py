"""Reviewer's findings on the archives pages (second review): re-uploaded scans, the read-only
scan page, the files tab, the full-text snippet, fixity problems once each, the 销毁清册
workbook, the 备注 in the index and the reading room's expiry. Each test names the behaviour."""

import datetime as dt
import io
import re

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from qunli.core import search as fulltext
from qunli.core.models import ChangeLog
from qunli.records import actions, capture_actions, destruction, fixity, offsite
from qunli.records import search as records_search
from qunli.records.models import Item, ItemFile, PreservationEvent
from qunli.records.tests.samples import docx, jpeg, minimal_pdf

PDF = minimal_pdf(b"archives review")


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "storage")}}}
    settings.QUNLI_OFFSITE = ""


def _filed(capture, accounts, n=1, **kw):
    items = [capture(**kw) for _ in range(n)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    return [Item.objects.select_related("fonds__unit").get(pk=i.pk) for i in items]


# --- scans by 档号 ---------------------------------------------------------------------------------

def test_a_scan_already_on_the_item_is_skipped_never_attached_twice(capture, accounts):
    staff = accounts["women_staff"]
    (a,) = _filed(capture, accounts)
    first = capture_actions.attach_scans(staff, [(f"{a.archival_code}.pdf", PDF)])
    assert first.ok and len(first.attached) == 1
    # the same bytes again, alone and beside a new page; and twice within one upload
    again = capture_actions.attach_scans(staff, [(f"{a.archival_code}.pdf", PDF),
                                                 (f"{a.archival_code}_2.jpg", jpeg()),
                                                 (f"{a.archival_code}_3.jpg", jpeg())])
    assert again.ok
    assert again.attached == [(f"{a.archival_code}_2.jpg", a.archival_code)]
    assert [n for n, _ in again.skipped] == [f"{a.archival_code}.pdf", f"{a.archival_code}_3.jpg"]
    assert ItemFile.objects.filter(item=a).count() == 2
    assert Item.objects.get(pk=a.pk).scanned_pages == 2  # one PDF page, one image: not 4
    only_dupes = capture_actions.attach_scans(staff, [(f"{a.archival_code}.pdf", PDF)])
    assert only_dupes.ok and not only_dupes.attached and len(only_dupes.skipped) == 1
    assert ChangeLog.objects.filter(action="records.attach_scans").count() == 2  # nothing written, nothing logged


def test_scan_upload_page_says_a_repeated_file_was_not_attached_again(client_for, capture, accounts):
    (a,) = _filed(capture, accounts)
    c = client_for(accounts["women_staff"])
    url = reverse("records:scan_upload")
    c.post(url, {"files": [SimpleUploadedFile(f"{a.archival_code}.pdf", PDF, "application/pdf")]})
    page = c.post(url, {"files": [SimpleUploadedFile(f"{a.archival_code}.pdf", PDF, "application/pdf")]}
                  ).content.decode()
    assert "已挂接过相同文件，未重复挂接" in page and "已挂接 0 个扫描件" not in page
    assert a.files.count() == 1


def test_a_read_only_account_is_refused_the_scan_upload_page(client_for, accounts):
    c = client_for(accounts["leader"])
    for r in (c.get(reverse("records:scan_upload")),
              c.post(reverse("records:scan_upload"), {"files": [SimpleUploadedFile("x.pdf", PDF)]})):
        assert r.status_code == 403 and "只有查看权限" in r.content.decode()
    assert client_for(accounts["women_staff"]).get(reverse("records:scan_upload")).status_code == 200


# --- the item page ------------------------------------------------------------------------------------

def test_files_tab_shows_format_names_and_sizes_in_kb_or_mb(client_for, capture, accounts):
    big = minimal_pdf(b"x" * (3 * 1024 * 1024))
    item = capture(files=[("正文.docx", docx("正文")), ("扫描.pdf", big)])
    page = client_for(accounts["women_staff"]).get(item.get_absolute_url() + "?tab=files").content.decode()
    table = page[page.index("<table"):page.index("</table>")]
    assert "wordprocessingml" not in table and "application/pdf" not in table and "大小（字节）" not in table
    cells = re.findall(r"<td>(DOCX|PDF)</td>", table)
    assert cells == ["DOCX", "PDF"]
    assert re.search(r">\d+\.\d KB</td>", table) and re.search(r">3\.0 MB</td>", table)


# --- search ----------------------------------------------------------------------------------------------

def test_the_note_is_in_the_staff_full_text_index_not_the_public_catalogue(capture, accounts,
                                                                           django_capture_on_commit_callbacks):
    staff = accounts["women_staff"]
    with django_capture_on_commit_callbacks(execute=True):
        item = capture(note="已获人身安全保护令并安置")
    fulltext.drain()

    def hits(kind, q):
        return [h.pk for h in fulltext.search(kind, q, Item.objects.visible_to(staff), snippets=False)]

    assert hits(records_search.KIND, "人身安全保护令") == [item.pk]
    assert hits(records_search.CATALOGUE_KIND, "人身安全保护令") == []  # a staff remark is not published
    with django_capture_on_commit_callbacks(execute=True):
        actions.update_item(staff, Item.objects.get(pk=item.pk), note="已转介心理咨询")
    fulltext.drain()
    assert hits(records_search.KIND, "心理咨询") == [item.pk] and hits(records_search.KIND, "保护令") == []
    assert not fulltext.check(records_search.KIND)
    Item.objects.filter(pk=item.pk).update(note="改在索引背后")  # the drift check sees a note changed behind it
    assert fulltext.check(records_search.KIND).stale == [item.pk]


def test_search_snippet_comes_after_code_and_title_clamped_to_two_lines(client_for, capture, accounts,
                                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        (item,) = _filed(capture, accounts, title="关于召开妇女代表大会的通知",
                         note="巾帼建功" + "，会议议程与代表名额分配详见附件" * 12)
    fulltext.drain()
    page = client_for(accounts["women_staff"]).get(reverse("records:item_list") + "?q=巾帼建功").content.decode()
    heads = re.findall(r'<th scope="col">(?:<a [^>]*>)?([^<]+)', page)
    assert [h.strip() for h in heads[:3]] == ["档号", "题名", "匹配内容"]
    assert "td:has(> a > mark)" in page and "-webkit-line-clamp: 2" in page and "white-space: normal" in page
    row = page[page.index(f'name="pk" value="{item.pk}"'):]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row[:row.index("</tr>")], re.S)
    assert item.archival_code in cells[0] and "妇女代表大会" in cells[1]
    assert re.match(r'<a href="[^"]+">[^<]*<mark>巾帼建功</mark>', cells[2])  # the clamped cell: a link holding a mark
    snippet = re.sub(r"<[^>]+>", "", cells[2])
    assert snippet.index("巾帼建功") <= 16 and len(snippet) <= 2 * 24 + 2  # the match early in a short cut


# --- fixity ---------------------------------------------------------------------------------------------------

def _flip_a_byte(name):
    path = default_storage.path(name)
    data = bytearray(open(path, "rb").read())
    data[100] ^= 0x01
    open(path, "wb").write(bytes(data))


def test_fixity_page_lists_an_open_problem_once_and_a_restored_one_as_settled(client_for, capture, accounts,
                                                                             settings, tmp_path):
    settings.QUNLI_OFFSITE = f"file://{tmp_path / 'offsite'}"
    item = capture(files=[("a.pdf", PDF)])
    capture(files=[("b.pdf", minimal_pdf(b"other"))])
    offsite.sync()
    name = item.files.get().storage_name
    _flip_a_byte(name)
    for _ in range(3):
        fixity.run_fixity(mode="all")
    assert PreservationEvent.objects.filter(outcome="mismatch").count() == 3
    c = client_for(accounts["women_staff"])

    def problems_table():
        page = c.get(reverse("records:fixity")).content.decode()
        return page, page[page.index('id="fixity-problems"'):].split("</table>")[0]

    page, table = problems_table()
    assert table.count("摘要不符") == 1 and table.count("从异地恢复") == 1 and "连续 3 次发现" in table
    event = PreservationEvent.objects.filter(outcome="mismatch").first()
    assert c.post(reverse("records:fixity_restore", args=[event.pk])).status_code == 302
    page, table = problems_table()
    assert "摘要不符" not in table and "从异地恢复" not in table and "没有待处理的问题" in table
    settled = page[page.index('id="fixity-settled"'):].split("</table>")[0]
    assert "已恢复" in settled and str(item) in settled
    run_page = c.get(reverse("records:fixity") + f"?run={event.run_id}").content.decode()
    assert "已恢复" in run_page and "从异地恢复</button>" not in run_page
    fixity.run_fixity(mode="all")  # the restored file is good again: still nothing open
    assert "没有待处理的问题" in problems_table()[1]


# --- destruction ------------------------------------------------------------------------------------------------

def test_destruction_list_xlsx_carries_the_header_facts_and_the_pdf_says_approved(client_for, capture, accounts):
    staff = accounts["women_staff"]
    items = _filed(capture, accounts, n=2, date=dt.date(2014, 5, 1), retention="D10")
    ids = [i.pk for i in items]
    destruction.appraise(staff, ids, decision="destroy", reason="已无保存价值", year=2026)
    batch = destruction.propose_destruction(staff, items[0].fonds, ids, title="2026年第1批", reason="保管期满")
    destruction.decide_destruction(accounts["leader"], batch, approve=True, note="同意销毁")
    destruction.execute_destruction(staff, batch)
    c = client_for(staff)
    r = c.get(reverse("records:destruction_list_xlsx", args=[batch.pk]))
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content))).active
    facts = {row[0]: row[1] for row in ws.iter_rows(values_only=True) if row[0] and row[1]}
    assert facts["全宗"].startswith("J001") and facts["清册名称"] == "2026年第1批" and facts["销毁理由"] == "保管期满"
    assert "已批准" in facts["审批人"] and facts["提出人"] and facts["销毁执行"] and "监销人" in facts
    rows = list(ws.iter_rows(values_only=True))
    head = next(n for n, row in enumerate(rows) if row[0] == "序号")
    assert [row[1] for row in rows[head + 1:]] == [i.archival_code for i in items]
    pdf = c.get(reverse("records:destruction_list_pdf", args=[batch.pk]))
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(b"".join(pdf.streaming_content))
    text = "".join(doc[n].get_textpage().get_text_range() for n in range(len(doc))).replace("\r\n", "")
    approver = text[text.index("审批人"):][:40]
    assert "已批准" in approver and "已销毁" not in approver


# --- the portal's reading room -------------------------------------------------------------------------------------

def test_reading_room_shows_the_expiry_with_its_year(capture, accounts, settings, django_capture_on_commit_callbacks):
    from django.test import Client

    from qunli.records import use
    from qunli.records.models import UseLine

    settings.QUNLI_PORTAL_RATE_LIMITS = {k: (100_000, 3600) for k in (
        "catalogue_export_ip", "use_ip", "use_phone", "reading_ip", "reading_code", "page_ip", "verify_ip")}
    from qunli.portal import actions as portal_actions

    with django_capture_on_commit_callbacks(execute=True):
        (item,) = _filed(capture, accounts, date=dt.date(1985, 3, 1), files=[("s.pdf", PDF)])
    Item.objects.filter(pk=item.pk).update(openness="open")  # as an opening decision would (not under test)
    req = use.submit_online(portal_actions.portal_account(), item_pk=item.pk, reader_name="王芳",
                            phone="13912345678", purpose="marriage")
    line = UseLine.objects.get(request=req)
    c = Client()
    assert c.post(reverse("portal:reading_room"), {"code": req.code, "last4": "5678"}).status_code == 302
    room = c.get(reverse("portal:reading_room")).content.decode()
    assert f"阅览至 {line.expires_on:%Y-%m-%d}" in room
    # an open request shows no code form under it; 查询其他利用单 closes it and shows the form
    assert 'name="last4"' not in room and "查询其他利用单" in room
    other = c.get(reverse("portal:reading_room") + "?other=1").content.decode()
    assert 'name="last4"' in other and req.code not in other


def test_use_request_lines_scroll_inside_their_box_on_a_phone(client_for, capture, accounts, fonds):
    from qunli.records import use

    items = _filed(capture, accounts, n=2)
    req = use.register_use(accounts["women_staff"], fonds=fonds, reader_name="李建国", purpose="marriage",
                           phone="13912345678", items=items)
    page = client_for(accounts["women_staff"]).get(reverse("records:use_detail", args=[req.pk])).content.decode()
    box = page[page.index('<div class="table-responsive" id="use-lines">'):]
    assert box.index("<table") < box.index("</div>")  # the table is inside the scrolling box
    assert all(i.archival_code in box[:box.index("</table>")] for i in items)


# --- 四性检测 report wording ----------------------------------------------------------------------------------------

def test_check_counts_carry_units_and_bytes_are_not_a_count(capture, accounts, monkeypatch):
    from qunli.records import checks, transfer

    monkeypatch.setattr(checks.shutil, "which", lambda name: None)  # no ClamAV here
    items = _filed(capture, accounts, n=2, files=[("a.pdf", minimal_pdf(b"y" * 300_000))])
    run = transfer.check_holdings(accounts["women_staff"], items[0].fonds)
    results = {r["code"]: r for r in run.results}
    assert results["2-2"]["checked"] == 2 and results["2-2"]["checked_label"] == "2 个文件"
    assert re.fullmatch(r"实有 \d+\.\d KB（\d+ 字节）", results["2-2"]["note"])
    assert results["2-4"]["checked_label"] == "1 类" and results["2-1"]["checked_label"] == "2 件"
    virus = results["4-1"]
    assert virus["status_label"] == "未执行" and virus["note"] == "未安装杀毒软件"
    assert f"{virus['name']}（{virus['note']}）".count("（") == 1  # as the PDF prints it: no nested brackets
