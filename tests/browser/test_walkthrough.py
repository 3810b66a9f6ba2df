"""A staff member's first session, in a real browser: log in, browse the tree, import a
roster with one bad row, read the error, fix it, import, and see the dashboard change."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from qunli.core.identifiers import make_id_number
from qunli.people.models import Person

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

GOOD_1 = make_id_number("430121", dt.date(1986, 3, 8), 12)
GOOD_2 = make_id_number("430121", dt.date(1990, 7, 1), 35)
BAD = GOOD_2[:17] + ("0" if GOOD_2[17] != "0" else "1")  # wrong check digit


def roster(second_id: str) -> bytes:
    lines = ["姓名,身份证号,所属单位,联系电话",
             f"李秀英,{GOOD_1},东风村妇联,13912345678",
             f"王芳,{second_id},东风村妇联,13812345678"]
    # Chinese Excel saves CSV as GBK; the importer must read it as such.
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def login(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/reports/"))


def persons_on_dashboard(page, base) -> int:
    page.goto(f"{base}/reports/")
    return int(page.locator("[data-stat=persons]").inner_text().replace(",", ""))


def upload(page, base, content: bytes):
    page.goto(f"{base}/core/import/?kind=persons")
    page.set_input_files("input[type=file]", files=[{"name": "妇联花名册.csv", "mimeType": "text/csv",
                                                      "buffer": content}])
    page.get_by_role("button", name="上传并校验").click()
    page.wait_for_url(re.compile(r"/core/import/[0-9a-f-]{36}/"))


def test_staff_imports_a_roster_after_fixing_the_bad_row(page, live_server, accounts, tree):
    base = live_server.url
    login(page, base, "fulian")
    before = persons_on_dashboard(page, base)
    expect(page.locator("#chart-level canvas")).to_have_count(1)  # ECharts rendered from local assets

    page.goto(f"{base}/orgs/tree/")
    page.get_by_role("button", name="展开 示范县").click()
    page.get_by_role("button", name="展开 城关镇").click()
    page.get_by_role("button", name="展开 东风村").click()
    expect(page.get_by_role("link", name="东风村妇联")).to_be_visible()
    expect(page.get_by_text("示范县总工会")).to_have_count(0)  # another line's unit stays hidden

    upload(page, base, roster(BAD))
    errors = page.locator("#import-errors")
    expect(errors).to_contain_text("第3行")
    expect(errors).to_contain_text("校验位错误")
    expect(page.get_by_role("button", name="确认导入")).to_have_count(0)
    assert Person.objects.count() == 0

    upload(page, base, roster(GOOD_2))
    page.get_by_role("button", name="确认导入").click()
    expect(page.get_by_text("已导入")).to_be_visible(timeout=20000)
    assert set(Person.objects.values_list("name", flat=True)) == {"李秀英", "王芳"}

    assert persons_on_dashboard(page, base) == before + 2
