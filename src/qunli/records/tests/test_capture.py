"""Capture at the source: text extraction into the index (isolated, once per digest), thumbnails,
inline media with Range, digitization progress, 档号 formats per fonds, the legacy catalogue
import, scans named by 档号, and the printed 归档文件目录 / 归档章."""

import datetime as dt
import io
import zipfile

import openpyxl
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from qunli.core import search as fulltext
from qunli.core.actions import ActionError
from qunli.core.imports import run_import
from qunli.core.models import ChangeLog
from qunli.records import actions, capture_actions, extract, numbering
from qunli.records import search as records_search
from qunli.records.file_models import FileContent, Volume
from qunli.records.models import FilingCounter, Item, ItemFile


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "store")}}}


def pdf_bytes(*pages: str) -> bytes:
    from weasyprint import HTML

    body = "".join(f'<p style="page-break-after: always">{p}</p>' for p in pages)
    return HTML(string=f'<html><body style="font-family: \'Noto Sans CJK SC\'">{body}</body></html>').write_pdf()


def docx_bytes(text: str) -> bytes:
    import docx

    d = docx.Document()
    d.add_paragraph(text)
    t = d.add_table(rows=1, cols=2)
    t.rows[0].cells[0].text = "表格单元"
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def ofd_bytes(*pages: str, drop_page: bool = False) -> bytes:
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", f'<ofd:OFD {ns} Version="1.0"><ofd:DocBody><ofd:DocRoot>Doc_0/Document.xml'
                              f'</ofd:DocRoot></ofd:DocBody></ofd:OFD>')
        refs = "".join(f'<ofd:Page ID="{i + 10}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(len(pages)))
        z.writestr("Doc_0/Document.xml", f"<ofd:Document {ns}><ofd:Pages>{refs}</ofd:Pages></ofd:Document>")
        for i, text in enumerate(pages):
            if drop_page and i == len(pages) - 1:
                continue
            z.writestr(f"Doc_0/Pages/Page_{i}/Content.xml",
                       f'<ofd:Page {ns}><ofd:Content><ofd:Layer><ofd:TextObject ID="1">'
                       f'<ofd:TextCode X="0" Y="0">{text}</ofd:TextCode></ofd:TextObject></ofd:Layer></ofd:Content>'
                       f'</ofd:Page>')
    return buf.getvalue()


def png_bytes(size=(400, 300)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def wav_bytes(n=4000) -> bytes:
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes(range(256)) * (n // 256))
    return buf.getvalue()


def hits(user, q):
    fulltext.drain()  # what the after-commit hook of the outbox does
    return [h.pk for h in fulltext.search(records_search.KIND, q, Item.objects.visible_to(user), snippets=False)]


# --- extraction and the index ---------------------------------------------------------------

def test_text_of_pdf_docx_ofd_txt_is_searchable(capture, accounts):
    staff = accounts["women_staff"]
    a = capture(title="甲", files=[("纪要.pdf", pdf_bytes("妇女代表大会纪要", "第二页写着巾帼建功"))])
    b = capture(title="乙", files=[("方案.docx", docx_bytes("春蕾计划实施方案"))])
    c = capture(title="丙", files=[("通知.ofd", ofd_bytes("关于开展家庭教育", "宣传周活动"))])
    d = capture(title="丁", files=[("说明.txt", "留守儿童关爱说明".encode("gb18030"))])
    assert hits(staff, "巾帼建功") == [a.pk]
    assert hits(staff, "春蕾计划") == [b.pk] and hits(staff, "表格单元") == [b.pk]
    assert hits(staff, "宣传周") == [c.pk]
    assert hits(staff, "留守儿童") == [d.pk]
    assert FileContent.objects.get(sm3=c.files.get().sm3).page_count == 2
    assert fulltext.check(records_search.KIND).missing == []


def test_text_is_stored_once_per_digest_and_reindex_reuses_it(capture, accounts):
    staff = accounts["women_staff"]
    data = pdf_bytes("第一份纪要正文")
    a = capture(files=[("a.pdf", data)])
    sm3 = a.files.get().sm3
    # a second capture of the same bytes finds the stored text: it is not parsed again
    FileContent.objects.filter(sm3=sm3).update(text="存储的全文标记")
    b = capture(files=[("b.pdf", data)])
    assert FileContent.objects.filter(sm3=sm3).count() == 1
    assert sorted(hits(staff, "存储的全文标记")) == [a.pk, b.pk] or hits(staff, "存储的全文标记") == [b.pk]
    fulltext.rebuild(records_search.KIND)  # qunli reindex: from the stored text, never the file
    assert sorted(hits(staff, "存储的全文标记")) == sorted([a.pk, b.pk])
    assert hits(staff, "第一份纪要") == []


@pytest.mark.parametrize("name,data,msg", [
    ("坏.pdf", b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "PDF 文件已损坏"),
    ("坏.docx", b"PK\x03\x04garbage", "DOCX 文件已损坏"),
    ("缺页.ofd", None, "缺少页面"),
    ("坏.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "图像文件已损坏"),
    ("坏.txt", b"\x00\x01\x02binary", "二进制"),
    ("假.mp4", b"\x00\x00\x00\x18notftyp", "不符或文件已损坏"),
])
def test_broken_files_are_refused_in_chinese_and_nothing_is_kept(capture, name, data, msg):
    if data is None:
        data = ofd_bytes("一", "二", drop_page=True)
    with pytest.raises(ActionError, match=msg):
        capture(files=[(name, data)])
    assert not Item.objects.exists() and not FileContent.objects.exists()


def test_oversize_file_is_refused(capture, monkeypatch):
    monkeypatch.setattr(actions, "MAX_FILE_BYTES", 100)
    with pytest.raises(ActionError, match="超过大小上限"):
        capture(files=[("大.txt", ("字" * 100).encode())])
    assert not Item.objects.exists()


def test_xml_bomb_in_an_ofd_is_refused_without_hurting_the_process(capture):
    lol = '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)) + "]>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("OFD.xml", lol + "<OFD><DocBody><DocRoot>&j;</DocRoot></DocBody></OFD>")
    with pytest.raises(ActionError, match="OFD"):
        capture(files=[("炸弹.ofd", buf.getvalue())])
    assert capture(files=[("好.txt", "正常".encode())]).files.count() == 1  # the web process carries on


def test_a_parse_over_the_time_limit_is_killed_and_refused(capture, settings):
    settings.QUNLI_EXTRACT_SECONDS = 0  # no child can answer in no time: the limit path, for real
    with pytest.raises(ActionError, match="秒内未能解析完成"):
        capture(files=[("慢.pdf", pdf_bytes("一页"))])
    assert not FileContent.objects.exists()


def test_the_memory_limit_applies_to_the_child_only(capture, settings):
    import resource

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (9000, 9000), 7).save(buf, "PNG")  # a small file, 81 MB decoded
    settings.QUNLI_EXTRACT_MEMORY_BYTES = 100 * 1024 * 1024  # the parser child starts at about 60 MB
    before = resource.getrlimit(resource.RLIMIT_AS)
    with pytest.raises(ActionError, match="内存|异常退出|已损坏"):
        capture(files=[("巨图.png", buf.getvalue())])
    assert resource.getrlimit(resource.RLIMIT_AS) == before  # this process was never limited
    settings.QUNLI_EXTRACT_MEMORY_BYTES = 0  # no limit: the same image is accepted
    assert capture(files=[("巨图.png", buf.getvalue())]).scanned_pages == 1


# --- thumbnails, inline media, digitization ----------------------------------------------------

def test_thumbnails_for_images_and_pdf_first_pages(client_for, capture, accounts):
    from PIL import Image

    item = capture(files=[("照片.png", png_bytes()), ("扫描.pdf", pdf_bytes("第一页"))])
    c = client_for(accounts["women_staff"])
    for f in item.files.all():
        r = c.get(reverse("records:file_thumb", args=[f.pk]))
        assert r.status_code == 200 and r["Content-Type"] == "image/png"
        img = Image.open(io.BytesIO(r.content))
        assert img.width <= extract.THUMB_SIZE[0] and img.height <= extract.THUMB_SIZE[1]
        assert default_storage.exists(extract.thumb_name(f.sm3))
    page = c.get(item.get_absolute_url())
    assert reverse("records:file_thumb", args=[item.files.first().pk]) in page.content.decode()


def test_audio_is_played_with_range_requests(client_for, capture, accounts):
    data = wav_bytes()
    item = capture(files=[("录音.wav", data)])
    f = item.files.get()
    c = client_for(accounts["women_staff"])
    url = reverse("records:file_inline", args=[f.pk])
    full = c.get(url)
    assert full.status_code == 200 and b"".join(full.streaming_content) == data
    part = c.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert b"".join(part.streaming_content) == data[10:20]
    tail = c.get(url, HTTP_RANGE="bytes=-5")
    assert b"".join(tail.streaming_content) == data[-5:]
    assert c.get(url, HTTP_RANGE=f"bytes={len(data)}-").status_code == 416
    assert c.get(url, HTTP_RANGE="items=1-2").status_code == 416
    assert "<audio" in c.get(item.get_absolute_url()).content.decode()


def test_files_out_of_reach_are_not_served(client_for, capture, accounts):
    from qunli.core.scoping import can

    item = capture(files=[("照片.png", png_bytes()), ("录音.wav", wav_bytes())])
    clerk = accounts["clerk"]  # a village clerk: the county fonds is outside her grant
    assert not can(clerk, "view", item)
    c = client_for(clerk)
    for f in item.files.all():
        assert c.get(reverse("records:file_thumb", args=[f.pk])).status_code == 404
        assert c.get(reverse("records:file_inline", args=[f.pk]), HTTP_RANGE="bytes=0-3").status_code == 404


def test_digitization_progress_per_item_and_year(client_for, capture, accounts, fonds):
    a = capture(pages=3, files=[("扫描.pdf", pdf_bytes("一", "二"))])
    capture(pages=2, files=[("照片.png", png_bytes())])
    capture(pages=5, date=dt.date(2022, 1, 5))
    a.refresh_from_db()
    assert a.scanned_pages == 2
    capture_more = actions.store_file(a, ("补扫.png", png_bytes((50, 50))), ItemFile.Origin.SCAN)
    assert capture_more and Item.objects.get(pk=a.pk).scanned_pages == 3
    c = client_for(accounts["women_staff"])
    r = c.get(reverse("records:digitization", args=[fonds.pk]))
    rows = {row["year"]: row for row in r.context["rows"]}
    assert rows[2023]["pages"] == 5 and rows[2023]["scanned"] == 4 and rows[2023]["done"] == 1
    assert rows[2022]["scanned"] == 0 and r.context["total"]["rate"] == 40.0
    assert "已数字化 3 / 3 页" in c.get(a.get_absolute_url()).content.decode()


def test_a_born_digital_photo_adds_no_digitized_page_and_its_item_needs_no_scanning(client_for, capture, accounts,
                                                                                    fonds):
    scanned = capture(pages=2, files=[("扫描.pdf", pdf_bytes("一", "二"))])
    photo = capture(pages=1, files=[("活动照片.png", png_bytes())], file_origin="born_digital")
    both = capture(pages=3, files=[("扫描.pdf", pdf_bytes("甲", "乙", "丙")), ("现场照片.png", png_bytes((60, 40)))])
    actions.store_file(both, ("现场照片2.png", png_bytes((70, 40))), ItemFile.Origin.BORN_DIGITAL)
    actions.refresh_scanned_pages(both)
    assert [Item.objects.get(pk=i.pk).scanned_pages for i in (scanned, photo)] == [2, 0]
    assert Item.objects.get(pk=both.pk).scanned_pages == 4  # the fixture's two files are scans; the third is not
    c = client_for(accounts["women_staff"])
    [row] = c.get(reverse("records:digitization", args=[fonds.pk])).context["rows"]
    # the photo's item is 电子档案: its 1 page is not waiting for a scanner
    assert (row["items"], row["electronic"], row["pages"], row["scanned"], row["done"]) == (3, 1, 5, 5, 2)
    assert "原生电子文件，无需数字化" in c.get(photo.get_absolute_url()).content.decode()


def test_a_file_origin_is_corrected_from_the_files_tab_and_the_progress_follows(client_for, capture, accounts):
    from qunli.core.models import ChangeLog

    item = capture(pages=2, files=[("合影.png", png_bytes())])
    f = item.files.get()
    assert Item.objects.get(pk=item.pk).scanned_pages == 1
    c = client_for(accounts["women_staff"])
    page = c.get(item.get_absolute_url() + "?tab=files").content.decode()
    assert "改为原生电子文件" in page
    r = c.post(reverse("records:file_origin", args=[f.pk]), {"origin": "born_digital"}, follow=True)
    assert "已将“合影.png”的生成方式改为“原生电子文件”" in r.content.decode()
    assert Item.objects.get(pk=item.pk).scanned_pages == 0
    log = ChangeLog.objects.get(action="records.set_file_origin")
    assert log.after == {"file_origin": "合影.png：原生电子文件"}
    history = c.get(item.get_absolute_url() + "?tab=history").content.decode()
    assert "更正文件生成方式" in history and "合影.png：数字化副本" in history
    again = c.post(reverse("records:file_origin", args=[f.pk]), {"origin": "born_digital"}, follow=True)
    assert "生成方式已是“原生电子文件”" in again.content.decode()
    assert c.post(reverse("records:file_origin", args=[f.pk]), {"origin": "photo"}, follow=True).status_code == 200
    assert ChangeLog.objects.filter(action="records.set_file_origin").count() == 1


def test_a_read_only_leader_cannot_correct_a_file_origin(client_for, capture, accounts):
    item = capture(pages=2, files=[("合影.png", png_bytes())])
    f = item.files.get()
    c = client_for(accounts["leader"])
    assert "改为原生电子文件" not in c.get(item.get_absolute_url() + "?tab=files").content.decode()
    assert c.post(reverse("records:file_origin", args=[f.pk]), {"origin": "born_digital"}).status_code == 403
    assert ItemFile.objects.get(pk=f.pk).origin == "scan"


def test_a_business_capture_stores_its_files_as_born_digital_and_the_api_says_so(capture, accounts, tree):
    item = actions.capture_record(accounts["women_staff"], unit=tree["women"], title="个案结案报告",
                                  responsible="示范县妇联", date=dt.date(2023, 5, 1), pages=1,
                                  files=[("结案报告.pdf", pdf_bytes("结案"))], source={"source_type": "casework.case"})
    assert item.files.get().origin == "born_digital" and Item.objects.get(pk=item.pk).scanned_pages == 0
    with pytest.raises(ActionError, match="文件生成方式无效"):
        actions.capture_record(accounts["women_staff"], unit=tree["women"], title="x", responsible="y",
                               date=dt.date(2023, 5, 1), file_origin="photo")


# --- 档号 formats ------------------------------------------------------------------------------

def test_default_format_renders_and_parses():
    fmt = numbering.CodeFormat()
    assert fmt.render("J001", "WS", 2023, "Y", "BGS", 7) == "J001-WS·2023-Y-BGS-0007"
    assert fmt.render("J001", "WS", 2023, "Y", "", 7) == "J001-WS·2023-Y-0007"
    assert fmt.parse("J001-WS·2023-D30-0012") == numbering.ParsedCode("J001", "WS", 2023, "D30", "", 12)
    with pytest.raises(numbering.CodeFormatError, match="不符合"):
        fmt.parse("J001-WS2023-Y-0001")


@pytest.mark.parametrize("template,digits,msg", [
    ("{全宗号}-{年度}-{件号}", 4, "缺少必需字段"),
    ("{全宗号}-{门类代码}·{年度}-{保管期限}-{件号}-{件号}", 4, "出现了多次"),
    ("{全宗号}-{门类}·{年度}-{保管期限}-{件号}", 4, "未知字段"),
    ("{全宗号}{门类代码}·{年度}-{保管期限}-{件号}", 4, "分隔符"),
    ("{全宗号}-{门类代码}·{年度}-{保管期限}-{件号}", 9, "件号位数"),
])
def test_bad_formats_are_refused(fonds, accounts, template, digits, msg):
    with pytest.raises(ActionError, match=msg):
        capture_actions.set_code_format(accounts["women_staff"], fonds, template=template, digits=digits)


def test_format_change_applies_to_future_filings_only(capture, accounts, fonds):
    staff = accounts["women_staff"]
    first = capture()
    actions.file_items(staff, [first.pk])
    first.refresh_from_db()
    assert first.archival_code == "J001-WS·2023-Y-BGS-0001"
    capture_actions.set_code_format(staff, fonds, template="{全宗号}.{年度}.{保管期限}.{机构代码}.{门类代码}.{件号}",
                                    digits=5, reason="新规范")
    second = capture()
    actions.file_items(staff, [second.pk])
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.archival_code == "J001-WS·2023-Y-BGS-0001"  # unchanged
    assert second.archival_code == "J001.2023.Y.BGS.WS.00002"
    fonds.refresh_from_db()
    assert numbering.parse_archival_code(second.archival_code, fonds).piece == 2
    log = ChangeLog.objects.get(action="records.set_code_format")
    assert log.after["example"] == "J001.2024.Y.BGS.WS.00001" and log.after["reason"] == "新规范"


def test_code_format_page(client_for, accounts, fonds):
    c = client_for(accounts["women_staff"])
    url = reverse("records:code_format", args=[fonds.pk])
    assert c.get(url).status_code == 200
    r = c.post(url, {"template": "{全宗号}-{年度}", "digits": 4, "reason": "试"})
    assert "缺少必需字段" in r.content.decode()
    r = c.post(url, {"template": "{全宗号}/{门类代码}/{年度}/{保管期限}/{件号}", "digits": 3, "reason": "试"})
    assert r.status_code == 302
    fonds.refresh_from_db()
    assert fonds.piece_digits == 3
    leader = client_for(accounts["leader"])
    assert leader.get(url).status_code in (403, 404)


# --- legacy catalogue import ---------------------------------------------------------------------

HEADER = ["全宗号", "档号", "题名", "责任者", "日期", "文件编号", "密级", "页数", "案卷档号", "案卷题名"]


def workbook(tmp_path, rows, name="legacy.xlsx"):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows:
        ws.append(r)
    p = tmp_path / name
    wb.save(p)
    return p


def legacy_row(no, org="BGS", year=2015, vol=""):
    code = f"J001-WS·{year}-Y-{org}-{no:04d}" if org else f"J001-WS·{year}-Y-{no:04d}"
    return ["J001", code, f"历史文件第{no}件", "示范县妇联", f"{year}-03-0{no % 9 + 1}", "", "内部", "2", vol,
            "1995年案卷" if vol else ""]


def test_legacy_catalogue_dry_run_commit_gaps_and_counter(tmp_path, fonds, accounts, capture, client_for):
    staff = accounts["women_staff"]
    path = workbook(tmp_path, [legacy_row(1, vol="J001-AJ-1995-001"), legacy_row(2, vol="J001-AJ-1995-001"),
                               legacy_row(5)])
    dry = run_import("records_legacy", path, user=staff)
    assert dry.ok and not dry.committed and dry.total_rows == 3 and not Item.objects.exists()
    assert dry.warnings == ["J001-WS·2015-Y-BGS 缺少件号 3、4（无法补齐的，可在全宗的“缺号说明”中登记原因）"]
    out = run_import("records_legacy", path, user=staff, commit=True)
    assert out.ok and out.committed and out.created_rows == 3
    items = Item.objects.order_by("piece_no")
    assert [i.piece_no for i in items] == [1, 2, 5] and all(i.is_filed for i in items)
    assert Volume.objects.get().items.count() == 2
    assert "J001-AJ-1995-001" in client_for(staff).get(items[0].get_absolute_url()).content.decode()
    assert FilingCounter.objects.get(year=2015).last_no == 5
    assert hits(staff, "历史文件") and ChangeLog.objects.filter(action="core.import_records_legacy").count() == 1
    # a new filing of the same class continues after the highest imported 件号
    new = capture(date=dt.date(2015, 6, 1))
    actions.file_items(staff, [new.pk])
    new.refresh_from_db()
    assert new.archival_code == "J001-WS·2015-Y-BGS-0006"


def test_legacy_import_does_not_warn_about_gaps_already_explained(tmp_path, fonds, accounts):
    from qunli.records.gaps import explain_gaps
    from qunli.records.models import Category

    staff = accounts["women_staff"]
    run_import("records_legacy", workbook(tmp_path, [legacy_row(1), legacy_row(5)], "first.xlsx"), user=staff,
               commit=True)
    explain_gaps(staff, fonds, category=Category.objects.get(code="WS"), year=2015, retention="Y",
                 org_code=fonds.org_codes.get(code="BGS"), pieces="2-3", reason="原件遗失")
    dry = run_import("records_legacy", workbook(tmp_path, [legacy_row(6)], "second.xlsx"), user=staff)
    assert dry.warnings == ["J001-WS·2015-Y-BGS 缺少件号 4（无法补齐的，可在全宗的“缺号说明”中登记原因）"]


def test_legacy_import_counts_destroyed_numbers_as_taken(tmp_path, fonds, accounts, capture):
    staff = accounts["women_staff"]
    run_import("records_legacy", workbook(tmp_path, [legacy_row(2), legacy_row(5)], "first.xlsx"), user=staff,
               commit=True)
    Item.objects.update(status=Item.Status.DISPOSED)  # both destroyed: entries and 件号 stay
    FilingCounter.objects.filter(year=2015).update(last_no=0)  # as if the counter never saw them
    again = run_import("records_legacy", workbook(tmp_path, [legacy_row(2)], "again.xlsx"), user=staff)
    assert not again.ok and "已存在" in again.errors[0]["reason"]
    out = run_import("records_legacy", workbook(tmp_path, [legacy_row(1), legacy_row(3), legacy_row(4)], "b.xlsx"),
                     user=staff, commit=True)
    assert out.committed and out.warnings == []  # 2 and 5 are destroyed, not gaps
    assert FilingCounter.objects.get(year=2015).last_no == 5
    new = capture(date=dt.date(2015, 6, 1))
    actions.file_items(staff, [new.pk])
    assert Item.objects.get(pk=new.pk).archival_code == "J001-WS·2015-Y-BGS-0006"


def test_legacy_catalogue_errors_refuse_everything(tmp_path, fonds, accounts):
    staff = accounts["women_staff"]
    run_import("records_legacy", workbook(tmp_path, [legacy_row(1)], "first.xlsx"), user=staff, commit=True)
    bad_format = legacy_row(3)
    bad_format[1] = "J001-WS-2015-Y-BGS-3"
    wrong_year = legacy_row(4)
    wrong_year[4] = "2016-01-01"
    rows = [legacy_row(1), legacy_row(2), legacy_row(2), bad_format, wrong_year, legacy_row(6, org="XXX"),
            ["J999", "J999-WS·2015-Y-0001", "外全宗", "某", "2015-01-01", "", "", "1", "", ""]]
    out = run_import("records_legacy", workbook(tmp_path, rows, "bad.xlsx"), user=staff, commit=True)
    assert not out.committed and Item.objects.count() == 1
    reasons = {e["row"]: e["reason"] for e in out.errors}
    assert "已存在" in reasons[2]
    assert "与第3行重复" in reasons[4]
    assert "不符合本全宗的档号格式" in reasons[5]
    assert "不一致" in reasons[6]
    assert "没有机构（问题）代码" in reasons[7]
    assert "不在您的权限范围内" in reasons[8]
    assert "未导入任何数据" in out.message


def test_a_legacy_row_both_secret_and_open_is_refused(tmp_path, fonds, accounts):
    """No leak followed (public_q leaves secret items out) but the catalogue would say two
    contradictory things."""
    rows = [[*legacy_row(1)[:6], "秘密", "2", "", ""]]
    wb = openpyxl.Workbook()
    wb.active.append([*HEADER, "开放标识"])
    wb.active.append([*rows[0], "开放"])
    wb.save(tmp_path / "secret_open.xlsx")
    out = run_import("records_legacy", tmp_path / "secret_open.xlsx", user=accounts["women_staff"], commit=True)
    assert not out.committed and not Item.objects.exists()
    assert "涉密档案（秘密、机密）不能标为开放" in out.errors[0]["reason"]


def test_legacy_import_page_offers_the_template(client_for, accounts):
    c = client_for(accounts["women_staff"])
    r = c.get(reverse("core:import_template", args=["records_legacy"]))
    assert r.status_code == 200
    ws = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content))).active
    assert [c.value for c in ws[1]][:3] == ["全宗号", "档号", "题名"]


# --- scans by 档号 ---------------------------------------------------------------------------------

def _filed(capture, accounts, n=2):
    items = [capture() for _ in range(n)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    return [Item.objects.get(pk=i.pk) for i in items]


def _zip(entries) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def test_scans_are_hooked_by_archival_code_all_or_nothing(capture, accounts):
    staff = accounts["women_staff"]
    a, b = _filed(capture, accounts)
    bad = capture_actions.attach_scans(staff, [("扫描.zip", _zip([(f"{a.archival_code}.png", png_bytes()),
                                                                 ("J001-WS·2023-Y-BGS-0099.png", png_bytes())]))])
    assert not bad.ok and bad.unmatched == ["J001-WS·2023-Y-BGS-0099.png"]
    assert not a.files.exists()
    ok = capture_actions.attach_scans(staff, [("扫描.zip", _zip([(f"dir/{a.archival_code}_1.png", png_bytes()),
                                                                (f"dir/{a.archival_code}_2.png", png_bytes((9, 9))),
                                                                (f"{b.archival_code}.pdf", pdf_bytes("扫描页"))]))])
    assert ok.ok and len(ok.attached) == 3
    assert a.files.count() == 2 and b.files.count() == 1
    assert Item.objects.get(pk=a.pk).scanned_pages == 2
    assert ChangeLog.objects.filter(action="records.attach_scans").count() == 1


def test_scans_are_not_hooked_to_a_destroyed_item(capture, accounts):
    a, b = _filed(capture, accounts)
    Item.objects.filter(pk=b.pk).update(status=Item.Status.DISPOSED)  # destroyed, its 档号 stays
    report = capture_actions.attach_scans(accounts["women_staff"], [(f"{a.archival_code}.png", png_bytes()),
                                                                    (f"{b.archival_code}.png", png_bytes())])
    assert not report.ok and "已销毁" in report.errors[0][1] and report.errors[0][0] == f"{b.archival_code}.png"
    assert not a.files.exists() and not b.files.exists()


def test_a_broken_scan_refuses_the_whole_upload(capture, accounts):
    a, b = _filed(capture, accounts)
    with pytest.raises(ActionError, match="整批扫描件均未挂接"):
        capture_actions.attach_scans(accounts["women_staff"], [(f"{a.archival_code}.png", png_bytes()),
                                                               (f"{b.archival_code}.pdf", b"%PDF-broken")])
    assert not a.files.exists() and not b.files.exists()


def test_broken_zip_is_refused(capture, accounts):
    with pytest.raises(ActionError, match="已损坏"):
        capture_actions.attach_scans(accounts["women_staff"], [("扫描.zip", b"PK\x03\x04broken")])


def test_scan_upload_page_reports_unmatched_names(client_for, capture, accounts):
    (a,) = _filed(capture, accounts, 1)
    c = client_for(accounts["women_staff"])
    url = reverse("records:scan_upload")
    r = c.post(url, {"files": [SimpleUploadedFile("不存在的档号.png", png_bytes(), "image/png")]})
    assert "未找到对应档号的文件" in r.content.decode() and not a.files.exists()
    r = c.post(url, {"files": [SimpleUploadedFile(f"{a.archival_code}.png", png_bytes(), "image/png")]})
    assert "已挂接 1 个扫描件" in r.content.decode() and a.files.count() == 1


def test_scans_cannot_reach_items_of_another_county(capture, accounts):
    (a,) = _filed(capture, accounts, 1)
    leader = accounts["leader"]
    from qunli.core.scoping import can

    if can(leader, "change", a):
        pytest.skip("the leader may change this item in this fixture")
    rep = capture_actions.attach_scans(leader, [(f"{a.archival_code}.png", png_bytes())])
    assert not rep.ok and rep.unmatched and not a.files.exists()


# --- printing --------------------------------------------------------------------------------

def _pdf_text(data: bytes) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    return "".join(pdf[i].get_textpage().get_text_bounded() for i in range(len(pdf)))


def test_catalogue_and_stamps_pdf(client_for, capture, accounts, fonds):
    _filed(capture, accounts, 2)
    c = client_for(accounts["women_staff"])
    q = {"year": 2023, "retention": "Y", "category": "WS"}
    r = c.get(reverse("records:catalogue_pdf", args=[fonds.pk]), q)
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    text = _pdf_text(r.content)
    assert "归档文件目录" in text.replace(" ", "") and "J001-WS·2023-Y-BGS-0002" in text and "关于第1项工作的通知" in text
    r = c.get(reverse("records:stamps_pdf", args=[fonds.pk]), q)
    text = _pdf_text(r.content)
    assert r.status_code == 200 and "全宗号" in text and "办公室" in text and "永久" in text


def test_catalogue_pdf_keeps_destroyed_entries_marked_but_no_stamp(client_for, capture, accounts, fonds):
    a, b = _filed(capture, accounts, 2)
    Item.objects.filter(pk=b.pk).update(status=Item.Status.DISPOSED)
    c = client_for(accounts["women_staff"])
    q = {"year": 2023, "retention": "Y", "category": "WS"}
    text = _pdf_text(c.get(reverse("records:catalogue_pdf", args=[fonds.pk]), q).content)
    assert b.archival_code in text and a.archival_code in text and "已销毁" in text.replace(" ", "")
    stamps = _pdf_text(c.get(reverse("records:stamps_pdf", args=[fonds.pk]), q).content)
    assert stamps.count("全宗号") == 1  # the stamp is for a paper still held


def test_pdf_without_a_cjk_font_is_a_clear_503(client_for, capture, accounts, fonds, settings):
    settings.QUNLI_PDF_CJK_FONTS = ["没有这种字体"]
    c = client_for(accounts["women_staff"])
    r = c.get(reverse("records:catalogue_pdf", args=[fonds.pk]), {"year": 2023, "retention": "Y"})
    assert r.status_code == 503 and "fonts-noto-cjk" in r.content.decode()


def test_legacy_dry_run_page_shows_gap_warnings(client_for, tmp_path, fonds, accounts):
    c = client_for(accounts["women_staff"])
    path = workbook(tmp_path, [legacy_row(1), legacy_row(3)])
    with open(path, "rb") as fh:
        r = c.post(reverse("core:import_start"), {"kind": "records_legacy", "file": fh}, follow=True)
    page = r.content.decode()
    assert "全部校验通过" in page and "缺少件号 2" in page and not Item.objects.exists()


def test_digitization_and_item_pages_query_ceilings(client_for, capture, accounts, fonds,
                                                    django_assert_max_num_queries):
    for n in range(6):
        capture(pages=2, date=dt.date(2015 + n % 3, 1, 1), files=[(f"照片{n}.png", png_bytes((20 + n, 20)))])
    c = client_for(accounts["women_staff"])
    c.get(reverse("records:digitization", args=[fonds.pk]))  # warm the session and grants
    with django_assert_max_num_queries(9):
        r = c.get(reverse("records:digitization", args=[fonds.pk]))
    assert len(r.context["rows"]) == 3
    item = Item.objects.first()
    c.get(item.get_absolute_url())
    with django_assert_max_num_queries(14):
        c.get(item.get_absolute_url())


def test_pdf_of_more_items_than_even_a_job_takes_is_refused_in_chinese(client_for, capture, accounts, fonds,
                                                                       settings):
    _filed(capture, accounts, 2)
    settings.QUNLI_PRINT_SYNC_MAX_ITEMS, settings.QUNLI_PRINT_JOB_MAX_ITEMS = 0, 1
    r = client_for(accounts["women_staff"]).get(reverse("records:catalogue_pdf", args=[fonds.pk]),
                                                {"year": 2023, "retention": "Y"})
    assert r.status_code == 413 and "共2件" in r.content.decode() and "导出 Excel" in r.content.decode()


def test_renumbering_after_a_format_change_is_the_logged_way_codes_change(capture, accounts, fonds):
    staff = accounts["women_staff"]
    a, b = _filed(capture, accounts, 2)
    capture_actions.set_code_format(staff, fonds, template="{全宗号}/{门类代码}/{年度}/{保管期限}/{机构代码}/{件号}",
                                    digits=3)
    a.refresh_from_db()
    assert a.archival_code == "J001-WS·2023-Y-BGS-0001"
    fonds.refresh_from_db()
    a.fonds = fonds
    actions.renumber_item(staff, a, piece_no=2, reason="顺序调整")
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.archival_code, b.archival_code) == ("J001/WS/2023/Y/BGS/002", "J001/WS/2023/Y/BGS/001")
    log = ChangeLog.objects.filter(action="records.renumber_item").get()
    assert log.after["shifted"][str(b.pk)] == ["J001-WS·2023-Y-BGS-0002", "J001/WS/2023/Y/BGS/001"]


def test_extract_files_backfills_files_captured_before_extraction(capture, accounts):
    from django.core.management import call_command

    item = capture(files=[("纪要.pdf", pdf_bytes("补提取的会议纪要"))])
    FileContent.objects.all().delete()  # as if captured before this feature
    Item.objects.filter(pk=item.pk).update(scanned_pages=0)
    out = io.StringIO()
    call_command("extract_files", stdout=out)
    assert "已提取 1 个文件内容" in out.getvalue()
    assert Item.objects.get(pk=item.pk).scanned_pages == 1
    assert hits(accounts["women_staff"], "补提取") == [item.pk]


def test_the_capture_form_shows_the_file_origin_as_labelled_radio_buttons(client_for, accounts):
    import re

    page = client_for(accounts["women_staff"]).get(reverse("records:item_add")).content.decode()
    group = page[page.index('id="id_file_origin_label"'):]
    assert "电子文件生成方式" in group[:200] and 'role="radiogroup"' in group
    assert re.search(r'<div class="form-check form-check-inline"><input type="radio" name="file_origin" value="scan" '
                     r'class="form-check-input"[^>]*checked', group)
    assert '<div id="id_file_origin" class="form-check-input">' not in page  # the class on the group made it 16 px wide
