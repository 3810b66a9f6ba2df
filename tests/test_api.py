"""The REST API, endpoint by endpoint: the happy path, bad input (a Chinese message, nothing
changed) and the change-log row each write leaves. The route × account matrix lives in
test_authorization_matrix.py."""

import datetime as dt
import json
import re

import pytest
from django.test import Client

from qunli.core.actions import issue_api_token
from qunli.core.identifiers import make_id_number
from qunli.core.models import AccessLog, ApiToken, ChangeLog
from qunli.orgs.models import BaseCondition, Checklist, Position, Unit, UnitStatus, Venue
from qunli.people.models import Membership, Person, Team, TeamMember, VolunteerProfile

CJK = re.compile(r"[\u4e00-\u9fff]")


def body(response):
    return json.loads(response.content.decode())


def assert_chinese_error(response, status):
    assert response.status_code == status, response.content.decode()
    detail = body(response)["detail"]
    assert isinstance(detail, list) and detail, detail
    assert all(CJK.search(m) for m in detail), detail
    return detail


def changes(action: str) -> int:
    return ChangeLog.objects.filter(action=action).count()


class Api:
    """A bearer-token client speaking JSON."""

    def __init__(self, user):
        self.user = user
        self.client = Client(headers={"Authorization": f"Bearer {issue_api_token(user, user, 'test')}"})

    def get(self, url, **params):
        return self.client.get(url, params)

    def _send(self, method, url, data):
        return getattr(self.client, method)(url, json.dumps(data if data is not None else {}),
                                            content_type="application/json")

    def post(self, url, data=None):
        return self._send("post", url, data)

    def patch(self, url, data=None):
        return self._send("patch", url, data)

    def put(self, url, data=None):
        return self._send("put", url, data)

    def delete(self, url):
        return self.client.delete(url)


@pytest.fixture
def api(accounts):
    return lambda name: Api(accounts[name])


# --- authentication, tokens, errors ---------------------------------------------------------

def test_anonymous_gets_401_in_chinese(tree):
    assert_chinese_error(Client().get("/api/orgs/units"), 401)
    assert_chinese_error(Client(headers={"Authorization": "Bearer qlt_nonsense"}).get("/api/orgs/units"), 401)


def test_openapi_schema_is_public_and_lists_every_router(db):
    r = Client().get("/api/openapi.json")
    assert r.status_code == 200
    paths = body(r)["paths"]
    assert {"/api/orgs/units", "/api/people/persons", "/api/core/tokens", "/api/records/items"} <= set(paths)


def test_docs_use_only_local_assets(accounts):
    assert Client().get("/api/docs").status_code == 302  # anonymous → login
    c = Client()
    c.force_login(accounts["women_staff"])
    html = c.get("/api/docs").content.decode()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(ref.startswith("/api/docs/assets/") for ref in refs), refs
    assert "cdn" not in html.lower() and "https://" not in html
    for ref in refs:
        assert c.get(ref).status_code == 200, ref
    assert c.get("/api/docs/assets/..%2Fsettings.py").status_code == 404


def test_administrators_get_403_on_business_data(api):
    for name in ("sysadmin", "secadmin", "auditor"):
        a = api(name)
        for url in ("/api/orgs/units", "/api/people/persons", "/api/orgs/lines"):
            assert_chinese_error(a.get(url), 403)
        assert a.get("/api/core/me").status_code == 200


def test_issue_list_and_revoke_own_token_with_session_and_csrf(accounts):
    user = accounts["women_staff"]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    # A session write without the CSRF token is refused, and nothing is issued.
    r = browser.post("/api/core/tokens", json.dumps({"name": "对接"}), content_type="application/json")
    assert_chinese_error(r, 403)
    assert not ApiToken.objects.filter(user=user).exists()
    csrf = browser.get("/api/docs").cookies["csrftoken"].value
    r = browser.post("/api/core/tokens", json.dumps({"name": "对接"}), content_type="application/json",
                     headers={"X-CSRFToken": csrf})
    assert r.status_code == 201, r.content
    issued = body(r)
    assert issued["token"].startswith("qlt_") and changes("core.issue_api_token") == 1
    bearer = Client(headers={"Authorization": f"Bearer {issued['token']}"})
    assert body(bearer.get("/api/core/me"))["username"] == user.username
    # A token cannot mint tokens (session only).
    r = bearer.post("/api/core/tokens", json.dumps({"name": "x"}), content_type="application/json")
    assert r.status_code == 403 and changes("core.issue_api_token") == 1
    listed = body(bearer.get("/api/core/tokens"))
    assert [t["id"] for t in listed] == [issued["id"]] and "token" not in listed[0]
    # Someone else's token is a 404.
    other = Api(accounts["union_staff"])
    assert other.delete(f"/api/core/tokens/{issued['id']}").status_code == 404
    r = bearer.delete(f"/api/core/tokens/{issued['id']}")
    assert r.status_code == 200 and body(r)["revoked"] is True
    assert changes("core.revoke_api_token") == 1
    assert bearer.get("/api/core/me").status_code == 401


def test_token_name_is_required(accounts):
    browser = Client()
    browser.force_login(accounts["women_staff"])
    r = browser.post("/api/core/tokens", json.dumps({"name": ""}), content_type="application/json")
    assert_chinese_error(r, 422)
    assert not ApiToken.objects.exists()


def test_session_writes_need_csrf(accounts, tree):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(accounts["women_staff"])
    url = f"/api/orgs/units/{tree['town_women'].pk}"
    assert browser.get(url).status_code == 200  # reads need no CSRF token
    r = browser.patch(url, json.dumps({"address": "城关镇人民路1号"}), content_type="application/json")
    assert_chinese_error(r, 403)
    assert Unit.objects.get(pk=tree["town_women"].pk).address == ""
    csrf = browser.get("/api/docs").cookies["csrftoken"].value
    r = browser.patch(url, json.dumps({"address": "城关镇人民路1号"}), content_type="application/json",
                      headers={"X-CSRFToken": csrf})
    assert r.status_code == 200 and body(r)["address"] == "城关镇人民路1号"


def test_malformed_json_is_a_chinese_422(api):
    r = api("women_staff").client.post("/api/people/persons", "{oops", content_type="application/json")
    assert r.status_code in (400, 422)
    assert CJK.search(r.content.decode())


# --- lines and units -------------------------------------------------------------------------

def test_lines(api):
    codes = {x["code"] for x in body(api("clerk").get("/api/orgs/lines"))}
    assert {"women", "union"} <= codes


def test_unit_list_filters_and_pagination(api, tree, lines):
    a = api("women_staff")
    r = body(a.get("/api/orgs/units"))
    names = {u["name"] for u in r["items"]}
    assert "示范县妇联" in names and "东风村妇联" in names
    assert "示范县总工会" not in names and "邻县妇联" not in names
    assert r["count"] == len(r["items"])
    women = body(a.get("/api/orgs/units", line=lines["women"].pk))["items"]
    assert {u["name"] for u in women} == {"示范县妇联", "城关镇妇联", "东风村妇联"}
    assert {u["name"] for u in body(a.get("/api/orgs/units", level="village"))["items"]} == {"东风村", "东风村妇联"}
    kids = body(a.get("/api/orgs/units", parent=tree["town"].pk))["items"]
    assert {u["name"] for u in kids} == {"城关镇妇联", "东风村"}
    assert all(u["parent_id"] == tree["town"].pk for u in kids)
    assert [u["name"] for u in body(a.get("/api/orgs/units", q="东风"))["items"]] == ["东风村", "东风村妇联"]
    page = body(a.get("/api/orgs/units", limit=2, offset=1))
    assert len(page["items"]) == 2 and page["count"] == r["count"]
    assert page["items"][0]["id"] == r["items"][1]["id"]
    assert_chinese_error(a.get("/api/orgs/units", limit=0), 422)
    assert_chinese_error(a.get("/api/orgs/units", level="planet"), 422)


def test_unit_parent_id_hidden_when_parent_not_visible(api, tree):
    county = body(api("women_staff").get(f"/api/orgs/units/{tree['county'].pk}"))
    assert county["parent_id"] is None  # the province is outside the grant
    clerk_unit = body(api("clerk").get(f"/api/orgs/units/{tree['village_women'].pk}"))
    assert clerk_unit["parent_id"] is None


def test_unit_detail_children_and_foreign_404(api, tree):
    a = api("women_staff")
    assert body(a.get(f"/api/orgs/units/{tree['town'].pk}"))["name"] == "城关镇"
    kids = body(a.get(f"/api/orgs/units/{tree['town'].pk}/children"))["items"]
    assert [u["name"] for u in kids] == ["城关镇妇联", "东风村"]
    for url in (f"/api/orgs/units/{tree['other_women'].pk}", f"/api/orgs/units/{tree['union'].pk}",
                f"/api/orgs/units/{tree['other_women'].pk}/children", "/api/orgs/units/999999"):
        assert assert_chinese_error(a.get(url), 404) == ["对象不存在或不在您的数据范围内。"]


def test_create_child_unit(api, tree, lines):
    a = api("women_staff")
    r = a.post(f"/api/orgs/units/{tree['village'].pk}/children",
               {"name": "东风村一组妇女小组", "level": "group", "line_id": lines["women"].pk})
    assert r.status_code == 201, r.content
    created = body(r)
    assert created["parent_id"] == tree["village"].pk and created["line_name"] == "妇联"
    assert changes("orgs.create_unit") == 1
    assert body(a.get(f"/api/orgs/units/{created['id']}/events"))[0]["kind"] == "created"


def test_create_child_unit_bad_input_changes_nothing(api, tree, lines):
    a = api("women_staff")
    before = Unit.objects.count()
    url = f"/api/orgs/units/{tree['village'].pk}/children"
    detail = assert_chinese_error(a.post(url, {"name": "某县妇联", "level": "county", "line_id": lines["women"].pk}), 400)
    assert "层级" in detail[0]
    assert_chinese_error(a.post(url, {"name": "x", "level": "group", "line_id": 99999}), 400)
    assert_chinese_error(a.post(url, {"name": "x", "level": "group", "division_code": "12"}), 400)
    assert_chinese_error(a.post(url, {"level": "group"}), 422)
    assert Unit.objects.count() == before and changes("orgs.create_unit") == 0


def test_leader_reads_but_cannot_write(api, tree):
    a = api("leader")
    assert a.get(f"/api/orgs/units/{tree['union'].pk}").status_code == 200
    assert_chinese_error(a.patch(f"/api/orgs/units/{tree['union'].pk}", {"address": "x"}), 403)
    assert Unit.objects.get(pk=tree["union"].pk).address == ""
    assert changes("orgs.update_unit") == 0


def test_update_unit(api, tree):
    a = api("women_staff")
    url = f"/api/orgs/units/{tree['town_women'].pk}"
    r = a.patch(url, {"name": "城关镇妇女联合会", "short_name": "城关镇妇联"})
    assert r.status_code == 200 and body(r)["name"] == "城关镇妇女联合会"
    log = ChangeLog.objects.get(action="orgs.update_unit")
    assert log.before["name"] == "城关镇妇联" and log.after["name"] == "城关镇妇女联合会"
    assert log.actor == a.user and log.request_id
    assert_chinese_error(a.patch(url, {"uscc": "123"}), 400)
    assert Unit.objects.get(pk=tree["town_women"].pk).uscc == "" and changes("orgs.update_unit") == 1


def test_merge_and_dissolve(api, tree, lines):
    a = api("women_staff")
    a2 = Unit.objects.add_child(tree["village"], {"name": "东风村二组", "level": "group", "line": lines["women"]})
    a3 = Unit.objects.add_child(tree["village"], {"name": "东风村三组", "level": "group", "line": lines["women"]})
    # Into a unit outside the grant: refused, nothing changes.
    detail = assert_chinese_error(a.post(f"/api/orgs/units/{a2.pk}/merge", {"into": tree["other_women"].pk}), 400)
    assert "不在您的数据范围内" in detail[0]
    assert Unit.objects.get(pk=a2.pk).status == UnitStatus.ACTIVE
    r = a.post(f"/api/orgs/units/{a2.pk}/merge", {"into": a3.pk, "document_no": "东妇〔2026〕1号"})
    assert r.status_code == 200 and body(r)["status"] == "merged" and body(r)["successor_id"] == a3.pk
    assert changes("orgs.merged_unit") == 1
    detail = assert_chinese_error(a.post(f"/api/orgs/units/{a2.pk}/dissolve", {}), 400)
    assert "已合并" in detail[0]
    r = a.post(f"/api/orgs/units/{a3.pk}/dissolve", {"note": "撤并"})
    assert r.status_code == 200 and body(r)["status"] == "dissolved"
    assert changes("orgs.dissolved_unit") == 1


def test_dissolve_with_active_children_refused(api, tree):
    a = api("party_office")
    detail = assert_chinese_error(a.post(f"/api/orgs/units/{tree['town'].pk}/dissolve", {}), 400)
    assert "下级单位" in detail[0]
    assert Unit.objects.get(pk=tree["town"].pk).status == UnitStatus.ACTIVE


# --- positions -------------------------------------------------------------------------------

def test_appoint_list_and_end_with_early_term_warning(api, tree, person_factory):
    a = api("women_staff")
    person = person_factory(unit=tree["women"], name="刘芳")
    url = f"/api/orgs/units/{tree['women'].pk}/positions"
    r = a.post(url, {"person_id": person.pk, "title": "chair", "started_on": "2024-01-01",
                     "term_ends_on": "2029-01-01"})
    assert r.status_code == 201, r.content
    pos = body(r)
    assert pos["display_title"] == "主席" and pos["person_name"] == "刘芳"
    assert changes("orgs.appoint") == 1
    assert [p["id"] for p in body(a.get(url))] == [pos["id"]]
    # A second chair is refused.
    other = person_factory(unit=tree["women"], name="王敏")
    assert "主要负责人" in assert_chinese_error(
        a.post(url, {"person_id": other.pk, "title": "chair", "started_on": "2024-02-01"}), 400)[0]
    end = f"/api/orgs/positions/{pos['id']}/end"
    r = a.post(end, {"on": "2026-01-01", "reason": ""})
    assert r.status_code == 409
    warning = body(r)["detail"][0]
    assert "任期未满不得任意调动" in warning and body(r)["code"] == "early_term"
    assert Position.objects.get(pk=pos["id"]).ended_on is None and changes("orgs.end_position") == 0
    r = a.post(end, {"on": "2026-01-01", "reason": "工作调动", "confirm_early": True})
    assert r.status_code == 200 and body(r)["ended_early"] is True and body(r)["is_current"] is False
    assert changes("orgs.end_position") == 1
    assert body(a.get(url)) == [] and len(body(a.get(url, current="false"))) == 1
    assert_chinese_error(a.post(end, {"on": "2026-02-01", "reason": "x"}), 400)  # already ended


def test_appoint_foreign_person_refused(api, tree, person_factory):
    foreigner = person_factory(unit=tree["other_women"], name="外县人")
    r = api("women_staff").post(f"/api/orgs/units/{tree['women'].pk}/positions",
                                {"person_id": foreigner.pk, "title": "vice", "started_on": "2024-01-01"})
    assert "不在您的数据范围内" in assert_chinese_error(r, 400)[0]
    assert not Position.objects.exists()


# --- base conditions ---------------------------------------------------------------------------

def test_conditions_get_and_set(api, tree):
    a = api("women_staff")
    url = f"/api/orgs/units/{tree['village_women'].pk}/conditions"
    assert body(a.get(url))["lack_count"] == 0
    r = a.put(url, {"lacks_venue": True, "lacks_funding": True, "staff_count": 2, "annual_funding": "3000.50"})
    assert r.status_code == 200 and body(r)["lack_count"] == 2
    assert changes("orgs.set_conditions") == 1
    assert_chinese_error(a.put(url, {"staff_count": -1}), 422)
    assert BaseCondition.objects.get(unit=tree["village_women"]).staff_count == 2
    assert changes("orgs.set_conditions") == 1
    assert_chinese_error(api("leader").put(url, {"lacks_staff": True}), 403)


# --- venues ------------------------------------------------------------------------------------

def test_venues_and_inspections(api, tree):
    a = api("women_staff")
    r = a.post("/api/orgs/venues", {"unit_id": tree["village_women"].pk, "name": "东风村妇女之家",
                                    "kind": "womens_home", "area_m2": 60})
    assert r.status_code == 201, r.content
    venue = body(r)
    assert changes("orgs.create_venue") == 1
    assert [v["name"] for v in body(a.get("/api/orgs/venues"))["items"]] == ["东风村妇女之家"]
    assert body(a.get("/api/orgs/venues", unit=tree["town"].pk))["count"] == 1
    assert body(a.get("/api/orgs/venues", unit=tree["union"].pk))["count"] == 0
    assert body(a.get(f"/api/orgs/venues/{venue['id']}"))["unit_name"] == "东风村妇联"
    checklist = Checklist.objects.prefetch_related("items").get(name="七有")
    items = [i.pk for i in checklist.items.all()]
    url = f"/api/orgs/venues/{venue['id']}/inspections"
    r = a.post(url, {"checklist_id": checklist.pk, "on": "2026-03-01", "inspector": "张检查", "met_item_ids": items})
    assert r.status_code == 201 and body(r)["score"] == 100 and body(r)["passed"] is True
    assert Venue.objects.get(pk=venue["id"]).latest_score == 100
    assert changes("orgs.record_inspection") == 1
    # An item of another checklist: refused, nothing recorded.
    stranger = Checklist.objects.exclude(pk=checklist.pk).first().items.first()
    r = a.post(url, {"checklist_id": checklist.pk, "on": "2026-04-01", "inspector": "张", "met_item_ids": [stranger.pk]})
    assert "检查项" in assert_chinese_error(r, 400)[0]
    assert len(body(a.get(url))) == 1 and changes("orgs.record_inspection") == 1


def test_venue_bad_input(api, tree):
    a = api("women_staff")
    assert_chinese_error(a.post("/api/orgs/venues", {"unit_id": tree["village_women"].pk, "name": "x",
                                                     "kind": "castle"}), 422)
    assert_chinese_error(a.post("/api/orgs/venues", {"unit_id": tree["union"].pk, "name": "x",
                                                     "kind": "workers_home"}), 400)
    assert not Venue.objects.exists() and changes("orgs.create_venue") == 0


# --- persons -------------------------------------------------------------------------------------

def test_person_list_and_detail_are_masked(api, tree, person_factory):
    p = person_factory(name="赵敏", phone="13912345678")
    a = api("women_staff")
    listed = a.get("/api/people/persons")
    text = listed.content.decode()
    assert "赵敏" in text and "13912345678" not in text and p.reveal("id_number") not in text
    row = body(listed)["items"][0]
    assert row["phone"] == "139****5678" and "*" in row["id_number"]
    detail = a.get(f"/api/people/persons/{p.pk}").content.decode()
    assert "13912345678" not in detail and p.reveal("id_number") not in detail
    assert body(a.get("/api/people/persons", q="13912345678"))["count"] == 1
    assert body(a.get("/api/people/persons", q=p.reveal("id_number")))["count"] == 1
    assert body(a.get("/api/people/persons", q="赵"))["count"] == 1
    assert body(api("union_staff").get("/api/people/persons"))["count"] == 0
    assert_chinese_error(api("union_staff").get(f"/api/people/persons/{p.pk}"), 404)


def test_create_person(api, tree):
    a = api("women_staff")
    id_number = make_id_number("430121", dt.date(1985, 2, 2), 2)
    r = a.post("/api/people/persons", {"unit_id": tree["town_women"].pk, "name": "钱红",
                                       "id_number": id_number, "phone": "13700001111",
                                       "political_status": "cpc"})
    assert r.status_code == 201, r.content
    created = body(r)
    assert created["gender"] == "F" and created["birth_date"] == "1985-02-02"
    assert "13700001111" not in r.content.decode()
    log = ChangeLog.objects.get(action="people.register_person")
    assert "13700001111" not in json.dumps(log.after, ensure_ascii=False)
    # Same ID number again: 一人一档.
    r = a.post("/api/people/persons", {"unit_id": tree["town_women"].pk, "name": "钱红", "id_number": id_number})
    assert "一人一档" in assert_chinese_error(r, 400)[0]
    assert_chinese_error(a.post("/api/people/persons", {"unit_id": tree["town_women"].pk, "name": "孙",
                                                        "phone": "12345"}), 400)
    assert_chinese_error(a.post("/api/people/persons", {"unit_id": tree["town_women"].pk, "name": "孙",
                                                        "birth_date": "1985-13-01"}), 422)
    assert Person.objects.count() == 1 and changes("people.register_person") == 1


def test_update_person(api, tree, person_factory):
    p = person_factory(name="周强")
    a = api("women_staff")
    r = a.patch(f"/api/people/persons/{p.pk}", {"workplace": "东风村委会", "phone": "13600002222"})
    assert r.status_code == 200 and body(r)["workplace"] == "东风村委会" and body(r)["phone"] == "136****2222"
    assert changes("people.update_person") == 1
    other = person_factory(name="周强")
    detail = assert_chinese_error(a.patch(f"/api/people/persons/{p.pk}", {"id_number": other.reveal("id_number")}), 400)
    assert "另一人员" in detail[0]
    p.refresh_from_db()
    assert p.reveal("phone") == "13600002222" and changes("people.update_person") == 1


def test_reveal_needs_write_reach_and_is_access_logged(api, tree, person_factory):
    p = person_factory(name="吴丽", phone="13511112222")
    r = api("leader").post(f"/api/people/persons/{p.pk}/reveal", {"fields": ["phone"]})
    assert_chinese_error(r, 403)
    assert "13511112222" not in r.content.decode() and not AccessLog.objects.exists()
    assert_chinese_error(api("union_staff").post(f"/api/people/persons/{p.pk}/reveal", {}), 404)
    assert_chinese_error(api("clerk").post(f"/api/people/persons/{p.pk}/reveal", {"fields": ["salary"]}), 400)
    assert not AccessLog.objects.exists()
    r = api("clerk").post(f"/api/people/persons/{p.pk}/reveal", {"fields": ["phone", "id_number"],
                                                                  "purpose": "入户走访"})
    assert r.status_code == 200
    assert body(r)["phone"] == "13511112222" and body(r)["id_number"] == p.reveal("id_number")
    log = AccessLog.objects.get()
    assert log.object_id == str(p.pk) and log.fields == "phone,id_number" and log.purpose == "入户走访"


# --- memberships -------------------------------------------------------------------------------------

def test_memberships(api, tree, lines, person_factory):
    p = person_factory(name="郑洁")
    a = api("women_staff")
    r = a.post("/api/people/memberships", {"person_id": p.pk, "line_id": lines["women"].pk,
                                           "unit_id": tree["village_women"].pk, "number": "F001"})
    assert r.status_code == 201, r.content
    m = body(r)
    assert changes("people.add_membership") == 1
    assert_chinese_error(a.post("/api/people/memberships", {"person_id": p.pk, "line_id": lines["union"].pk,
                                                            "unit_id": tree["village_women"].pk}), 400)
    assert Membership.objects.count() == 1
    assert body(a.get("/api/people/memberships", person=p.pk))["count"] == 1
    r = a.post(f"/api/people/memberships/{m['id']}/status", {"status": "transferred"})
    assert r.status_code == 200 and body(r)["status"] == "transferred"
    assert_chinese_error(a.post(f"/api/people/memberships/{m['id']}/status", {"status": "gone"}), 422)
    assert changes("people.set_membership_status") == 1


# --- volunteers --------------------------------------------------------------------------------------

def test_volunteers(api, tree, person_factory):
    p = person_factory(unit=tree["ggw"], name="老陈")
    a = api("party_office")
    r = a.post("/api/people/volunteers", {"person_id": p.pk, "unit_id": tree["ggw"].pk, "category": "teacher",
                                          "skills": "书法"})
    assert r.status_code == 201, r.content
    v = body(r)
    assert v["category_display"] == "老教师" and changes("people.register_volunteer") == 1
    assert_chinese_error(a.post("/api/people/volunteers", {"person_id": p.pk, "unit_id": tree["ggw"].pk,
                                                           "category": "teacher"}), 400)
    assert VolunteerProfile.objects.count() == 1
    assert a.post(f"/api/people/volunteers/{v['id']}/trainings", {"on": "2026-03-01", "title": "心理辅导",
                                                                  "hours": "2.5"}).status_code == 201
    assert a.post(f"/api/people/volunteers/{v['id']}/recognitions", {"on": "2026-03-05",
                                                                     "title": "优秀五老"}).status_code == 201
    detail = body(a.get(f"/api/people/volunteers/{v['id']}"))
    assert detail["trainings"][0]["title"] == "心理辅导" and detail["recognitions"][0]["title"] == "优秀五老"
    assert body(a.get("/api/people/volunteers", q="书法"))["count"] == 1
    assert body(api("women_staff").get("/api/people/volunteers"))["count"] == 0
    assert changes("people.add_training") == 1 and changes("people.add_recognition") == 1


# --- teams ---------------------------------------------------------------------------------------------

def test_teams_and_members(api, tree, person_factory):
    leader = person_factory(unit=tree["ggw"], name="老李")
    member = person_factory(unit=tree["ggw"], name="老王")
    a = api("party_office")
    r = a.post("/api/people/teams", {"unit_id": tree["ggw"].pk, "name": "五老宣讲团", "kind": "lecture",
                                     "leader_id": leader.pk, "founded_on": "2025-05-04"})
    assert r.status_code == 201, r.content
    team = body(r)
    assert changes("people.create_team") == 1
    assert body(a.get("/api/people/teams", q="宣讲"))["count"] == 1
    url = f"/api/people/teams/{team['id']}/members"
    r = a.post(url, {"person_id": member.pk, "role": "队员"})
    assert r.status_code == 201
    tm = body(r)
    assert_chinese_error(a.post(url, {"person_id": member.pk}), 400)
    assert TeamMember.objects.count() == 1
    assert [m["person_name"] for m in body(a.get(url))["items"]] == ["老王"]
    assert a.delete(f"{url}/{tm['id']}").status_code == 204
    assert not TeamMember.objects.exists() and changes("people.remove_team_member") == 1
    assert_chinese_error(a.delete(f"{url}/{tm['id']}"), 404)


def test_team_bad_input(api, tree, person_factory):
    a = api("party_office")
    assert_chinese_error(a.post("/api/people/teams", {"unit_id": tree["ggw"].pk, "name": "", "kind": "lecture"}), 422)
    foreigner = person_factory(unit=tree["other_women"], name="外县老刘")
    assert_chinese_error(a.post("/api/people/teams", {"unit_id": tree["ggw"].pk, "name": "队", "kind": "lecture",
                                                      "leader_id": foreigner.pk}), 400)
    assert not Team.objects.exists() and changes("people.create_team") == 0


def test_today_default_for_end_position(api, tree, person_factory):
    p = person_factory(unit=tree["women"], name="冯英")
    a = api("women_staff")
    pos = body(a.post(f"/api/orgs/units/{tree['women'].pk}/positions",
                      {"person_id": p.pk, "title": "vice", "started_on": "2020-01-01"}))
    r = a.post(f"/api/orgs/positions/{pos['id']}/end", {"reason": "退休"})
    assert r.status_code == 200 and body(r)["ended_on"] == dt.date.today().isoformat()


# --- review fixes: a unit's line, nulls in PATCH, ids beyond 64 bits, schema names ---------------

def test_staff_cannot_move_a_unit_into_a_line_or_out_of_every_line_beyond_their_grant(api, tree, lines):
    women, village = api("women_staff"), tree["village_women"]
    url = f"/api/orgs/units/{village.pk}"
    assert "条线的管理权限" in assert_chinese_error(women.patch(url, {"line_id": lines["union"].pk}), 400)[0]
    assert "无条线" in assert_chinese_error(women.patch(url, {"line_id": None}), 400)[0]
    assert Unit.objects.get(pk=village.pk).line == lines["women"] and not changes("orgs.update_unit")
    # a new unit too: under its own line's unit, in another line
    r = women.post(f"/api/orgs/units/{village.pk}/children", {"name": "东风村工会小组", "level": "group",
                                                             "line_id": lines["union"].pk})
    assert "条线的管理权限" in assert_chinese_error(r, 400)[0] and not Unit.objects.filter(name="东风村工会小组").exists()
    # the party's 群团 office holds every line: it may
    office = api("party_office")
    assert office.patch(url, {"line_id": lines["union"].pk}).status_code == 200
    assert Unit.objects.get(pk=village.pk).line == lines["union"]


def test_the_unit_form_offers_only_the_lines_the_user_may_place_a_unit_in(client_for, accounts, tree, lines):
    page = client_for(accounts["women_staff"]).get(f"/orgs/units/{tree['village_women'].pk}/edit/").content.decode()
    select = page[page.index('name="line"'):]
    select = select[:select.index("</select>")]
    assert lines["women"].name in select and lines["union"].name not in select and "无，属地党委节点" not in select


def test_null_in_a_patch_clears_a_text_field_and_is_refused_for_a_required_one(api, tree, person_factory):
    women = api("women_staff")
    unit_url = f"/api/orgs/units/{tree['village_women'].pk}"
    assert women.patch(unit_url, {"address": None}).status_code == 200
    assert "层级" in assert_chinese_error(women.patch(unit_url, {"level": None}), 400)[0]
    person = person_factory(unit=tree["village_women"], name="王芳")
    url = f"/api/people/persons/{person.pk}"
    assert women.patch(url, {"gender": None, "education": None}).status_code == 200
    assert_chinese_error(women.patch(url, {"name": None}), 400)


@pytest.mark.parametrize("url", ["/api/orgs/units?offset=9223372036854775808", "/api/orgs/units?line=9223372036854775808",
                                 "/api/people/memberships?person=99999999999999999999",
                                 "/api/people/persons?unit=9223372036854775808"])
def test_ids_and_offsets_beyond_64_bits_are_a_422_not_a_crash(api, tree, url):
    assert_chinese_error(api("women_staff").get(url), 422)


def test_public_offset_beyond_64_bits_is_a_422(tree):
    assert_chinese_error(Client().get("/api/public/items?offset=9223372036854775808"), 422)


def test_the_schema_documents_each_models_own_status_values(db):
    from qunli.api import api as ninja_api

    schema = ninja_api.get_openapi_schema()
    comps = schema["components"]["schemas"]
    assert "Status" not in comps
    events = schema["paths"]["/api/orgs/units/{unit_id}/events"]["get"]["responses"]
    assert "UnitEventOut" in json.dumps(events) and "document_no" in comps["UnitEventOut"]["properties"]
    params = {p["name"]: p for p in schema["paths"]["/api/casework/cases"]["get"]["parameters"]}
    assert "received" in json.dumps(params["status"]["schema"]) and "queued" not in json.dumps(params["status"]["schema"])


def test_route_level_errors_keep_the_one_error_shape_in_chinese(api, tree):
    women = api("women_staff")
    assert_chinese_error(women.get("/api/nope"), 404)
    r = women.delete("/api/people/persons")
    assert "DELETE" in assert_chinese_error(r, 405)[0] and "GET" in r["Allow"]
    r = Client().get("/api/orgs/units")
    assert_chinese_error(r, 401)
    assert r["WWW-Authenticate"].startswith("Bearer")
    detail = assert_chinese_error(women.get("/api/casework/cases", status="nonsense"), 422)
    assert "received" in detail[0]  # the allowed values are named


def test_the_schema_documents_the_error_answers_of_every_operation(db):
    from qunli.api import api as ninja_api

    schema = ninja_api.get_openapi_schema()
    ops = [(p, op) for p, path in schema["paths"].items() for op in path.values()]
    assert all({"400", "404", "422"} <= set(op["responses"]) for _, op in ops)
    assert all("401" in op["responses"] for p, op in ops if not p.startswith("/api/public/"))
    assert "401" not in schema["paths"]["/api/public/items"]["get"]["responses"]
    assert schema["components"]["schemas"]["Error"]["properties"]["detail"]["type"] == "array"


def test_a_token_asking_for_another_token_is_told_to_sign_in_not_that_it_is_invalid(api):
    r = api("women_staff").post("/api/core/tokens", {"name": "脚本"})
    assert "接口令牌不能签发新令牌" in assert_chinese_error(r, 403)[0]
