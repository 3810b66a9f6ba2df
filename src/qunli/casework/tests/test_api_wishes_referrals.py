"""The casework API for wishes, practical projects and referrals: each write goes through
its action (a change-log row, a Chinese refusal that changes nothing), lists and details are
scoped like the pages — a foreign unit's wish or project is a 404 and absent from every list
— and a referral is seen only by those who may see its case (need-to-know)."""

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from conftest import grant, make_user
from qunli.casework import actions
from qunli.casework import wish_actions as wa
from qunli.casework.models import Case, PracticalProject, Referral, RequestType, Wish
from qunli.core.models import ChangeLog
from qunli.core.notification_models import Notification
from qunli.portal import actions as portal_actions

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CHILD = "欧阳小明"


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }


def api(user) -> Client:
    """A signed-in client of its own (a shared one would follow whoever logged in last)."""
    c = Client()
    c.force_login(user)
    return c


def post(c, url, data=None):
    return c.post(url, json.dumps(data or {}), content_type="application/json")


def detail(response) -> list[str]:
    body = response.json()
    assert isinstance(body["detail"], list) and body["detail"], body
    return body["detail"]


@pytest.fixture
def outsider(tree, lines):
    """Staff of the neighbouring county: their objects are foreign to every account here."""
    u = make_user("waixian")
    grant(u, "staff", tree["other_women"], lines=[lines["women"]])
    return u


# --- wishes ------------------------------------------------------------------------------------------


@pytest.fixture
def child(tree, person_factory):
    return person_factory(unit=tree["village_women"], name=CHILD)


@pytest.fixture
def foreign_wish(tree, outsider, person_factory) -> Wish:
    return wa.collect_wish(
        outsider,
        served=person_factory(unit=tree["other_women"], name="邻县孩子"),
        unit=tree["other_women"],
        category="daily",
        text="邻县的心愿",
        amount="80",
    )


def test_wish_list_and_detail_are_scoped_and_masked(accounts, tree, child, foreign_wish):
    staff = accounts["party_office"]
    mine = wa.collect_wish(
        staff, served=child, unit=tree["women"], category="school", text="想要新书包", amount="120"
    )
    town = wa.collect_wish(
        staff, served=child, unit=tree["town_women"], category="daily", text="冬衣", amount="200"
    )
    c = api(staff)
    body = c.get("/api/casework/wishes").json()
    assert body["count"] == 2 and {i["id"] for i in body["items"]} == {mine.pk, town.pk}
    assert CHILD not in json.dumps(body, ensure_ascii=False) and body["items"][0]["served"] == "欧***"
    assert c.get(f"/api/casework/wishes/{foreign_wish.pk}").status_code == 404
    assert detail(c.get(f"/api/casework/wishes/{foreign_wish.pk}")) == ["对象不存在或不在您的数据范围内。"]
    # filters: the unit's subtree, the status, the category; a foreign unit finds nothing
    assert [i["id"] for i in c.get("/api/casework/wishes", {"unit": tree["town"].pk}).json()["items"]] == [
        town.pk
    ]
    assert c.get("/api/casework/wishes", {"unit": tree["other_women"].pk}).json()["count"] == 0
    assert c.get("/api/casework/wishes", {"category": "school"}).json()["items"][0]["id"] == mine.pk
    assert c.get("/api/casework/wishes", {"status": "published"}).json()["count"] == 0
    assert c.get("/api/casework/wishes", {"status": "nonsense"}).status_code == 422
    # the union's staff see no women's-line wish
    assert api(accounts["union_staff"]).get("/api/casework/wishes").json()["count"] == 0


def test_wish_lifecycle_through_the_api_calls_the_actions(accounts, tree, child):
    staff = accounts["party_office"]
    c = api(staff)
    r = post(
        c,
        "/api/casework/wishes",
        {
            "unit_id": tree["women"].pk,
            "person_id": child.pk,
            "category": "school",
            "text": "想要一套课外书",
            "amount": "120.50",
        },
    )
    assert r.status_code == 201, r.content
    w = r.json()
    assert w["status"] == "pending" and w["amount"] == "120.50" and w["served"] == "欧***"
    url = f"/api/casework/wishes/{w['id']}"
    r = post(c, f"{url}/approve")
    assert r.status_code == 400 and detail(r) == ["心愿需由登记人以外的工作人员审核。"]
    assert post(api(accounts["women_staff"]), f"{url}/approve").json()["status"] == "approved"
    assert post(c, f"{url}/publish").json()["public_name"] == "欧*"
    wa.claim_wish(portal_actions.portal_account(), w["id"], name="李爱心", phone="13812345678")
    claimed = c.get(url).json()
    assert claimed["status"] == "claimed" and claimed["donor_phone"] == "138****5678"
    assert "13812345678" not in c.get(url).content.decode()
    assert post(c, f"{url}/cancel-claim").status_code == 422  # the reason is required
    r = post(c, f"{url}/cancel-claim", {"reason": "认领人联系不上"})
    assert r.json()["status"] == "published" and r.json()["donor_name"] == ""
    assert detail(post(c, f"{url}/claim", {"name": "王爱心", "phone": "1381234"})) == ["请填写正确的联系电话。"]
    r = post(c, f"{url}/claim", {"name": "王爱心", "phone": "13812345679", "org": "县实验中学"})  # came by phone
    assert r.json()["status"] == "claimed" and r.json()["donor_phone"] == "138****5679"
    r = c.post(f"{url}/fulfil", {"photo": SimpleUploadedFile("done.png", PNG, content_type="image/png")})
    assert r.status_code == 200 and r.json()["status"] == "fulfilled" and r.json()["has_photo"]
    logged = list(ChangeLog.objects.filter(object_type="casework.wish").values_list("action", flat=True))
    for name in ("collect_wish", "approve_wish", "publish_wish", "claim_wish", "cancel_claim", "record_claim",
                 "fulfil_wish"):
        assert f"casework.{name}" in logged


def test_wish_refusals_are_chinese_and_change_nothing(accounts, tree, child, outsider, person_factory):
    staff = accounts["party_office"]
    c = api(staff)
    w = wa.collect_wish(staff, served=child, unit=tree["women"], category="school", text="书", amount="50")
    before = ChangeLog.objects.count()
    r = post(c, f"/api/casework/wishes/{w.pk}/publish")  # not yet approved
    assert r.status_code == 400 and "只有审核通过的微心愿可以发布" in detail(r)[0]
    r = post(
        c,
        "/api/casework/wishes",
        {
            "unit_id": tree["women"].pk,
            "person_id": child.pk,
            "category": "school",
            "text": "书",
            "amount": "0",
        },
    )
    assert r.status_code == 400 and "预计金额须大于0" in detail(r)[0]
    foreigner = person_factory(unit=tree["other_women"], name="邻县某人")
    r = post(
        c,
        "/api/casework/wishes",
        {
            "unit_id": tree["women"].pk,
            "person_id": foreigner.pk,
            "category": "school",
            "text": "书",
            "amount": "10",
        },
    )
    assert r.status_code == 400 and "服务对象" in detail(r)[0] and "邻县" not in r.content.decode()
    r = post(
        c,
        "/api/casework/wishes",
        {
            "unit_id": tree["other_women"].pk,
            "person_id": child.pk,
            "category": "school",
            "text": "书",
            "amount": "10",
        },
    )
    assert r.status_code == 400 and "负责单位" in detail(r)[0]
    r = c.post(f"/api/casework/wishes/{w.pk}/fulfil", {"photo": SimpleUploadedFile("x.png", b"not a png")})
    assert r.status_code == 400 and "只有已认领的微心愿可以确认圆梦" in detail(r)[0]
    # read-only and foreign accounts cannot act on it
    assert post(api(accounts["leader"]), f"/api/casework/wishes/{w.pk}/approve").status_code == 404
    assert post(api(outsider), f"/api/casework/wishes/{w.pk}/approve").status_code == 404
    assert Wish.objects.get(pk=w.pk).status == Wish.Status.PENDING
    assert ChangeLog.objects.count() == before and Wish.objects.count() == 1


# --- practical projects ------------------------------------------------------------------------------


def test_projects_through_the_api(accounts, tree, outsider):
    staff = accounts["women_staff"]
    c = api(staff)
    foreign = wa.create_project(
        outsider, unit=tree["other_women"], title="邻县项目", description="内容", deadline=dt.date(2030, 1, 1)
    )
    late = wa.create_project(
        staff,
        unit=tree["town_women"],
        title="修缮妇女之家",
        description="内容",
        deadline=timezone.localdate(),
    )
    # its deadline passed since it was set up (creation refuses a past one)
    PracticalProject.objects.filter(pk=late.pk).update(deadline=timezone.localdate() - dt.timedelta(days=1))
    r = post(
        c,
        "/api/casework/projects",
        {
            "unit_id": tree["women"].pk,
            "title": "建儿童之家",
            "description": "为留守儿童建一个活动室",
            "deadline": "2030-06-30",
        },
    )
    assert r.status_code == 201, r.content
    p = r.json()
    assert p["status"] == "planned" and not p["is_published"] and not p["overdue"]
    body = c.get("/api/casework/projects").json()
    assert {i["id"] for i in body["items"]} == {p["id"], late.pk}
    assert c.get(f"/api/casework/projects/{foreign.pk}").status_code == 404
    assert [i["id"] for i in c.get("/api/casework/projects", {"overdue": "true"}).json()["items"]] == [
        late.pk
    ]
    assert [i["id"] for i in c.get("/api/casework/projects", {"q": "儿童"}).json()["items"]] == [p["id"]]
    assert c.get("/api/casework/projects", {"unit": tree["town"].pk}).json()["items"][0]["id"] == late.pk
    url = f"/api/casework/projects/{p['id']}"
    r = post(c, f"{url}/status", {"status": "delayed", "deadline": "2030-12-31"})
    assert r.json()["status"] == "delayed" and r.json()["deadline"] == "2030-12-31"
    r = post(c, f"{url}/status", {"status": "completed"})
    assert r.status_code == 422  # completion goes through /complete, with its result
    r = post(c, f"{url}/complete", {"result": "已建成并投入使用"})
    assert r.json()["status"] == "completed"
    r = post(c, f"{url}/status", {"status": "in_progress"})
    assert r.status_code == 400 and "不能从" in detail(r)[0]
    assert post(c, f"{url}/publish", {"publish": True}).json()["is_published"]
    assert c.get("/api/casework/projects", {"is_published": "true"}).json()["count"] == 1
    r = post(c, f"{url}/publish", {"publish": True})
    assert r.status_code == 400 and "已公开" in detail(r)[0]
    assert post(c, f"/api/casework/projects/{foreign.pk}/complete", {"result": "x"}).status_code == 404
    assert PracticalProject.objects.get(pk=foreign.pk).status == "planned"
    assert ChangeLog.objects.filter(action="casework.complete_project").count() == 1


# --- referrals: need-to-know -------------------------------------------------------------------------


@pytest.fixture
def team(tree, lines, accounts):
    out = {}
    for name in ("worker", "super", "colleague"):
        out[name] = make_user(name)
        grant(out[name], "staff", tree["county"], lines=[lines["women"]])
    out["town"] = make_user("town_staff")
    grant(out["town"], "staff", tree["town_women"], lines=[lines["women"]])
    out["intake"] = accounts["women_staff"]
    return out


@pytest.fixture
def case(team, tree) -> Case:
    c = actions.receive_request(
        team["intake"],
        unit=tree["women"],
        type=RequestType.objects.get(code="domestic_violence"),
        channel="12338",
        requester_name="李小红",
        requester_phone="13800138000",
        description="需要庇护",
    )
    return actions.assign_case(team["intake"], c, caseworker=team["worker"], supervisor=team["super"])


def test_referrals_are_seen_only_by_those_who_may_see_the_case(team, tree, case, accounts, outsider):
    w = api(team["worker"])
    r = post(
        w,
        f"/api/casework/cases/{case.pk}/referrals",
        {"kind": "referral", "to_unit_id": tree["union"].pk, "reason": "涉及劳动争议，转总工会"},
    )
    assert r.status_code == 201, r.content
    ref = r.json()
    assert ref["status"] == "pending" and ref["tracking_code"] == case.request.tracking_code
    url = f"/api/casework/referrals/{ref['id']}"
    # the case's team and the receiving unit's staff see it; a colleague with a grant on the
    # case's unit, the county leader, a township's staff and the neighbouring county do not
    union = api(accounts["union_staff"])
    for c in (w, api(team["super"]), union):
        assert c.get(url).status_code == 200
        assert c.get("/api/casework/referrals").json()["count"] == 1
    for c in (api(team["colleague"]), api(accounts["leader"]), api(team["town"]), api(outsider)):
        assert c.get(url).status_code == 404
        assert c.get("/api/casework/referrals").json()["count"] == 0
        assert post(c, f"{url}/decline", {"reason": "x"}).status_code == 404
    assert [i["id"] for i in union.get("/api/casework/referrals", {"inbox": "true"}).json()["items"]] == [
        ref["id"]
    ]
    assert w.get("/api/casework/referrals", {"inbox": "true"}).json()["count"] == 0  # sent, not received
    assert (
        w.get("/api/casework/referrals", {"unit": tree["union"].pk, "kind": "referral"}).json()["count"] == 1
    )
    assert w.get("/api/casework/referrals", {"unit": tree["town"].pk}).json()["count"] == 0
    assert w.get("/api/casework/referrals", {"status": "declined"}).json()["count"] == 0
    # only the receiving side decides; a decline needs its reason
    r = post(w, f"{url}/accept")
    assert r.status_code == 403 and "接收单位的工作人员" in detail(r)[0]
    assert post(union, f"{url}/decline").status_code == 422
    r = post(union, f"{url}/decline", {"reason": "不属工会受理范围"})
    assert (
        r.status_code == 200
        and r.json()["status"] == "declined"
        and r.json()["decline_reason"] == "不属工会受理范围"
    )
    # declined: the union's staff no longer see the case, hence nor its referral
    assert union.get(url).status_code == 404 and union.get("/api/casework/referrals").json()["count"] == 0
    assert w.get(url).json()["status"] == "declined"
    assert ChangeLog.objects.filter(action="casework.decline_referral").count() == 1
    assert Referral.objects.get().status == "declined"


def test_accepting_a_referral_moves_the_case_and_refusals_change_nothing(
    team, tree, case, accounts, django_capture_on_commit_callbacks
):
    w = api(team["worker"])
    r = post(
        w,
        f"/api/casework/cases/{case.pk}/referrals",
        {"kind": "transfer", "to_unit_id": tree["union"].pk, "reason": "x"},
    )
    assert r.status_code == 400 and "其他条线请用“转介”" in detail(r)[0]
    r = post(
        w,
        f"/api/casework/cases/{case.pk}/referrals",
        {"kind": "referral", "to_unit_id": tree["other_women"].pk, "reason": "x"},
    )
    assert r.status_code == 400 and "不在可转出的范围内" in detail(r)[0] and "邻县" not in r.content.decode()
    assert (
        post(
            api(team["colleague"]),
            f"/api/casework/cases/{case.pk}/referrals",
            {"kind": "referral", "to_unit_id": tree["union"].pk, "reason": "x"},
        ).status_code
        == 404
    )
    assert not Referral.objects.exists()
    ref = post(
        w,
        f"/api/casework/cases/{case.pk}/referrals",
        {"kind": "referral", "to_unit_id": tree["union"].pk, "reason": "劳动争议"},
    ).json()
    union = api(accounts["union_staff"])
    with django_capture_on_commit_callbacks(execute=True):
        r = post(union, f"/api/casework/referrals/{ref['id']}/accept")
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    moved = Case.objects.get(pk=case.pk)
    assert moved.unit_id == tree["union"].pk and moved.caseworker_id is None
    r = post(union, f"/api/casework/referrals/{ref['id']}/accept")
    assert r.status_code == 400 and "不能再处理" in detail(r)[0]
    # the sending team left the case's need-to-know with it; the sender was told
    assert w.get(f"/api/casework/referrals/{ref['id']}").status_code == 404
    assert w.get("/api/casework/referrals").json()["count"] == 0
    assert Notification.objects.filter(recipient=team["worker"], kind="referral_accepted").exists()


def test_new_list_endpoints_query_counts_are_flat(
    team, tree, case, accounts, child, django_assert_max_num_queries
):
    staff = accounts["party_office"]
    for i in range(8):
        wa.collect_wish(
            staff, served=child, unit=tree["women"], category="school", text=f"心愿{i}", amount="10"
        )
        wa.create_project(
            staff, unit=tree["women"], title=f"项目{i}", description="内容", deadline=dt.date(2030, 1, 1)
        )
    c = api(staff)
    c.get("/api/casework/wishes")  # warm the session
    with django_assert_max_num_queries(9):  # session (+ its save), account, grants (2), count, page
        assert c.get("/api/casework/wishes").json()["count"] == 8
    with django_assert_max_num_queries(9):  # session (+ its save), account, grants (2), count, page
        assert c.get("/api/casework/projects").json()["count"] == 8
    r = actions.transfer(team["worker"], case, to_unit=tree["town_women"], reason="属地")
    actions.decline_referral(team["town"], r, reason="不属本镇")
    actions.transfer(
        team["worker"], Case.objects.get(pk=case.pk), to_unit=tree["village_women"], reason="属地"
    )
    w = api(team["worker"])
    w.get("/api/casework/referrals")
    with django_assert_max_num_queries(9):
        assert w.get("/api/casework/referrals").json()["count"] == 2


def test_openapi_documents_the_new_routes_in_chinese(db):
    import re

    schema = Client().get("/api/openapi.json").json()
    ops = [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if re.match(r"/api/casework/(wishes|projects|referrals|cases/\{case_id\}/referrals)", path)
    ]
    assert len(ops) == 24  # with PATCH /wishes/{id}, PATCH /projects/{id} and POST /referrals/{id}/withdraw
    for path, method, op in ops:
        assert re.search(r"[\u4e00-\u9fff]", op.get("summary", "")), (method, path)
    wish = schema["components"]["schemas"]["WishOut"]["properties"]
    assert "已脱敏" in wish["served"]["description"] and "已脱敏" in wish["donor_phone"]["description"]
    fulfil = schema["paths"]["/api/casework/wishes/{wish_id}/fulfil"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in fulfil


def test_a_dissolved_unit_takes_no_new_wish_or_project_through_the_api_or_the_page(accounts, tree, child):
    """The page's unit picker offers only active units; the actions say the same to the API."""
    from qunli.orgs import actions as orgs_actions

    staff = accounts["women_staff"]
    orgs_actions.dissolve_unit(accounts["party_office"], tree["town_women"])
    c = api(staff)
    wishes, projects, logs = Wish.objects.count(), PracticalProject.objects.count(), ChangeLog.objects.count()
    r = post(c, "/api/casework/projects", {"unit_id": tree["town_women"].pk, "title": "新项目", "description": "内容",
                                          "deadline": "2030-01-01"})
    assert r.status_code == 400 and "已撤销、合并或拆分" in detail(r)[0]
    r = post(c, "/api/casework/wishes", {"unit_id": tree["town_women"].pk, "person_id": child.pk,
                                        "category": "school", "text": "想要一套课外书", "amount": "80"})
    assert r.status_code == 400 and "已撤销、合并或拆分" in detail(r)[0]
    with pytest.raises(actions.ActionError, match="已撤销、合并或拆分"):
        wa.collect_wish(staff, served=child, unit=tree["town_women"], category="school", text="想要一套课外书",
                        amount=80)
    assert (Wish.objects.count(), PracticalProject.objects.count()) == (wishes, projects)
    assert ChangeLog.objects.count() == logs
