"""Keeping a practical project (我为群众办实事) up to date after creation: a deadline before
today is refused at creation; 编辑 corrects the creation fields with the same checks and a
before/after change-log row; 延期 needs a new deadline after the old one and today, may be
repeated, and records its reason — through the actions, the pages and the API."""

import datetime as dt
import json

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qunli.casework import wish_actions as wa
from qunli.casework.models import PracticalProject
from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog

pytestmark = pytest.mark.django_db
P = PracticalProject.Status
TODAY = timezone.localdate()


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def staff(accounts):
    return accounts["women_staff"]


def project(staff, tree, deadline=None, **kw) -> PracticalProject:
    data = {"title": "送法进村", "description": "每月一次法律讲座", "deadline": deadline or days(30)}
    data.update(kw)
    return wa.create_project(staff, unit=tree["women"], **data)


def api(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def send(c, method, url, data):
    return getattr(c, method)(url, json.dumps(data), content_type="application/json")


# --- creation ----------------------------------------------------------------------------------------

def test_creation_refuses_a_deadline_before_today(client_for, staff, tree):
    with pytest.raises(ActionError) as e:
        project(staff, tree, deadline=dt.date(2020, 1, 1))
    assert e.value.messages == ["完成时限不能早于今天。"]
    assert project(staff, tree, deadline=TODAY).deadline == TODAY
    r = client_for(staff).post(reverse("casework:project_add"), {"unit": tree["women"].pk, "title": "旧项目",
                                                                  "description": "内容", "deadline": "2020-01-01"})
    assert "完成时限不能早于今天。" in r.content.decode()
    r = send(api(staff), "post", "/api/casework/projects", {"unit_id": tree["women"].pk, "title": "旧项目",
                                                            "description": "内容", "deadline": "2020-01-01"})
    assert r.status_code == 400 and r.json()["detail"] == ["完成时限不能早于今天。"]
    assert PracticalProject.objects.count() == 1


# --- 编辑 ----------------------------------------------------------------------------------------------

def test_edit_changes_the_fields_and_logs_before_and_after(staff, tree):
    p = project(staff, tree)
    p = wa.edit_project(staff, p, unit=tree["town_women"], title="送法进村（城关镇）", description="每两周一次",
                        deadline=days(60))
    assert (p.unit, p.title, p.description, p.deadline) == (tree["town_women"], "送法进村（城关镇）", "每两周一次",
                                                             days(60))
    log = ChangeLog.objects.get(action="casework.edit_project")
    assert log.before["title"] == "送法进村" and log.after["title"] == "送法进村（城关镇）"
    assert log.before["deadline"] == days(30).isoformat() and log.after["deadline"] == days(60).isoformat()
    assert log.before["unit_id"] == tree["women"].pk and log.after["unit_id"] == tree["town_women"].pk


def test_edit_validates_as_creation_does(accounts, staff, tree):
    p = project(staff, tree)
    with pytest.raises(ActionError, match="请填写项目名称"):
        wa.edit_project(staff, p, title=" ")
    with pytest.raises(ActionError, match="请填写项目内容"):
        wa.edit_project(staff, p, description="")
    with pytest.raises(ActionError, match="完成时限不能早于今天"):
        wa.edit_project(staff, p, deadline=dt.date(2020, 1, 1))
    with pytest.raises(PermissionDenied):
        wa.edit_project(staff, p, unit=tree["union"])  # another line's unit
    with pytest.raises(PermissionDenied):
        wa.edit_project(accounts["leader"], p, title="x")
    with pytest.raises(ActionError, match="没有修改任何内容"):
        wa.edit_project(staff, p, title="送法进村")
    assert PracticalProject.objects.get(pk=p.pk).title == "送法进村"
    assert not ChangeLog.objects.filter(action="casework.edit_project").exists()


def test_edit_keeps_a_passed_deadline_when_only_the_text_changes(staff, tree):
    p = project(staff, tree)
    PracticalProject.objects.filter(pk=p.pk).update(deadline=days(-10))  # its deadline has passed since
    p = wa.edit_project(staff, p, title="送法进村（第二期）")
    assert p.title == "送法进村（第二期）" and p.deadline == days(-10)


def test_edit_sends_postponing_a_started_project_through_delay(staff, tree):
    p = wa.set_project_status(staff, project(staff, tree), status=P.IN_PROGRESS)
    with pytest.raises(ActionError, match="已延期"):
        wa.edit_project(staff, p, deadline=days(90))
    assert wa.edit_project(staff, p, deadline=days(20)).deadline == days(20)  # earlier is a correction
    planned = project(staff, tree, title="计划中的项目")
    assert wa.edit_project(staff, planned, deadline=days(90)).deadline == days(90)
    done = wa.complete_project(staff, project(staff, tree, title="已完成项目"), result="完成")
    with pytest.raises(ActionError, match="已完成的项目不能修改完成时限"):
        wa.edit_project(staff, done, deadline=days(10))
    assert wa.edit_project(staff, done, description="每月一次法律讲座，共12场").description.endswith("12场")


def test_edit_page(client_for, accounts, staff, tree):
    p = project(staff, tree)
    c = client_for(staff)
    url = reverse("casework:project_edit", args=[p.pk])
    assert url in c.get(p.get_absolute_url()).content.decode()
    page = c.get(url).content.decode()
    assert "送法进村" in page and days(30).isoformat() in page
    r = c.post(url, {"unit": tree["women"].pk, "title": "送法进村", "description": "内容", "deadline": "2020-01-01"})
    assert "完成时限不能早于今天。" in r.content.decode()
    r = c.post(url, {"unit": tree["women"].pk, "title": "送法进社区", "description": "内容",
                     "deadline": days(45).isoformat()})
    assert r.status_code == 302
    p.refresh_from_db()
    assert (p.title, p.description, p.deadline) == ("送法进社区", "内容", days(45))
    assert client_for(accounts["leader"]).get(url).status_code == 403  # read-only: no form (core.generic)
    assert client_for(accounts["union_staff"]).post(url, {"title": "x"}).status_code == 404


def test_edit_through_the_api(accounts, staff, tree):
    p = project(staff, tree)
    url = f"/api/casework/projects/{p.pk}"
    c = api(staff)
    r = send(c, "patch", url, {"title": "送法进社区"})
    assert r.status_code == 200 and r.json()["title"] == "送法进社区" and r.json()["deadline"] == days(30).isoformat()
    r = send(c, "patch", url, {"deadline": "2020-01-01"})
    assert r.status_code == 400 and r.json()["detail"] == ["完成时限不能早于今天。"]
    r = send(c, "patch", url, {"unit_id": tree["other_women"].pk})
    assert r.status_code == 400 and "责任单位" in r.json()["detail"][0]
    assert send(api(accounts["leader"]), "patch", url, {"title": "x"}).status_code == 404
    assert PracticalProject.objects.get(pk=p.pk).title == "送法进社区"


# --- 延期 ----------------------------------------------------------------------------------------------

def test_delay_needs_a_new_deadline_after_the_old_one_and_today(staff, tree):
    p = wa.set_project_status(staff, project(staff, tree), status=P.IN_PROGRESS)
    with pytest.raises(ActionError, match="延期请填写新的完成时限"):
        wa.set_project_status(staff, p, status=P.DELAYED)
    with pytest.raises(ActionError, match="新的完成时限须晚于原完成时限"):
        wa.set_project_status(staff, p, status=P.DELAYED, deadline=days(30))
    with pytest.raises(ActionError, match="新的完成时限须晚于原完成时限"):
        wa.set_project_status(staff, p, status=P.DELAYED, deadline=days(10))
    PracticalProject.objects.filter(pk=p.pk).update(deadline=days(-20))  # overdue now
    with pytest.raises(ActionError, match="新的完成时限须晚于今天"):
        wa.set_project_status(staff, p, status=P.DELAYED, deadline=days(-5))
    assert PracticalProject.objects.get(pk=p.pk).status == P.IN_PROGRESS
    p = wa.set_project_status(staff, p, status=P.DELAYED, deadline=days(40))
    assert p.status == P.DELAYED and p.deadline == days(40) and not p.is_overdue()


def test_a_delayed_project_can_be_delayed_again_with_a_later_date(staff, tree):
    p = wa.set_project_status(staff, project(staff, tree), status=P.DELAYED, deadline=days(60))
    p = wa.set_project_status(staff, p, status=P.DELAYED, deadline=days(90), reason="场地改建")
    assert p.status == P.DELAYED and p.deadline == days(90)
    with pytest.raises(ActionError, match="新的完成时限须晚于原完成时限（"):
        wa.set_project_status(staff, p, status=P.DELAYED, deadline=days(90))


def test_delay_reason_and_old_deadline_are_in_the_change_log(staff, tree):
    p = project(staff, tree)
    wa.set_project_status(staff, p, status=P.DELAYED, deadline=days(75), reason="施工单位未按期进场")
    log = ChangeLog.objects.get(action="casework.set_project_status")
    assert log.before["deadline"] == days(30).isoformat() and log.after["deadline"] == days(75).isoformat()
    assert log.after["reason"] == "施工单位未按期进场"


def test_the_deadline_moves_only_with_a_delay(staff, tree):
    p = project(staff, tree)
    with pytest.raises(ActionError, match="只有延期时可以填写新的完成时限"):
        wa.set_project_status(staff, p, status=P.IN_PROGRESS, deadline=days(90))
    p = wa.set_project_status(staff, p, status=P.IN_PROGRESS, deadline=days(30))  # unchanged: fine
    assert p.status == P.IN_PROGRESS and p.deadline == days(30)


def test_delay_on_the_page_and_through_the_api(client_for, staff, tree):
    p = project(staff, tree)
    c = client_for(staff)
    url = reverse("casework:project_status", args=[p.pk])
    r = c.post(url, {"status": "delayed"})
    assert "延期请填写新的完成时限。" in r.content.decode()
    r = c.post(url, {"status": "delayed", "deadline": days(50).isoformat(), "reason": "等待资金拨付"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert (p.status, p.deadline) == (P.DELAYED, days(50))
    r = c.post(url, {"status": "delayed", "deadline": days(70).isoformat()})
    assert r.status_code == 302 and PracticalProject.objects.get(pk=p.pk).deadline == days(70)
    a = api(staff)
    r = send(a, "post", f"/api/casework/projects/{p.pk}/status", {"status": "delayed", "deadline": days(70).isoformat()})
    assert r.status_code == 400 and "新的完成时限须晚于原完成时限" in r.json()["detail"][0]
    r = send(a, "post", f"/api/casework/projects/{p.pk}/status",
             {"status": "delayed", "deadline": days(100).isoformat(), "reason": "汛期停工"})
    assert r.status_code == 200 and r.json()["deadline"] == days(100).isoformat()
    reasons = [log.after.get("reason") for log in ChangeLog.objects.filter(action="casework.set_project_status")
               .order_by("seq")]
    assert reasons == ["等待资金拨付", None, "汛期停工"]
