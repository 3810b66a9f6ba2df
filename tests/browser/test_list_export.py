"""导出当前筛选 exports what is on screen: the filter form reloads only the table (htmx), and
the export link used to keep the query of the first page load — a filtered list of two units
exported the whole tree. Filtering again must not repeat parameters in the address either."""

import io
import re
from urllib.parse import parse_qs, urlsplit

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.browser.test_walkthrough import login

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_export_after_filtering_holds_only_the_filtered_rows(page, live_server, tree, accounts):
    login(page, live_server.url, "qunban")
    page.goto(f"{live_server.url}/orgs/units/")
    page.get_by_label("关键词").fill("妇联")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#object-table tbody tr")).to_have_count(3)  # 示范县妇联, 城关镇妇联, 东风村妇联
    page.get_by_label("关键词").fill("城关")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#object-table tbody tr")).to_have_count(2)  # 城关镇, 城关镇妇联
    expect(page).to_have_url(re.compile(r"q=%E5%9F%8E%E5%85%B3"))  # 城关, pushed with the table
    expect(page.get_by_role("link", name="导出当前筛选")).to_have_attribute("href", re.compile(r"q=%E5%9F%8E%E5%85%B3"))
    assert parse_qs(urlsplit(page.url).query)["q"] == ["城关"]  # once, not once per filtering
    with page.expect_download() as download:
        page.get_by_role("link", name="导出当前筛选").click()
    sheet = openpyxl.load_workbook(io.BytesIO(open(download.value.path(), "rb").read())).active
    names = sorted(row[0] for row in sheet.iter_rows(min_row=2, values_only=True) if row[0])
    assert names == ["城关镇", "城关镇妇联"]
