"""The unit picker (search endpoint, widget, field) and the split / move forms: the picker
offers and accepts only units inside the grant, and the new forms write through their actions."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from qunli.core.models import ChangeLog
from qunli.orgs.forms import MergeUnitForm, UnitForm
from qunli.orgs.models import Unit, UnitEvent, UnitStatus
from qunli.orgs.widgets import NOT_FOUND, UnitPickerField, UnitPickerWidget, unit_scope

PICK = "orgs:unit_picker"


def pick(c, q, **params):
    return c.get(reverse(PICK), {"name": "unit", "id": "id_unit", "unit_q": q, **params})


# --- the picker endpoint -----------------------------------------------------------------

def test_picker_returns_visible_units_by_name_and_never_a_foreign_one(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    body = pick(c, "妇联").content.decode()
    assert "城关镇妇联" in body and "东风村妇联" in body and "示范县妇联" in body
    assert "邻县" not in body and f"pick={tree['other_women'].pk}" not in body
    assert "邻县" not in pick(c, "邻县").content.decode().replace("“邻县”", "")
    assert "示范县总工会" not in pick(c, "工会").content.decode()  # another line


def test_picker_searches_division_codes(client_for, accounts, tree):
    c = client_for(accounts["party_office"])
    body = pick(c, "430121100").content.decode()
    assert "城关镇" in body and "东风村" in body and "示范县总工会" not in body
    assert "邻县" not in pick(c, "430122").content.decode()


def test_picker_shows_full_names_from_visible_ancestors_only(client_for, accounts, tree):
    body = pick(client_for(accounts["women_staff"]), "东风村妇联").content.decode()
    assert "示范县 › 城关镇 › 东风村" in body and "湖南省" not in body


def test_picker_pick_renders_the_widget_with_the_unit_and_refuses_a_foreign_one(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    r = c.get(reverse(PICK), {"name": "unit", "id": "id_unit", "pick": tree["town_women"].pk})
    body = r.content.decode()
    assert r.status_code == 200 and f'value="{tree["town_women"].pk}"' in body and "城关镇妇联" in body
    assert 'name="unit"' in body and 'for="' not in body and "autofocus" in body
    r = c.get(reverse(PICK), {"name": "unit", "id": "id_unit", "pick": tree["other_women"].pk})
    body = r.content.decode()
    assert "邻县" not in body and f'value="{tree["other_women"].pk}"' not in body and "尚未选择单位" in body


def test_picker_filters_only_narrow_the_grant(client_for, accounts, tree, lines):
    c = client_for(accounts["women_staff"])
    body = pick(c, "镇", line="any").content.decode()
    assert "城关镇妇联" in body and ">城关镇<" not in body
    body = pick(c, "妇联", level="village").content.decode()
    assert "东风村妇联" in body and "城关镇妇联" not in body
    body = pick(c, "妇联", exclude=tree["village_women"].pk).content.decode()
    assert "东风村妇联" not in body and "城关镇妇联" in body
    body = pick(c, "东风", not_under=tree["town"].path).content.decode()
    assert "东风村" not in body
    # "view" widens to what the user may read, never beyond the grant.
    assert "邻县" not in pick(c, "妇联", action="view").content.decode()
    # A read-only leader may change nothing: the default (change) picker offers nothing.
    leader = client_for(accounts["leader"])
    assert "城关镇妇联" not in pick(leader, "妇联").content.decode()
    assert "城关镇妇联" in pick(leader, "妇联", action="view").content.decode()


def test_picker_rejects_unsafe_names_and_is_closed_to_administrators(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    assert c.get(reverse(PICK), {"name": 'x"><script>', "unit_q": "妇联"}).status_code == 400
    assert client_for(accounts["sysadmin"]).get(reverse(PICK), {"q": "妇联"}).status_code == 403


def test_picker_caps_results_at_twenty(client_for, accounts, tree, lines):
    for i in range(25):
        Unit.objects.add_child(Unit.objects.get(pk=tree["town"].pk),
                               {"name": f"新村{i:02d}妇联", "level": "village", "line": lines["women"]})
    body = pick(client_for(accounts["women_staff"]), "新村").content.decode()
    assert body.count("pick=") == 20 and "只显示前 20 个结果" in body


def test_picker_query_count_stays_flat(client_for, accounts, tree, lines, django_assert_max_num_queries):
    for i in range(25):
        Unit.objects.add_child(Unit.objects.get(pk=tree["town"].pk),
                               {"name": f"新村{i:02d}妇联", "level": "village", "line": lines["women"]})
    c = client_for(accounts["women_staff"])
    with django_assert_max_num_queries(10):
        assert pick(c, "新村").status_code == 200
    with django_assert_max_num_queries(10):
        assert c.get(reverse(PICK), {"name": "unit", "pick": tree["village_women"].pk}).status_code == 200


# --- the field and the widget ------------------------------------------------------------

def test_picker_field_refuses_an_out_of_scope_id_with_the_scoping_message(accounts, tree):
    form = UnitForm({"parent": tree["other_women"].pk, "name": "越权", "level": "county", "kind": "geo"},
                    user=accounts["women_staff"])
    assert not form.is_valid() and form.errors["parent"] == [NOT_FOUND]
    form = UnitForm({"parent": tree["town"].pk, "name": "可以", "level": "village", "kind": "geo"},
                    user=accounts["women_staff"])
    assert form.is_valid() and form.cleaned_data["parent"] == tree["town"]


def test_picker_field_without_a_user_accepts_nothing(tree):
    field = UnitPickerField(label="单位")
    with pytest.raises(ValidationError, match="不在您的权限范围内"):
        field.clean(tree["town"].pk)


def test_widget_renders_a_labelled_search_box_hidden_id_and_the_chosen_name(accounts, tree):
    form = UnitForm(initial={"parent": tree["village"].pk}, user=accounts["women_staff"])
    html = str(form["parent"])
    assert 'type="hidden" name="parent"' in html and f'value="{tree["village"].pk}"' in html
    assert 'id="id_parent_q"' in html and "hx-get" in html and reverse(PICK) in html
    assert "示范县 › 城关镇 › 东风村" in html
    assert form["parent"].id_for_label == "id_parent_q"
    # A foreign initial value renders as nothing chosen.
    html = str(UnitForm(initial={"parent": tree["other_women"].pk}, user=accounts["women_staff"])["parent"])
    assert "邻县" not in html and f'value="{tree["other_women"].pk}"' not in html


def test_merge_field_is_narrowed_to_same_line_and_level(accounts, tree, lines):
    Unit.objects.add_child(Unit.objects.get(pk=tree["town"].pk),
                           {"name": "西湖村妇联", "level": "village", "line": lines["women"]})
    form = MergeUnitForm(user=accounts["women_staff"], unit=tree["village_women"])
    field = form.fields["into"]
    assert isinstance(field.widget, UnitPickerWidget)
    assert set(field.queryset.values_list("name", flat=True)) == {"西湖村妇联"}
    assert set(unit_scope(accounts["women_staff"], field.params).values_list("name", flat=True)) == {"西湖村妇联"}


def test_unit_add_page_uses_the_picker_not_a_drop_down(client_for, accounts, tree):
    body = client_for(accounts["women_staff"]).get(reverse("orgs:unit_add")).content.decode()
    assert 'id="id_parent_q"' in body and '<select name="parent"' not in body
    assert "邻县" not in body


def test_unit_add_with_an_out_of_scope_parent_posted_is_a_form_error(client_for, accounts, tree, lines):
    c = client_for(accounts["women_staff"])
    r = c.post(reverse("orgs:unit_add"), {"parent": tree["other_women"].pk, "name": "越权单位", "level": "village",
                                          "line": lines["women"].pk, "kind": "geo"})
    assert r.status_code == 200 and "单位不存在或不在您的权限范围内" in r.content.decode()
    assert not Unit.objects.filter(name="越权单位").exists()
    r = c.post(reverse("orgs:unit_add"), {"parent": tree["town"].pk, "name": "新设村妇联", "level": "village",
                                          "line": lines["women"].pk, "kind": "geo"})
    assert r.status_code == 302 and Unit.objects.filter(name="新设村妇联").exists()


def test_merge_with_an_out_of_scope_target_is_a_form_error(client_for, accounts, tree):
    r = client_for(accounts["women_staff"]).post(reverse("orgs:unit_merge", args=[tree["women"].pk]), {
        "into": tree["other_women"].pk, "on": "2026-03-01", "confirm": "on"})
    assert r.status_code == 200 and "单位不存在或不在您的权限范围内" in r.content.decode()
    assert Unit.objects.get(pk=tree["women"].pk).status == UnitStatus.ACTIVE
    assert not ChangeLog.objects.filter(action="orgs.merged_unit").exists()


# --- move ---------------------------------------------------------------------------------

def test_move_form_moves_through_the_action(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    url = reverse("orgs:unit_move", args=[tree["village"].pk])
    body = c.get(url).content.decode()
    assert r'id="id_new_parent_q"' in body and "调整隶属" in body
    r = c.post(url, {"new_parent": tree["county"].pk})
    assert r.status_code == 302
    village = Unit.objects.get(pk=tree["village"].pk)
    assert village.path[:-Unit.steplen] == tree["county"].path
    assert Unit.objects.get(pk=tree["village_women"].pk).path.startswith(village.path)
    assert ChangeLog.objects.filter(action="orgs.move_unit", object_id=str(village.pk)).exists()
    assert UnitEvent.objects.filter(unit=village, kind="moved").exists()


def test_move_refuses_bad_targets_with_chinese_messages(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    url = reverse("orgs:unit_move", args=[tree["town"].pk])
    path = tree["town"].path
    r = c.post(url, {"new_parent": tree["other_county"].pk})
    assert r.status_code == 200 and "单位不存在或不在您的权限范围内" in r.content.decode()
    r = c.post(url, {"new_parent": tree["village"].pk})  # its own subtree
    assert r.status_code == 200 and "单位不存在或不在您的权限范围内" in r.content.decode()
    r = c.post(url, {"new_parent": tree["county"].pk})
    assert r.status_code == 200 and "已在“示范县”之下" in r.content.decode()
    r = c.post(url, {"new_parent": ""})
    assert r.status_code == 200 and "请选择单位" in r.content.decode()
    r = c.post(reverse("orgs:unit_move", args=[tree["women"].pk]), {"new_parent": tree["village"].pk})
    assert r.status_code == 200 and "层级不能高于" in r.content.decode()
    assert Unit.objects.get(pk=tree["town"].pk).path == path
    assert not ChangeLog.objects.filter(action="orgs.move_unit").exists()


def test_move_and_split_are_404_outside_the_grant_and_403_read_only(client_for, accounts, tree):
    for name in ("orgs:unit_move", "orgs:unit_split"):  # one test client: each request signs its account in
        assert client_for(accounts["women_staff"]).get(reverse(name, args=[tree["other_women"].pk])).status_code == 404
        assert client_for(accounts["leader"]).get(reverse(name, args=[tree["women"].pk])).status_code == 403


# --- split ----------------------------------------------------------------------------------

def test_split_form_creates_siblings_and_closes_the_unit(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    url = reverse("orgs:unit_split", args=[tree["village_women"].pk])
    body = c.get(url).content.decode()
    assert body.count('name="parts-') >= 9 and "第1个新单位名称" in body
    r = c.post(url, {"parts-TOTAL_FORMS": "3", "parts-INITIAL_FORMS": "3",
                     "parts-0-name": "东风村一组妇联", "parts-0-level": "village",
                     "parts-1-name": "东风村二组妇联", "parts-1-short_name": "二组", "parts-1-level": "group",
                     "parts-2-name": "", "parts-2-level": "village",
                     "on": "2026-03-01", "document_no": "县妇发〔2026〕1号", "confirm": "on"})
    assert r.status_code == 302 and r["Location"].endswith("?tab=events")
    old = Unit.objects.get(pk=tree["village_women"].pk)
    assert old.status == UnitStatus.SPLIT
    new = Unit.objects.filter(name__in=["东风村一组妇联", "东风村二组妇联"])
    assert new.count() == 2
    for u in new:
        assert u.path[:-Unit.steplen] == tree["village"].path and u.line_id == old.line_id
    assert ChangeLog.objects.filter(action="orgs.split_unit", object_id=str(old.pk)).exists()
    assert ChangeLog.objects.filter(action="orgs.create_unit").count() == 2


def test_split_refuses_fewer_than_two_names_and_bad_levels(client_for, accounts, tree):
    c = client_for(accounts["women_staff"])
    url = reverse("orgs:unit_split", args=[tree["village_women"].pk])
    base = {"parts-TOTAL_FORMS": "2", "parts-INITIAL_FORMS": "2", "on": "2026-03-01", "confirm": "on"}
    r = c.post(url, {**base, "parts-0-name": "只有一个", "parts-0-level": "village", "parts-1-level": "village"})
    assert r.status_code == 200 and "拆分至少需要两个新单位" in r.content.decode()
    r = c.post(url, {**base, "parts-0-name": "甲", "parts-0-level": "city", "parts-1-name": "乙",
                     "parts-1-level": "village"})
    assert r.status_code == 200 and "层级不能高于" in r.content.decode()
    r = c.post(url, {**base, "parts-0-name": "甲", "parts-0-level": "village", "parts-1-name": "乙",
                     "parts-1-level": "village", "confirm": ""})
    assert r.status_code == 200
    assert Unit.objects.get(pk=tree["village_women"].pk).status == UnitStatus.ACTIVE
    assert not Unit.objects.filter(name__in=["只有一个", "甲", "乙"]).exists()
    assert not ChangeLog.objects.filter(action__in=["orgs.split_unit", "orgs.create_unit"]).exists()


def test_split_refuses_a_unit_with_active_children_and_rolls_back(client_for, accounts, tree):
    r = client_for(accounts["women_staff"]).post(reverse("orgs:unit_split", args=[tree["village"].pk]), {
        "parts-TOTAL_FORMS": "2", "parts-INITIAL_FORMS": "2", "parts-0-name": "东村", "parts-0-level": "village",
        "parts-1-name": "西村", "parts-1-level": "village", "on": "2026-03-01", "confirm": "on"})
    assert r.status_code == 200 and "还有正常状态的下级单位" in r.content.decode()
    assert not Unit.objects.filter(name__in=["东村", "西村"]).exists()


def test_split_add_row_keeps_what_was_typed(client_for, accounts, tree):
    r = client_for(accounts["women_staff"]).post(reverse("orgs:unit_split", args=[tree["village_women"].pk]), {
        "parts-TOTAL_FORMS": "2", "parts-INITIAL_FORMS": "2", "parts-0-name": "已填写", "parts-0-level": "village",
        "parts-1-level": "group", "on": "2026-03-01", "add_row": "1"})
    body = r.content.decode()
    assert r.status_code == 200 and 'value="已填写"' in body and 'name="parts-2-name"' in body
    assert Unit.objects.get(pk=tree["village_women"].pk).status == UnitStatus.ACTIVE


def test_unit_detail_links_split_and_move(client_for, accounts, tree):
    body = client_for(accounts["women_staff"]).get(
        reverse("orgs:unit_detail", args=[tree["town_women"].pk])).content.decode()
    assert reverse("orgs:unit_split", args=[tree["town_women"].pk]) in body
    assert reverse("orgs:unit_move", args=[tree["town_women"].pk]) in body
    body = client_for(accounts["leader"]).get(
        reverse("orgs:unit_detail", args=[tree["town_women"].pk])).content.decode()
    assert reverse("orgs:unit_split", args=[tree["town_women"].pk]) not in body


@pytest.mark.parametrize("name", ["orgs:unit_move", "orgs:unit_split", "orgs:unit_merge"])
def test_unit_form_query_count_stays_flat(client_for, accounts, tree, name, django_assert_max_num_queries):
    c = client_for(accounts["party_office"])
    # 10, plus the three counts the merge/split/dissolve form states (班子, members, people)
    with django_assert_max_num_queries(13):
        assert c.get(reverse(name, args=[tree["village_women"].pk])).status_code == 200
