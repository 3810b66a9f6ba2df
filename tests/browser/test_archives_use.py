"""A citizen finds an open file in the public catalogue on a phone, asks to use it and, in the
description, for a controlled file too; staff attach the controlled file, the archives leader
approves it, and the citizen reads it online — a page image with the reader's name and time
drawn onto it on the server, while the controlled title never appears in the public search."""

import datetime as dt
import io
import re

import pytest
from PIL import Image, ImageChops
from playwright.sync_api import expect

from conftest import PASSWORD, grant, make_user
from qunli.records import actions
from qunli.records.models import Item, ReadingEvent, UseLine, UseRequest
from qunli.records.tests.samples import page_scan

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PHONE = "13912345678"


def login(page, base, username):
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/reports/"))


def test_search_request_approve_and_read_with_watermark(page, live_server, accounts, tree, tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "store")}}}
    staff = accounts["women_staff"]
    actions.create_fonds(staff, unit=tree["county"], code="J001", name="示范县群团组织")
    common = dict(unit=tree["women"], responsible="示范县民政局", retention="Y", pages=1)
    open_item = actions.capture_record(staff, title="1985年婚姻登记工作通知", date=dt.date(1985, 3, 1),
                                       classification="public", files=[("a.png", page_scan())], **common)
    Item.objects.filter(pk=open_item.pk).update(openness="open")  # as an opening decision leaves it
    controlled = actions.capture_record(staff, title="城关镇1985年婚姻登记存根（返城知青）", date=dt.date(1985, 6, 1),
                                        openness="controlled", files=[("b.png", page_scan())], **common)
    actions.file_items(staff, [open_item.pk, controlled.pk])
    controlled.refresh_from_db()
    leader = make_user("danganjuzhang")
    grant(leader, "leader", tree["county"], all_lines=True)
    base = live_server.url

    # --- the citizen, on a phone: search the public catalogue and ask ----------------------------------
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/portal/")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="档案查询").click()
    page.get_by_label("关键词").fill("婚姻登记")
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("link", name="1985年婚姻登记工作通知")).to_be_visible()
    expect(page.get_by_text("返城知青")).to_have_count(0)  # controlled: never in the public search
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("link", name="1985年婚姻登记工作通知").click()
    page.get_by_role("link", name="申请利用").click()
    page.get_by_label("您的姓名").fill("王芳")
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_label("利用目的").select_option(label="婚姻登记")
    page.get_by_label("需求说明（可选）").fill("另需1985年本人在城关镇的婚姻登记存根")
    page.get_by_label("我同意档案部门为办理本次利用使用以上信息。").check()
    expect(page.locator("#id_website")).not_to_be_in_viewport()
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(re.compile(r"/portal/use/submitted/$"))
    code = page.locator("#use-code").inner_text().strip()
    req = UseRequest.objects.get(code=code)

    # --- staff attach the controlled file; the archives leader approves it --------------------------------
    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, base, staff.username)
    page.goto(f"{base}/records/use/")
    page.get_by_role("link", name=code).click()
    expect(page.get_by_text("另需1985年本人在城关镇的婚姻登记存根")).to_be_visible()
    page.get_by_label("加入档号（每行一个）").fill(controlled.archival_code)
    page.get_by_role("button", name="加入调阅条目").click()
    line = UseLine.objects.get(request=req, item=controlled)
    expect(page.locator(f"#line-{line.pk}")).to_have_attribute("data-status", "pending")
    login(page, base, leader.username)
    page.goto(f"{base}/records/use/{req.pk}/")
    page.locator(f"#line-{line.pk}").get_by_role("button", name="批准").click()
    expect(page.locator(f"#line-{line.pk}")).to_have_attribute("data-status", "approved")

    # --- the citizen reads it online, watermarked ------------------------------------------------------
    page.context.clear_cookies()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/portal/use/")
    page.get_by_label("利用单号").fill(code)
    page.get_by_label("手机号后四位").fill(PHONE[-4:])
    page.get_by_role("button", name="进入").click()
    page.get_by_role("link", name="城关镇1985年婚姻登记存根（返城知青）").click()
    expect(page.get_by_text("王芳")).to_be_visible()
    img = page.get_by_role("img", name="第1页（带水印）")
    expect(img).to_be_visible()
    page.wait_for_function("document.querySelector('img[data-page=\"1\"]').naturalWidth > 0")
    shot = Image.open(io.BytesIO(page.request.get(base + img.get_attribute("src")).body())).convert("RGB")
    original = Image.open(io.BytesIO(page_scan())).convert("RGB").resize(shot.size)
    marked = ImageChops.difference(shot, original).convert("L").point(lambda v: 255 if v > 40 else 0)
    assert marked.histogram()[255] > shot.size[0] * shot.size[1] * 0.01  # the watermark is on the page
    assert ReadingEvent.objects.filter(line=line, reader_name="王芳").count() >= 1
    assert "王芳" in ReadingEvent.objects.filter(line=line).first().watermark
