"""The archives office files a batch in the browser: a staff member of the county women's
federation registers one item through the capture form (with its scanned page), opens 待归档,
ticks three of the four pending items and files them; the item list shows the 档号 given in
date order (件号 0001, 0002, 0003, no gap). A two-character search of the item list finds the
new item, highlighted, with its 档号; its page prints the class's 归档文件目录 as a PDF and
downloads it as a workbook, both opened and read back. A selection holding an item without its
责任者 is refused as a whole: the Chinese message names the item and the element, nothing is
filed and no 件号 is used up."""

import datetime as dt
import re

import openpyxl
import pytest
from playwright.sync_api import expect

from conftest import grant, make_user
from qunli.records import actions
from qunli.records.models import FilingCounter, Item
from qunli.records.tests.samples import page_scan
from tests.browser.test_walkthrough import login

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CODE = "J001-WS·2023-Y-{:04d}"  # the fonds' default 档号 format, no 机构（问题）代码


@pytest.fixture
def office(tree, lines, tmp_path, settings):
    """示范县's fonds J001 and its records officer: a staff grant on the county, women's line."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "store")},
        },
    }
    officer = make_user("danganyuan")
    grant(officer, "staff", tree["county"], lines=[lines["women"]])
    actions.create_fonds(officer, unit=tree["county"], code="J001", name="示范县群团组织")
    return officer


def pending(officer, unit, title, date, responsible="示范县妇联") -> Item:
    return actions.capture_record(
        officer,
        unit=unit,
        title=title,
        responsible=responsible,
        date=date,
        doc_no=f"县妇发〔2023〕{date.month}号",
        retention="Y",
        pages=1,
    )


def row(page, text):
    return page.locator("#object-table tbody tr").filter(has_text=text)


def test_file_a_batch_search_it_and_print_its_catalogue(page, live_server, office, tree, tmp_path):
    women = tree["women"]
    pending(office, women, "关于开展三八妇女节系列活动的通知", dt.date(2023, 3, 1))
    pending(office, women, "关于做好春季留守儿童关爱工作的报告", dt.date(2023, 4, 10))
    pending(office, women, "示范县妇联2023年工作总结", dt.date(2023, 12, 20))  # stays pending
    base = live_server.url
    login(page, base, office.username)

    # --- register one item through the capture form, with its scanned page --------------------------
    page.goto(f"{base}/records/items/pending/")
    expect(page.get_by_role("heading", name="待归档")).to_be_visible()
    page.get_by_role("link", name="新增").click()
    page.get_by_label("形成单位").fill("示范县妇联")
    page.get_by_role("listitem").filter(has_text="示范县妇联").first.click()
    expect(page.locator("#id_unit_chosen")).to_contain_text("示范县妇联")
    expect(page.get_by_label("形成单位")).to_be_focused()  # the re-rendered picker takes the focus back
    page.get_by_label("题名").fill("关于表彰2023年度巾帼建功标兵的决定")
    page.get_by_label("责任者").fill("示范县妇联")
    page.get_by_label("日期").fill("2023-05-20")
    page.get_by_label("文件编号").fill("县妇发〔2023〕5号")
    page.get_by_label("门类").select_option("WS")
    page.get_by_label("保管期限").select_option(label="永久")
    page.get_by_label("页数").fill("1")
    page.get_by_label("电子文件", exact=True).set_input_files(
        files=[{"name": "表彰决定.png", "mimeType": "image/png", "buffer": page_scan()}]
    )
    page.get_by_role("button", name="登记").click()
    expect(page.get_by_text("已登记，条目待归档。")).to_be_visible()
    captured = Item.objects.get(title="关于表彰2023年度巾帼建功标兵的决定")
    assert captured.status == Item.Status.PENDING and captured.files.count() == 1

    # --- tick three of the four pending items and file them ---------------------------------------------
    page.goto(f"{base}/records/items/pending/")
    expect(page.locator("#object-table tbody tr")).to_have_count(4)
    for title in (
        "关于表彰2023年度巾帼建功标兵的决定",
        "关于开展三八妇女节系列活动的通知",
        "关于做好春季留守儿童关爱工作的报告",
    ):
        row(page, title).get_by_role("checkbox").check()
    page.get_by_role("button", name="归档所选条目").click()
    page.wait_for_url(re.compile(r"/records/items/\?status=filed$"))
    expect(page.get_by_text("已归档 3 件，分 1 类编号。")).to_be_visible()
    # numbered by date within the class, from 0001 without a gap
    for n, title in enumerate(("三八妇女节", "留守儿童", "巾帼建功"), start=1):
        expect(row(page, title).get_by_role("link", name=CODE.format(n))).to_be_visible()
    expect(page.locator("#object-table tbody tr")).to_have_count(3)
    assert Item.objects.get(title__contains="工作总结").status == Item.Status.PENDING
    assert sorted(Item.objects.filter(status="filed").values_list("piece_no", flat=True)) == [1, 2, 3]

    # --- a two-character search of the item list: the hit, highlighted, with its 档号 ------------------
    page.goto(f"{base}/records/items/")
    page.get_by_label("关键词").fill("巾帼")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#object-table tbody tr")).to_have_count(1)
    hit = row(page, "巾帼建功")
    expect(hit.locator("mark")).to_have_text("巾帼")
    expect(hit.get_by_role("link", name=CODE.format(3), exact=True)).to_be_visible()
    expect(page.get_by_text("共 1 条")).to_be_visible()

    # --- open it; print the class's 归档文件目录 (PDF) and download it (xlsx) ----------------------------
    hit.get_by_role("link", name=CODE.format(3), exact=True).click()
    expect(page.get_by_role("heading", name="关于表彰2023年度巾帼建功标兵的决定")).to_be_visible()
    expect(page.locator("main code").first).to_have_text(CODE.format(3))
    with (
        page.context.expect_event("response", lambda r: "/catalogue.pdf" in r.url) as answer,
        page.expect_popup() as popup_info,
    ):
        page.get_by_role("link", name="本类目录 PDF").click()
    popup = popup_info.value  # Chromium shows it in its PDF viewer, ready to print
    assert answer.value.ok and answer.value.headers["content-type"] == "application/pdf"
    pdf = page.request.get(popup.url)  # the same document's bytes, with the same session
    assert pdf.ok and pdf.body().startswith(b"%PDF-")
    text = pdf_text(pdf.body())
    assert all(CODE.format(n) in text for n in (1, 2, 3)) and "巾帼建功标兵" in text
    assert CODE.format(4) not in text and "工作总结" not in text
    popup.close()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="本类目录 Excel").click()
    saved = tmp_path / "catalogue.xlsx"
    download_info.value.save_as(saved)
    rows = list(openpyxl.load_workbook(saved, read_only=True).active.iter_rows(values_only=True))
    assert rows[0][0] == "归档文件目录" and "J001" in rows[1][0]  # the title and the class line, as printed
    assert rows[2][:5] == ("件号", "档号", "文号", "责任者", "题名")
    assert [(r[0], r[1]) for r in rows[3:]] == [(n, CODE.format(n)) for n in (1, 2, 3)]
    assert rows[5][4] == "关于表彰2023年度巾帼建功标兵的决定"


def test_a_selection_with_an_item_missing_its_responsible_files_nothing(page, live_server, office, tree):
    women = tree["women"]
    complete = [
        pending(office, women, "关于开展三八妇女节系列活动的通知", dt.date(2023, 3, 1)),
        pending(office, women, "关于做好春季留守儿童关爱工作的报告", dt.date(2023, 4, 10)),
    ]
    lacking = pending(office, women, "关于成立巾帼志愿服务队的请示", dt.date(2023, 6, 1), responsible="")
    base = live_server.url
    login(page, base, office.username)
    page.goto(f"{base}/records/items/pending/")
    page.get_by_role("checkbox", name="全选").check()
    page.get_by_role("button", name="归档所选条目").click()
    page.wait_for_url(re.compile(r"/records/items/pending/$"))
    expect(
        page.get_by_role("alert").filter(
            has_text=f"“关于成立巾帼志愿服务队的请示”（条目 {lacking.pk}）缺少必著项：责任者。"
        )
    ).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="以上问题未解决前，所选条目均未归档。")).to_be_visible()
    expect(page.locator("#object-table tbody tr")).to_have_count(3)  # all three still pending
    assert set(Item.objects.values_list("status", flat=True)) == {Item.Status.PENDING}
    assert not Item.objects.filter(piece_no__isnull=False).exists()
    assert not FilingCounter.objects.filter(last_no__gt=0).exists()  # no 件号 used up
    assert all(not Item.objects.get(pk=i.pk).archival_code for i in complete)


def pdf_text(data: bytes) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    return "".join(pdf[i].get_textpage().get_text_bounded() for i in range(len(pdf)))
