"""What a QA review in the browser found on the pairing and wish pages: the targets page and
the dashboard list only the units that take part, the pairing form's person search tells
namesakes apart and warns of the served person's other pairs, the visit form reports every
error at once, a missing upload asks to upload, and the wish list fits the content area."""

import datetime as dt
import io
import json
import re

import openpyxl
import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from qunli.casework import pairing_actions as pa
from qunli.casework import queries
from qunli.casework import wish_actions as wa
from qunli.casework.models import Pairing, Visit, Wish
from qunli.casework.pairing_views import target_progress
from qunli.core.forms import plain_messages
from qunli.people.models import CadreProfile, VolunteerProfile
from qunli.portal import actions as portal_actions

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TODAY = timezone.localdate()
LONG_AGO = TODAY - dt.timedelta(days=200)


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path)}}}


@pytest.fixture
def staff(accounts):
    return accounts["party_office"]


@pytest.fixture
def volunteer(tree, person_factory):
    p = person_factory(unit=tree["ggw"], name="李老师")
    VolunteerProfile.objects.create(person=p, unit=tree["ggw"], category="teacher")
    return p


def pair(staff, helper, served, unit, kind="help") -> Pairing:
    return pa.create_pairing(staff, helper=helper, served=served, kind=kind, category="left_behind", unit=unit,
                             started_on=LONG_AGO)


def upload(name, content):
    return SimpleUploadedFile(name, content)


# --- 1. only the units that take part --------------------------------------------------------------

def test_targets_rank_and_chart_only_units_with_a_target_or_a_pair(client_for, staff, volunteer, tree, person_factory):
    # of 示范县's four child units: 关工委 has a target only, 妇联 pairs only, 总工会 and 城关镇 neither
    pa.set_target(staff, unit=tree["ggw"], year=TODAY.year, kind="help", category="left_behind", target=5)
    pair(staff, volunteer, person_factory(unit=tree["village_women"], name="童一"), tree["women"])

    got = target_progress(staff, tree["county"], year=TODAY.year, kind="help", category="left_behind")

    assert [r["unit"].name for r in got["rows"]] == ["示范县关工委", "示范县妇联"]
    assert [r["rank"] for r in got["rows"]] == [1, 2]
    assert got["left_out"] == 2 and got["active"] == 1
    page = client_for(staff).get(reverse("casework:pairing_targets"), {
        "unit": tree["county"].pk, "year": TODAY.year, "kind": "help", "category": "left_behind"}).content.decode()
    chart = json.loads(re.search(r'<script id="targets-data" type="application/json">(.*?)</script>', page,
                                 re.S).group(1))
    assert chart == [["示范县关工委", 0, 5], ["示范县妇联", 1, 0]]
    assert "示范县总工会" not in page  # neither in the chart nor in the table
    assert "另有 2 个下级单位未设定目标、也没有在结对的服务对象，未列出。" in page


def test_targets_chart_names_units_on_level_horizontal_bars(client_for, staff, tree):
    pa.set_target(staff, unit=tree["ggw"], year=TODAY.year, kind="help", category="left_behind", target=5)
    page = client_for(staff).get(reverse("casework:pairing_targets"), {
        "unit": tree["county"].pk, "year": TODAY.year, "kind": "help", "category": "left_behind"}).content.decode()
    script = page[page.index('id="chart-targets"'):]
    assert "rotate:" not in script  # the ~55 names a county had were drawn rotated, overlapping
    assert 'yAxis: {type: "category"' in script and 'xAxis: {type: "value"' in script


def test_dashboard_wishes_table_leaves_out_units_without_wishes(client_for, staff, tree, person_factory):
    child = person_factory(unit=tree["village_women"], name="童二")
    wa.collect_wish(staff, served=child, unit=tree["women"], category="school", text="想要一本字典", amount="30")
    branches = [tree["union"], tree["women"], tree["ggw"], tree["town"]]

    stats = queries.dashboard(staff, tree["county"], branches=branches)

    assert [r["unit"].name for r in stats["wishes_by_unit"]] == ["示范县妇联"]
    assert stats["wishes_by_unit"][0]["collected"] == 1
    page = client_for(staff).get(reverse("casework:dashboard"), {"unit": tree["county"].pk}).content.decode()
    table = re.search(r'<table class="table table-sm" id="wishes-table">(.*?)</table>', page, re.S).group(1)
    assert "示范县妇联" in table and "示范县总工会" not in table and "城关镇" not in table


# --- 2. the pairing form's person search and the warning of other pairs ------------------------------

def test_pairing_person_search_tells_namesakes_apart(client_for, staff, volunteer, tree, person_factory):
    old_teacher = person_factory(unit=tree["ggw"], name="潘荣")
    VolunteerProfile.objects.create(person=old_teacher, unit=tree["ggw"], category="teacher")
    cadre = person_factory(unit=tree["women"], name="潘荣")
    CadreProfile.objects.create(person=cadre, unit=tree["women"], post="副主席")
    served = person_factory(unit=tree["village_women"], name="潘荣")
    served.birth_date = TODAY.replace(year=TODAY.year - 12) - dt.timedelta(days=1)
    served.save()
    pair(staff, volunteer, served, tree["women"])
    plain = person_factory(unit=tree["town"], name="潘荣")

    page = client_for(staff).get(reverse("casework:pairing_person_pick"), {"q": "潘荣"}).content.decode()

    buttons = dict(re.findall(r'data-pick-person="(\d+)">(.*?)</button>', page, re.S))
    assert set(buttons) == {str(p.pk) for p in (old_teacher, cadre, served, plain)}
    assert "五老志愿者·老教师" in buttons[str(old_teacher.pk)]
    assert "群团干部·示范县妇联副主席" in buttons[str(cadre.pk)]
    assert "服务对象·留守儿童" in buttons[str(served.pk)] and "已有 1 个进行中的结对" in buttons[str(served.pk)]
    assert "12岁" in buttons[str(served.pk)] and "东风村妇联" in buttons[str(served.pk)]
    assert "badge" not in buttons[str(plain.pk)] and "城关镇" in buttons[str(plain.pk)]
    add = client_for(staff).get(reverse("casework:pairing_add")).content.decode()
    assert reverse("casework:pairing_person_pick") in add and reverse("people:person_pick") not in add


def test_pairing_form_warns_when_the_served_person_already_has_an_active_pair(client_for, staff, volunteer, tree,
                                                                               person_factory):
    child = person_factory(unit=tree["village_women"], name="王小明")
    first = pair(staff, volunteer, child, tree["women"])
    c = client_for(staff)
    add = c.get(reverse("casework:pairing_add")).content.decode()
    assert f'hx-get="{reverse("casework:pairing_served_check")}"' in add and 'id="served-pairings"' in add

    warning = c.get(reverse("casework:pairing_served_check"), {"served": child.pk}).content.decode()
    assert "该服务对象已有 1 个进行中的结对" in warning and "李老师" in warning and first.get_absolute_url() in warning
    fresh = person_factory(unit=tree["village_women"], name="赵小红")
    assert "进行中的结对" not in c.get(reverse("casework:pairing_served_check"), {"served": fresh.pk}).content.decode()

    # a warning, not a block: a second helper may still be paired with the child
    cadre = person_factory(unit=tree["women"], name="干部甲")
    CadreProfile.objects.create(person=cadre, unit=tree["women"], post="主席")
    form = {"unit": tree["women"].pk, "kind": "help", "category": "left_behind", "helper": cadre.pk,
            "served": child.pk}
    r = c.post(reverse("casework:pairing_add"), {**form, "min_visits_per_month": "x"})  # sent back with an error
    assert r.status_code == 200 and "该服务对象已有 1 个进行中的结对" in r.content.decode()
    r = c.post(reverse("casework:pairing_add"), form, follow=True)
    assert r.redirect_chain and Pairing.objects.filter(served__person=child, ended_on__isnull=True).count() == 2
    assert "该服务对象另有 1 个进行中的结对" in r.content.decode()


# --- 3. the visit form reports every error at once ----------------------------------------------------

def test_visit_form_reports_a_bad_date_and_a_bad_photo_together(client_for, staff, volunteer, tree, person_factory):
    p = pair(staff, volunteer, person_factory(unit=tree["village_women"], name="童三"), tree["women"])
    c = client_for(staff)
    url = reverse("casework:pairing_visit", args=[p.pk])

    future = (TODAY + dt.timedelta(days=3)).isoformat()
    page = c.post(url, {"on": future, "kind": "home", "photo": upload("x.gif", b"GIF89a")}).content.decode()
    assert "走访日期不能晚于今天。" in page and "照片只能是 JPG 或 PNG 格式。" in page

    before_start = (LONG_AGO - dt.timedelta(days=1)).isoformat()
    page = c.post(url, {"on": before_start, "kind": "", "photo": upload("x.jpg", PNG)}).content.decode()
    assert "走访日期不能早于结对日期" in page and "照片内容与扩展名不符" in page and "请选择“走访方式”" in page
    assert not Visit.objects.exists()

    r = c.post(url, {"on": TODAY.isoformat(), "kind": "home", "photo": upload("ok.png", PNG)})
    assert r.status_code == 302 and Visit.objects.get().photo_mime == "image/png"


# --- 4. a missing upload asks to upload ---------------------------------------------------------------

def test_fulfil_without_a_photo_asks_to_upload_it(client_for, staff, tree, person_factory, accounts):
    child = person_factory(unit=tree["village_women"], name="童四")
    w = wa.collect_wish(staff, served=child, unit=tree["women"], category="school", text="想要一个书包", amount="80")
    wa.publish_wish(staff, wa.approve_wish(accounts["women_staff"], w))
    wa.claim_wish(portal_actions.portal_account(), w.pk, name="爱心", phone="13900000001")

    page = client_for(staff).post(reverse("casework:wish_fulfil", args=[w.pk]), {}).content.decode()

    assert "请上传圆梦照片。" in page and "请填写“圆梦照片”" not in page
    assert Wish.objects.get(pk=w.pk).status == Wish.Status.CLAIMED


def test_required_file_fields_ask_to_upload_and_others_to_fill_in():
    upload_field, text_field = forms.FileField(label="移交数据包"), forms.CharField(label="题名")
    plain_messages(upload_field)
    plain_messages(text_field)
    assert upload_field.error_messages["required"] == "请上传“移交数据包”。"
    assert text_field.error_messages["required"] == "请填写“题名”。"


# --- 5. the wish list fits the content area ------------------------------------------------------------

def test_wish_list_cuts_long_text_on_the_page_but_exports_it_whole(client_for, staff, tree, person_factory):
    text = "希望能有一套完整的初中数学、物理、化学辅导书和一个带台灯的书桌，方便晚上在家里安心做作业"
    child = person_factory(unit=tree["village_women"], name="童五")
    wa.collect_wish(staff, served=child, unit=tree["village_women"], category="school", text=text, amount="300")
    c = client_for(staff)

    page = c.get(reverse("casework:wish_list")).content.decode()

    cell = re.search(r'<span class="d-inline-block text-truncate[^"]*" style="max-width: [^"]+" title="([^"]+)">',
                     page)
    assert cell and cell.group(1) == text  # one line on the page, the whole text in its tooltip
    assert re.search(r'<span class="d-inline-block text-wrap"[^>]*>东风村妇联</span>', page)  # the unit wraps
    assert re.search(r"<td>\d{4}-\d{2}-\d{2} \d{2}:\d{2}</td>", page)  # a short time of registration
    r = c.get(reverse("casework:wish_list"), {"export": "xlsx"})
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)), read_only=True)
    cells = [v for row in wb.active.iter_rows(values_only=True) for v in row]
    assert text in cells and "东风村妇联" in cells and not any("<span" in str(v) for v in cells)
