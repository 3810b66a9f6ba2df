"""A citizen on a phone-sized screen asks for help on the public portal, staff handle the case
in the casework screens, and the citizen reads the result with the tracking code and the last
four digits of their phone."""

import re

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from qunli.casework.models import Case
from qunli.core.models import User

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PHONE = "13712348888"


OUTCOME = "已协调用人单位结清拖欠工资"


def login(page, base, username):
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/reports/"))


def step(page, case_pk, label: str, fields: dict, checks: dict | None = None):
    """Open the case page, press the step's button, fill its form and save."""
    page.goto(f"{page.base}/casework/{case_pk}/")
    page.get_by_role("link", name=label, exact=True).click()
    for name, value in fields.items():
        page.locator(f"[name={name}]").fill(value)
    for name, value in (checks or {}).items():
        page.locator(f"select[name={name}]").select_option(value)
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(rf"/casework/{case_pk}/$"))


def test_citizen_submits_on_a_phone_and_reads_the_result(page, live_server, accounts, tree):
    base = page.base = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})

    # --- the citizen, on the phone -------------------------------------------------------------
    page.goto(f"{base}/portal/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_role("link", name="我要反映诉求").click()
    page.get_by_label("向哪个单位反映").select_option(label="示范县总工会")
    page.get_by_label("诉求类型").select_option(label="劳资纠纷/拖欠工资")
    page.get_by_label("您的姓名").fill("赵建国")
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_label("诉求内容").fill("在工地干了三个月，老板拖欠工资一万二千元不给。")
    page.get_by_label("我同意工作人员为办理本诉求使用以上信息并与我联系。").check()
    expect(page.locator("#id_website")).not_to_be_in_viewport()  # the honeypot stays off-screen
    # the form fits the phone: nothing wider than the viewport
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("button", name="提交诉求").click()
    page.wait_for_url(re.compile(r"/portal/submitted/"))
    code = page.locator("#tracking-code").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]{10}", code)
    page.reload()
    expect(page.get_by_text(code)).to_have_count(0)  # shown once

    page.goto(f"{base}/portal/track/")
    page.get_by_role("textbox", name="查询码", exact=True).fill(code)
    page.get_by_label("手机号后四位").fill(PHONE[-4:])
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#public-status")).to_have_text("已收到，正在安排工作人员")

    # --- staff, in the casework screens ------------------------------------------------------------
    case = Case.objects.get(request__tracking_code=code)
    worker, supervisor = accounts["union_staff"], accounts["party_office"]
    login(page, base, worker.username)
    page.goto(f"{base}/casework/unassigned/")
    page.get_by_role("link", name=code).click()
    page.get_by_role("link", name="分派", exact=True).click()
    page.get_by_label("个案社工").select_option(str(worker.pk))
    page.get_by_label("督导").select_option(str(supervisor.pk))
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(rf"/casework/{case.pk}/$"))
    step(page, case.pk, "评估", {"note": "内部评估：证据齐全"})
    step(page, case.pk, "提交服务计划", {"note": "内部计划：约谈用人单位"})
    login(page, base, supervisor.username)
    page.goto(f"{base}/casework/{case.pk}/approve_plan/")
    page.get_by_label("批准").check()
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(rf"/casework/{case.pk}/$"))
    login(page, base, worker.username)
    step(page, case.pk, "记录服务", {"note": "内部服务记录：上门约谈"})
    step(page, case.pk, "回访", {"note": "内部回访：工资已到账"})
    step(page, case.pk, "结案", {"outcome": OUTCOME})
    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED

    # --- the citizen again, on the phone, without any staff session -----------------------------------
    page.context.clear_cookies()
    page.goto(f"{base}/portal/track/")
    page.get_by_role("textbox", name="查询码", exact=True).fill(code.lower())
    page.get_by_label("手机号后四位").fill(PHONE[-4:])
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#public-status")).to_have_text("已办结")
    expect(page.locator("#public-outcome")).to_have_text(OUTCOME)
    body = page.locator("main").inner_text()
    for secret in ("内部", worker.username, supervisor.username, str(User.objects.get(pk=worker.pk))):
        assert secret not in body
    # the wrong last four shows nothing
    page.get_by_role("textbox", name="查询码", exact=True).fill(code)
    page.get_by_label("手机号后四位").fill("0000")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_text("查询码或手机号后四位不正确")).to_be_visible()
    expect(page.locator("#public-status")).to_have_count(0)
