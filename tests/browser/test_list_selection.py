"""A list's own controls keep the rows a user ticked: on the opening queue (开放鉴定) the
committee member ticks an item, then picks 控制使用 in the decision form beside the table and
submits. The filter form used to reload the table on a change of *any* select on the page,
which unticked the row and dropped the 待鉴定 filter, so only the default decision could ever
be given."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from conftest import grant, make_user
from qunli.records import actions, opening
from qunli.records.models import Item, OpeningReview
from tests.browser.test_walkthrough import login

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_choosing_a_decision_keeps_the_ticked_row_and_decides_it(page, live_server, tree, lines):
    officer = make_user("kaifang")
    grant(officer, "staff", tree["county"], lines=[lines["women"]])
    fonds = actions.create_fonds(officer, unit=tree["county"], code="J001", name="示范县群团组织")
    items = [actions.capture_record(officer, unit=tree["women"], title=title, responsible="示范县妇联",
                                    date=dt.date(1990, 3, n), doc_no=f"县妇发〔1990〕{n}号", retention="Y", pages=1)
             for n, title in ((1, "关于妇女儿童维权个案的报告"), (2, "关于召开妇女代表大会的通知"))]
    actions.file_items(officer, [i.pk for i in items])
    assert opening.enqueue_due(officer, fonds) == 2

    login(page, live_server.url, "kaifang")
    page.goto(f"{live_server.url}/records/opening/?decision=queued")
    row = page.locator("#object-table tbody tr").filter(has_text="维权个案")
    row.locator(".row-check").check()
    page.locator("#decision").select_option(label="控制使用")
    page.wait_for_timeout(300)  # a reload of the table, had one been triggered, has landed by now
    expect(row.locator(".row-check")).to_be_checked()
    page.locator("#reason").fill("涉及未成年人隐私")
    page.get_by_role("button", name="鉴定所选", exact=True).click()

    expect(page.get_by_role("alert").first).not_to_contain_text("请先选择")
    controlled = Item.objects.get(pk=items[0].pk)
    assert controlled.openness == "controlled"
    assert OpeningReview.objects.get(item=items[1]).decision == "queued"  # the other row untouched
