"""Pairing (结对帮扶 / 结对帮教): creation rules, the lapse rule at its edges, visit notes
sealed at rest, photos checked and hashed, unit targets with completion and ranking equal
to a recount, unit-grant scoping with masked identity, and query-count ceilings."""

import datetime as dt
import hashlib

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from qunli.casework import pairing_actions as pa
from qunli.casework.models import Pairing, PairingKind, PairingTarget, ServedPerson, Visit
from qunli.casework.pairing_views import target_progress
from qunli.core.actions import ActionError
from qunli.core.models import AccessLog, ChangeLog
from qunli.people.models import CadreProfile, VolunteerProfile

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TODAY = timezone.localdate()
LONG_AGO = TODAY - dt.timedelta(days=200)


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path)}}}


@pytest.fixture
def volunteer(tree, person_factory):
    p = person_factory(unit=tree["ggw"], name="李老师")
    VolunteerProfile.objects.create(person=p, unit=tree["ggw"], category="teacher")
    return p


@pytest.fixture
def child(tree, person_factory):
    return person_factory(unit=tree["village_women"], name="王小明")


@pytest.fixture
def staff(accounts):
    return accounts["party_office"]


def make(staff, helper, served, unit, kind=PairingKind.HELP, started_on=LONG_AGO, **kw) -> Pairing:
    return pa.create_pairing(staff, helper=helper, served=served, kind=kind, category="left_behind", unit=unit,
                             started_on=started_on, **kw)


# --- creation ------------------------------------------------------------------------------------

def test_create_pairing_registers_served_person_and_masks_name(staff, volunteer, child, tree):
    p = make(staff, volunteer, child, tree["women"])
    assert p.served.person_id == child.pk and p.served.unit_id == tree["women"].pk
    assert p.served_name_mask == "王**" and p.min_visits_per_month == 1
    assert ChangeLog.objects.filter(action="casework.create_pairing", object_id=str(p.pk)).exists()


def test_duplicate_refused_until_ended(staff, volunteer, child, tree):
    p = make(staff, volunteer, child, tree["women"])
    with pytest.raises(ActionError, match="已有进行中"):
        make(staff, volunteer, p.served, tree["women"])
    # another kind is another pairing
    make(staff, volunteer, child, tree["women"], kind=PairingKind.EDUCATE)
    pa.end_pairing(staff, p, reason="服务对象迁出")
    again = make(staff, volunteer, child, tree["women"])
    assert again.pk != p.pk and Pairing.objects.filter(served=p.served, kind="help").count() == 2


def test_helper_must_be_volunteer_or_cadre(staff, child, tree, person_factory):
    nobody = person_factory(unit=tree["women"], name="赵六")
    with pytest.raises(ActionError, match="不是在岗的五老志愿者或群团干部"):
        make(staff, nobody, child, tree["women"])
    retired = person_factory(unit=tree["ggw"], name="钱七")
    VolunteerProfile.objects.create(person=retired, unit=tree["ggw"], category="doctor", status="retired")
    with pytest.raises(ActionError, match="不是在岗"):
        make(staff, retired, child, tree["women"])
    cadre = person_factory(unit=tree["women"], name="孙八")
    CadreProfile.objects.create(person=cadre, unit=tree["women"], post="副主席")
    assert make(staff, cadre, child, tree["women"]).helper_id == cadre.pk
    assert not Pairing.objects.filter(helper__in=[nobody, retired]).exists()


def test_create_refused_outside_grant_and_for_self(accounts, volunteer, child, tree):
    with pytest.raises(PermissionDenied):
        make(accounts["leader"], volunteer, child, tree["women"])  # read-only grant
    with pytest.raises(PermissionDenied):
        make(accounts["clerk"], volunteer, child, tree["women"])  # clerk: own unit only
    with pytest.raises(ActionError, match="同一人"):
        make(accounts["party_office"], volunteer, volunteer, tree["women"])
    with pytest.raises(ActionError, match="晚于今天"):
        make(accounts["party_office"], volunteer, child, tree["women"], started_on=TODAY + dt.timedelta(days=1))


# --- the lapse rule -------------------------------------------------------------------------------

def lapsed(p, today=TODAY) -> bool:
    return Pairing.objects.with_lapse(today).get(pk=p.pk).lapsed


def days_ago(n):
    return TODAY - dt.timedelta(days=n)


def test_lapse_window_edges_help(staff, volunteer, child, tree):
    """帮扶: window of 30 days including today, i.e. a visit 29 days ago still counts."""
    p = make(staff, volunteer, child, tree["women"])
    assert lapsed(p)  # no visit at all
    v = pa.log_visit(staff, p, on=days_ago(30), kind="home")
    assert lapsed(p)  # 30 days ago: just outside
    Visit.objects.filter(pk=v.pk).update(on=days_ago(29))
    assert not lapsed(p)  # 29 days ago: just inside
    assert lapsed(p, today=TODAY + dt.timedelta(days=1))  # a day later it has dropped out
    # visits after the reference day do not count
    Visit.objects.filter(pk=v.pk).update(on=TODAY)
    assert lapsed(p, today=days_ago(1))


def test_lapse_grace_for_new_pairings_and_ended(staff, volunteer, child, tree, person_factory):
    young = make(staff, volunteer, child, tree["women"], started_on=days_ago(29))
    assert not lapsed(young)  # younger than the window: not yet lapsed
    older = make(staff, volunteer, child, tree["women"], kind=PairingKind.EDUCATE, started_on=days_ago(60))
    assert lapsed(older)  # 帮教: 60-day window began 59 days ago, pairing older than that
    pa.end_pairing(staff, older, reason="帮教期满", ended_on=TODAY)
    assert not lapsed(older)


def test_lapse_counts_required_visits(staff, volunteer, child, tree):
    p = make(staff, volunteer, child, tree["women"], kind=PairingKind.EDUCATE, min_visits_per_month=2)
    row = Pairing.objects.with_lapse(TODAY).get(pk=p.pk)
    assert row.required_visits == 4 and row.window_start == days_ago(59)  # 2/month × 2 months
    for n in (1, 20, 40):
        pa.log_visit(staff, p, on=days_ago(n), kind="phone")
    assert lapsed(p)
    pa.log_visit(staff, p, on=days_ago(59), kind="online")
    assert not lapsed(p)
    assert Pairing.objects.with_lapse(TODAY).get(pk=p.pk).recent_visits == 4


def test_lapse_rule_from_settings(settings, staff, volunteer, child, tree):
    settings.QUNLI_PAIRING_RULES = {"help": {"window_days": 60, "min_visits_per_month": 3}}
    p = make(staff, volunteer, child, tree["women"])
    assert p.min_visits_per_month == 3
    assert Pairing.objects.with_lapse(TODAY).get(pk=p.pk).required_visits == 6


def test_lapsed_list_and_filter(client_for, staff, volunteer, child, tree, person_factory):
    kept = make(staff, volunteer, child, tree["women"])
    pa.log_visit(staff, kept, on=TODAY, kind="home")
    other = person_factory(unit=tree["village_women"], name="周小红")
    gone = make(staff, volunteer, other, tree["women"])
    c = client_for(staff)
    page = c.get(reverse("casework:pairing_lapsed")).content.decode()
    assert "周**" in page and "王**" not in page
    page = c.get(reverse("casework:pairing_list"), {"lapsed": "0"}).content.decode()
    assert "王**" in page and "周**" not in page
    assert gone.pk != kept.pk


# --- visits: sealed notes, photos -----------------------------------------------------------------

def test_visit_notes_encrypted_at_rest_and_revealed_with_access_log(staff, volunteer, child, tree):
    p = make(staff, volunteer, child, tree["women"])
    v = pa.log_visit(staff, p, on=days_ago(3), kind="home", notes="孩子说想念外出务工的妈妈")
    with connection.cursor() as cur:
        cur.execute("SELECT notes_enc FROM casework_visit WHERE id = %s", [v.pk])
        stored = cur.fetchone()[0]
    assert stored.startswith("v1:") and "妈妈" not in stored
    log = ChangeLog.objects.get(action="casework.log_visit")
    assert "妈妈" not in str(log.after)
    assert pa.reveal_visits(staff, p, purpose="月度检查") == {v.pk: "孩子说想念外出务工的妈妈"}
    assert AccessLog.objects.filter(object_id=str(p.pk), purpose="月度检查").exists()
    with pytest.raises(PermissionDenied):
        pa.reveal_visits(pa_leader := staff.__class__.objects.get(username="lingdao"), p)
    assert not AccessLog.objects.filter(actor=pa_leader).exists()


def test_visit_rules(staff, volunteer, child, tree):
    p = make(staff, volunteer, child, tree["women"], started_on=days_ago(10))
    with pytest.raises(ActionError, match="早于结对日期"):
        pa.log_visit(staff, p, on=days_ago(11), kind="home")
    with pytest.raises(ActionError, match="晚于今天"):
        pa.log_visit(staff, p, on=TODAY + dt.timedelta(days=1), kind="home")
    with pytest.raises(ActionError, match="走访方式"):
        pa.log_visit(staff, p, on=TODAY, kind="letter")
    pa.end_pairing(staff, p, reason="结束")
    with pytest.raises(ActionError, match="已结束"):
        pa.log_visit(staff, p, on=TODAY, kind="home")
    assert not Visit.objects.exists()


def test_photo_checked_hashed_and_stored_once(staff, volunteer, child, tree):
    p = make(staff, volunteer, child, tree["women"])
    v1 = pa.log_visit(staff, p, on=days_ago(2), kind="home", photo=("a.png", PNG))
    v2 = pa.log_visit(staff, p, on=days_ago(1), kind="home", photo=("b.PNG", PNG))
    digest = hashlib.new("sm3", PNG).hexdigest()
    assert v1.photo_sm3 == v2.photo_sm3 == digest and v1.photo_name == f"pairing/{digest[:2]}/{digest}"
    assert v1.photo_mime == "image/png" and v1.photo_size == len(PNG)
    assert default_storage.open(v1.photo_name).read() == PNG
    assert len(default_storage.listdir(f"pairing/{digest[:2]}")[1]) == 1
    with pytest.raises(ActionError, match="JPG 或 PNG"):
        pa.log_visit(staff, p, on=TODAY, kind="home", photo=("x.gif", b"GIF89a"))
    with pytest.raises(ActionError, match="不符"):
        pa.log_visit(staff, p, on=TODAY, kind="home", photo=("x.jpg", PNG))
    with pytest.raises(ActionError, match="不能超过"):
        pa.log_visit(staff, p, on=TODAY, kind="home", photo=("big.png", PNG + b"\0" * pa.PHOTO_MAX_BYTES))
    assert Visit.objects.count() == 2


def test_photo_view_is_access_logged_and_scoped(client_for, accounts, staff, volunteer, child, tree):
    p = make(staff, volunteer, child, tree["women"])
    v = pa.log_visit(staff, p, on=TODAY, kind="home", photo=("a.png", PNG))
    r = client_for(staff).get(reverse("casework:visit_photo", args=[v.pk]))
    assert r.status_code == 200 and b"".join(r.streaming_content) == PNG and r["Content-Type"] == "image/png"
    assert AccessLog.objects.filter(actor=staff, fields="visit_photo").exists()
    assert client_for(accounts["leader"]).get(reverse("casework:visit_photo", args=[v.pk])).status_code == 404
    assert client_for(accounts["union_staff"]).get(reverse("casework:visit_photo", args=[v.pk])).status_code == 404


# --- pages ------------------------------------------------------------------------------------------

def test_ui_create_visit_end(client_for, staff, volunteer, child, tree):
    c = client_for(staff)
    r = c.post(reverse("casework:pairing_add"), {"unit": tree["women"].pk, "kind": "help", "category": "left_behind",
                                                  "helper": volunteer.pk, "served": child.pk,
                                                  "started_on": days_ago(40).isoformat()})
    p = Pairing.objects.get()
    assert r.status_code == 302 and r["Location"] == p.get_absolute_url()
    page = c.get(p.get_absolute_url()).content.decode()
    assert "王**" in page and "王小明" not in page and "走访不足" in page
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = c.post(reverse("casework:pairing_visit", args=[p.pk]),
               {"on": TODAY.isoformat(), "kind": "home", "notes": "作业辅导",
                "photo": SimpleUploadedFile("v.png", PNG, content_type="image/png")})
    assert r.status_code == 302 and Visit.objects.get().photo_sm3
    page = c.get(p.get_absolute_url()).content.decode()
    assert "作业辅导" not in page and "有记录（已加密）" in page
    page = c.post(reverse("casework:pairing_reveal", args=[p.pk]), {"purpose": "检查"}).content.decode()
    assert "作业辅导" in page
    r = c.post(reverse("casework:pairing_end", args=[p.pk]), {"reason": "随父母迁出"})
    assert r.status_code == 302 and Pairing.objects.get().end_reason == "随父母迁出"
    # a non-volunteer helper is a form error, not a pairing
    r = c.post(reverse("casework:pairing_add"), {"unit": tree["women"].pk, "kind": "help", "category": "left_behind",
                                                  "helper": child.pk, "served": volunteer.pk})
    assert r.status_code == 200 and "不是在岗的五老志愿者或群团干部" in r.content.decode()


# --- scoping -------------------------------------------------------------------------------------------

@pytest.fixture
def foreign_pairing(tree, person_factory, accounts):
    helper = person_factory(unit=tree["other_women"], name="邻县老师")
    VolunteerProfile.objects.create(person=helper, unit=tree["other_women"], category="teacher")
    kid = person_factory(unit=tree["other_women"], name="邻县孩子")
    served = ServedPerson.objects.create(person=kid, unit=tree["other_women"])
    p = Pairing.objects.create(helper=helper, served=served, kind="help", category="left_behind",
                               unit=tree["other_women"], started_on=LONG_AGO, served_name_mask="邻**")
    v = Visit.objects.create(pairing=p, on=TODAY, kind="home", photo_name="pairing/xx/x", photo_mime="image/png")
    PairingTarget.objects.create(unit=tree["other_women"], year=TODAY.year, kind="help", category="left_behind",
                                 target=5)
    return p, v


def test_other_county_never_appears(client_for, accounts, foreign_pairing, tree):
    p, v = foreign_pairing
    for name in ("party_office", "women_staff", "union_staff", "leader", "clerk"):
        user = accounts[name]
        assert not Pairing.objects.visible_to(user).filter(pk=p.pk).exists()
        c = client_for(user)
        for url in (reverse("casework:pairing_list"), reverse("casework:pairing_lapsed"),
                    reverse("casework:pairing_targets")):
            for q in ({}, {"unit": tree["other_women"].pk}, {"unit": tree["other_county"].pk}):
                r = c.get(url, q)
                assert r.status_code == 200 and "邻县" not in r.content.decode(errors="replace"), (name, url, q)
        # a read-only leader is refused every data-entry form (403) before any pairing is looked up
        hidden = (403, 404, 405) if name == "leader" else (404, 405)
        for route in ("pairing_detail", "pairing_visit", "pairing_end", "pairing_reveal"):
            assert c.get(reverse(f"casework:{route}", args=[p.pk])).status_code in hidden
            assert c.post(reverse(f"casework:{route}", args=[p.pk]), {"reason": "x", "on": TODAY.isoformat(),
                                                                       "kind": "home"}).status_code in hidden
        assert c.get(reverse("casework:visit_photo", args=[v.pk])).status_code == 404
    with pytest.raises(PermissionDenied):
        pa.log_visit(accounts["party_office"], p, on=TODAY, kind="home")
    with pytest.raises(PermissionDenied):
        pa.set_target(accounts["party_office"], unit=tree["other_women"], year=TODAY.year, kind="help",
                      category="left_behind", target=1)


def test_line_and_clerk_scoping(client_for, accounts, staff, volunteer, child, tree, person_factory):
    county = make(staff, volunteer, child, tree["women"])
    village = make(staff, volunteer, person_factory(unit=tree["village_women"], name="吴小花"), tree["village_women"])
    clerk, union = accounts["clerk"], accounts["union_staff"]
    assert set(Pairing.objects.visible_to(clerk).values_list("pk", flat=True)) == {village.pk}
    assert not Pairing.objects.visible_to(union).exists()
    assert client_for(clerk).get(county.get_absolute_url()).status_code == 404
    assert client_for(clerk).get(village.get_absolute_url()).status_code == 200
    # read-only leader sees the page but not the forms, and cannot post a visit
    c = client_for(accounts["leader"])
    page = c.get(county.get_absolute_url()).content.decode()
    assert "登记走访" not in page and "王**" in page
    assert c.post(reverse("casework:pairing_visit", args=[county.pk]), {"on": TODAY.isoformat(),
                                                                        "kind": "home"}).status_code == 403


# --- targets, completion, ranking ----------------------------------------------------------------------

def test_targets_completion_and_ranking_equal_a_recount(staff, volunteer, tree, person_factory, foreign_pairing):
    year = TODAY.year
    county = tree["county"]
    for unit, n in ((county, 10), (tree["women"], 4), (tree["town"], 2), (tree["ggw"], 3)):
        pa.set_target(staff, unit=unit, year=year, kind="help", category="left_behind", target=n)
    pa.set_target(staff, unit=tree["town"], year=year, kind="help", category="left_behind", target=4)  # upsert
    assert PairingTarget.objects.filter(unit=tree["town"]).get().target == 4
    kids = [person_factory(unit=tree["village_women"], name=f"童{i}") for i in range(6)]
    make(staff, volunteer, kids[0], tree["women"])
    make(staff, volunteer, kids[1], tree["women"])
    make(staff, volunteer, kids[2], tree["town_women"])
    make(staff, volunteer, kids[3], tree["village_women"])
    cadre = person_factory(unit=tree["women"], name="干部甲")
    CadreProfile.objects.create(person=cadre, unit=tree["women"], post="主席")
    make(staff, cadre, kids[3], tree["village_women"])  # the same child twice in one branch: counted once
    ended = make(staff, volunteer, kids[4], tree["village_women"])
    pa.end_pairing(staff, ended, reason="结束", ended_on=TODAY)
    pa.create_pairing(staff, helper=volunteer, served=kids[5], kind="help", category="in_difficulty",
                      unit=tree["women"], started_on=LONG_AGO)  # another category
    make(staff, volunteer, kids[5], tree["women"], kind=PairingKind.EDUCATE)  # another kind

    got = target_progress(staff, county, year=year, kind="help", category="left_behind")

    # the recount, in Python over every row
    def active_count(prefix):
        return len({p.served_id for p in Pairing.objects.select_related("unit")
                    if p.unit.path.startswith(prefix) and p.kind == "help" and p.category == "left_behind"
                    and p.started_on <= TODAY and (p.ended_on is None or p.ended_on > TODAY)})

    rows = {r["unit"].name: r for r in got["rows"]}
    # 示范县总工会 has neither a target nor a pair: left out, only counted
    assert set(rows) == {"示范县妇联", "示范县关工委", "城关镇"} and got["left_out"] == 1
    for r in got["rows"]:
        assert r["active"] == active_count(r["unit"].path), r["unit"].name
    assert (rows["示范县妇联"]["active"], rows["示范县妇联"]["pct"]) == (2, 50.0)
    assert (rows["城关镇"]["active"], rows["城关镇"]["target"], rows["城关镇"]["pct"]) == (2, 4, 50.0)
    assert (rows["示范县关工委"]["active"], rows["示范县关工委"]["pct"]) == (0, 0.0)
    assert got["active"] == 4 == active_count(county.path) and got["target"] == 10 and got["pct"] == 40.0
    # rank: completion desc, then active desc, then tree order
    assert [r["unit"].name for r in got["rows"]] == ["示范县妇联", "城关镇", "示范县关工委"]
    assert [r["rank"] for r in got["rows"]] == [1, 2, 3]
    # a past year is counted on its last day
    last = target_progress(staff, county, year=year - 1, kind="help", category="left_behind")
    assert last["reference_date"] == dt.date(year - 1, 12, 31)


def test_targets_scoped_for_line_staff_and_set_target_rights(accounts, staff, volunteer, tree, person_factory):
    make(staff, volunteer, person_factory(unit=tree["village_women"], name="童"), tree["women"])
    got = target_progress(accounts["union_staff"], tree["county"], year=TODAY.year, kind="help",
                          category="left_behind")
    assert got["active"] == 0 and "示范县妇联" not in {r["unit"].name for r in got["rows"]}
    with pytest.raises(PermissionDenied):
        pa.set_target(accounts["leader"], unit=tree["county"], year=TODAY.year, kind="help", category="left_behind",
                      target=1)
    with pytest.raises(ActionError):
        pa.set_target(staff, unit=tree["county"], year=TODAY.year, kind="help", category="left_behind", target=-1)


def test_targets_page(client_for, staff, volunteer, tree, person_factory):
    pa.set_target(staff, unit=tree["women"], year=TODAY.year, kind="help", category="left_behind", target=2)
    make(staff, volunteer, person_factory(unit=tree["village_women"], name="童"), tree["women"])
    c = client_for(staff)
    r = c.get(reverse("casework:pairing_targets"), {"unit": tree["county"].pk, "year": TODAY.year, "kind": "help",
                                                     "category": "left_behind"})
    page = r.content.decode()
    assert r.status_code == 200 and "vendor/echarts/echarts.min.js" in page and "50.0%" in page
    assert 'id="targets-data"' in page
    r = c.post(reverse("casework:pairing_target_set"), {"unit": tree["town"].pk, "year": TODAY.year, "kind": "help",
                                                         "category": "left_behind", "target": 9})
    assert r.status_code == 302 and PairingTarget.objects.get(unit=tree["town"]).target == 9


# --- query ceilings --------------------------------------------------------------------------------------

def test_query_count_ceilings(client_for, staff, volunteer, tree, person_factory, django_assert_max_num_queries):
    for unit in (tree["women"], tree["town_women"], tree["village_women"]):
        pa.set_target(staff, unit=unit, year=TODAY.year, kind="help", category="left_behind", target=3)
    pairings = [make(staff, volunteer, person_factory(unit=tree["village_women"], name=f"童{i}"),
                     [tree["women"], tree["town_women"], tree["village_women"]][i % 3]) for i in range(12)]
    for p in pairings[:6]:
        pa.log_visit(staff, p, on=TODAY, kind="home", notes="记录")
    c = client_for(staff)
    c.get(reverse("casework:pairing_list"))  # warm the session
    with django_assert_max_num_queries(12):
        assert c.get(reverse("casework:pairing_list")).status_code == 200
    with django_assert_max_num_queries(12):
        assert c.get(reverse("casework:pairing_lapsed"), {"unit": tree["town"].pk}).status_code == 200
    with django_assert_max_num_queries(12):
        assert c.get(pairings[0].get_absolute_url()).status_code == 200
    with django_assert_max_num_queries(15):  # session, grants, unit picker names, children, targets, counts
        assert c.get(reverse("casework:pairing_targets"), {"unit": tree["county"].pk, "year": TODAY.year,
                                                           "kind": "help", "category": "left_behind"}).status_code == 200
    # the numbers themselves: one aggregate query for the counts
    with django_assert_max_num_queries(3):
        target_progress(staff, tree["county"], year=TODAY.year, kind="help", category="left_behind")
