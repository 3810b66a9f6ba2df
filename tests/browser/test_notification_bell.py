"""The notification bell, in a real browser: a colleague assigns two cases to a caseworker
(through the action), the caseworker logs in and the bell in the shell shows 2; the inbox
lists both, clicking one lands on that case, and the bell there shows 1."""

import re

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, grant, make_user
from qunli.casework import actions
from qunli.casework.models import RequestType

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def new_case(intake, unit, phone):
    return actions.receive_request(
        intake,
        unit=unit,
        type=RequestType.objects.get(code="domestic_violence"),
        channel="12338",
        requester_name="李小红",
        requester_phone=phone,
        description="需要帮助",
    )


def test_assigned_caseworker_follows_the_bell_to_the_case(page, live_server, accounts, tree, lines):
    intake = accounts["women_staff"]
    worker, supervisor = make_user("xiaowang"), make_user("laozhao")
    for u in (worker, supervisor):
        grant(u, "staff", tree["county"], lines=[lines["women"]])
    # each action commits on its own (a transactional test): the inbox rows are written then
    first = actions.assign_case(
        intake, new_case(intake, tree["women"], "13800000001"), caseworker=worker, supervisor=supervisor
    )
    second = actions.assign_case(
        intake, new_case(intake, tree["women"], "13800000002"), caseworker=worker, supervisor=supervisor
    )
    code = first.request.tracking_code

    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("用户名").fill(worker.username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/reports/"))

    bell = page.get_by_role("link", name="通知，未读 2 条")
    expect(bell.locator("[data-unread]")).to_have_text("2")
    bell.click()
    page.wait_for_url(re.compile(r"/core/notifications/$"))
    item = page.locator("li.list-group-item", has_text=code)
    expect(item).to_contain_text("您被分派为个案")
    expect(page.locator("li.list-group-item", has_text=second.request.tracking_code)).to_be_visible()

    item.get_by_role("button", name="查看").click()
    page.wait_for_url(re.compile(rf"/casework/{first.pk}/$"))
    expect(page.get_by_role("heading", name=re.compile(code))).to_be_visible()
    expect(page.get_by_role("link", name="通知，未读 1 条").locator("[data-unread]")).to_have_text("1")

    # back in the inbox, the opened one is read, the other one still waits
    page.get_by_role("link", name="通知，未读 1 条").click()
    expect(page.locator("li.list-group-item-warning")).to_have_count(1)
    expect(page.locator("li.list-group-item-warning")).to_contain_text(second.request.tracking_code)
