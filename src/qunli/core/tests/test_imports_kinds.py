"""The importers of units, memberships, volunteers, positions and team members."""

import datetime as dt

import openpyxl
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from qunli.core.identifiers import make_id_number
from qunli.core.imports import run_import
from qunli.orgs.models import Position, Unit
from qunli.people.models import Membership, Person, Team, TeamMember, VolunteerProfile


def idn(n: int) -> str:
    return make_id_number("430121", dt.date(1960, 5, 1), n)


def csv_file(tmp_path, name, header, rows):
    p = tmp_path / name
    p.write_text(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8-sig")
    return p


def test_units(tmp_path, accounts, tree):
    user = accounts["party_office"]
    header = ["单位名称", "上级单位", "层级", "条线", "类别", "行政区划代码"]
    rows = [["西湖村", "城关镇", "村（社区）", "", "地域", "430121100202"],
            ["西湖村", "城关镇", "村（社区）", "", "", ""],
            ["城关镇总工会", "城关镇", "乡镇（街道）", "工会", "", ""],
            ["越级", "东风村", "区县", "", "", ""]]
    out = run_import("units", csv_file(tmp_path, "u.csv", header, rows), user=user, commit=True)
    reasons = {e["row"]: e["reason"] for e in out.errors}
    assert "与第2行重复" in reasons[3] and "层级不能高于上级" in reasons[5]
    n = Unit.objects.count()
    out = run_import("units", csv_file(tmp_path, "u2.csv", header, [rows[0], rows[2]]), user=user, commit=True)
    assert out.ok, out.errors
    assert Unit.objects.count() == n + 2
    village = Unit.objects.get(name="西湖村")
    assert village.path.startswith(tree["town"].path) and village.depth == tree["town"].depth + 1
    assert Unit.objects.get(name="城关镇总工会").line.code == "union"


def test_memberships_create_missing_persons(tmp_path, accounts, tree, person_factory):
    user = accounts["women_staff"]
    known = person_factory(unit=tree["village_women"], id_number=idn(1))
    header = ["姓名", "身份证号", "所属单位", "加入日期"]
    rows = [["甲", idn(1), "东风村妇联", "2020-03-08"], ["乙", idn(2), "东风村妇联", "2021/5/4"],
            ["乙", idn(2), "城关镇妇联", ""]]
    out = run_import("memberships", csv_file(tmp_path, "m.csv", header, rows), user=user, commit=True)
    assert out.ok, out.errors
    assert Membership.objects.count() == 3 and Person.objects.count() == 2
    assert Membership.objects.filter(person=known).get().joined_on == dt.date(2020, 3, 8)
    out = run_import("memberships", csv_file(tmp_path, "m2.csv", header, rows[:1]), user=user, commit=True)
    assert "已是此单位的会员" in out.errors[0]["reason"]
    out = run_import("memberships", csv_file(tmp_path, "m3.csv", header, [["丙", idn(3), "城关镇", ""]]),
                     user=user, commit=True)
    assert out.errors[0]["reason"] in ("单位不存在或不在您的权限范围内", "“城关镇”不是条线组织（如妇联、工会），不能登记会员")


def test_volunteers(tmp_path, accounts, tree):
    user = accounts["party_office"]
    header = ["姓名", "身份证号", "所属单位", "五老类别", "特长"]
    rows = [["老王", idn(10), "示范县关工委", "老教师", "书法"], ["老李", idn(11), "示范县关工委", "老神仙", ""]]
    out = run_import("volunteers", csv_file(tmp_path, "v.csv", header, rows), user=user, commit=True)
    assert out.error_rows == 1 and "不是可选值" in out.errors[0]["reason"] and VolunteerProfile.objects.count() == 0
    out = run_import("volunteers", csv_file(tmp_path, "v2.csv", header, rows[:1]), user=user, commit=True)
    assert out.ok and VolunteerProfile.objects.get().category == "teacher"


def test_positions_one_chair(tmp_path, accounts, tree):
    user = accounts["party_office"]
    header = ["所属单位", "姓名", "身份证号", "职务", "任职日期", "任期届满"]
    rows = [["示范县妇联", "甲", idn(20), "主要负责人", "2023-01-01", "2028-01-01"],
            ["示范县妇联", "乙", idn(21), "主要负责人", "2023-01-01", ""]]
    out = run_import("positions", csv_file(tmp_path, "p.csv", header, rows), user=user, commit=True)
    assert "只能有一名在任主要负责人" in out.errors[0]["reason"] and Position.objects.count() == 0
    rows[1][3] = "副职"
    out = run_import("positions", csv_file(tmp_path, "p2.csv", header, rows), user=user, commit=True)
    assert out.ok, out.errors
    chair = Position.objects.get(title="chair")
    assert chair.title_label == "主席" and chair.person.name == "甲"


def test_team_members(tmp_path, accounts, tree):
    user = accounts["party_office"]
    team = Team.objects.create(unit=tree["ggw"], name="五老宣讲团", kind="lecture")
    header = ["队伍", "姓名", "身份证号", "队内职务"]
    rows = [["五老宣讲团", "甲", idn(30), "团长"], [str(team.pk), "乙", idn(31), ""], ["不存在", "丙", idn(32), ""]]
    out = run_import("team_members", csv_file(tmp_path, "t.csv", header, rows), user=user, commit=True)
    assert out.errors[0]["row"] == 4 and "队伍不存在" in out.errors[0]["reason"]
    out = run_import("team_members", csv_file(tmp_path, "t2.csv", header, rows[:2]), user=user, commit=True)
    assert out.ok and TeamMember.objects.filter(team=team).count() == 2


def test_cli_import_and_export(tmp_path, accounts, tree):
    header = ["姓名", "身份证号", "所属单位"]
    good = csv_file(tmp_path, "c.csv", header, [["甲", idn(40), "东风村妇联"]])
    call_command("import", "persons", str(good), "--user", "fulian", "--dry-run")
    assert Person.objects.count() == 0
    call_command("import", "persons", str(good), "--user", "fulian")
    assert Person.objects.count() == 1
    with pytest.raises(CommandError):
        call_command("import", "persons", str(good), "--user", "fulian")  # duplicate now
    out = tmp_path / "e.xlsx"
    call_command("export", "persons", "--user", "fulian", "--unit", str(tree["county"].pk), "--out", str(out))
    ws = openpyxl.load_workbook(out).worksheets[0]
    assert ws.cell(1, 1).value == "姓名" and ws.cell(2, 1).value == "甲" and "*" in ws.cell(2, 2).value


def test_export_command_runs_the_scoped_audited_export_of_the_page(tmp_path, accounts, tree, person_factory):
    """The command is the export page's action under a named account: its scope, its job
    and change-log row, masks unless --unmasked with a purpose (then one access-log row)."""
    from qunli.core.models import AccessLog, ChangeLog, ExportJob

    mine = person_factory(name="本县人", unit=tree["village_women"])
    person_factory(name="邻县人", unit=tree["other_women"])
    out = tmp_path / "p.xlsx"
    call_command("export", "persons", "--user", "fulian", "--out", str(out))
    names = [r[0] for r in openpyxl.load_workbook(out).worksheets[0].iter_rows(min_row=2, values_only=True)]
    assert "本县人" in names and "邻县人" not in names
    job = ExportJob.objects.get()
    assert job.user.username == "fulian" and job.status == ExportJob.Status.DONE
    assert ChangeLog.objects.filter(action="core.start_export", object_id=str(job.pk)).exists()
    with pytest.raises(CommandError, match="用途"):
        call_command("export", "persons", "--user", "fulian", "--unmasked", "--out", str(out))
    before = AccessLog.objects.count()
    call_command("export", "persons", "--user", "fulian", "--unmasked", "--purpose", "换届核对", "--out", str(out))
    rows = list(openpyxl.load_workbook(out).worksheets[0].iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in rows if r[0] == "本县人"] == [mine.reveal("id_number")]
    assert AccessLog.objects.count() == before + 1
    with pytest.raises(CommandError, match="不存在"):
        call_command("export", "persons", "--user", "nobody-here")


def test_units_parent_created_earlier_in_the_same_file(tmp_path, accounts, tree):
    """A row's 上级单位 may name a unit created by an earlier valid row of the same file (in
    file order, never a later one); all-or-nothing still holds."""
    user = accounts["party_office"]
    header = ["单位名称", "上级单位", "层级", "条线"]
    good = [["南湖村", "城关镇", "村（社区）", ""],
            ["南湖村妇联", "南湖村", "村（社区）", "妇联"],
            ["南湖村一组", "南湖村", "小组", ""]]
    n = Unit.objects.count()
    bad = [["北湖一组", "北湖村", "小组", ""],  # refers to a later row
           ["北湖村", "城关镇", "村（社区）", ""],
           ["北湖镇", "北湖村", "乡镇（街道）", ""],  # higher level than its in-file parent
           ["北湖村", "城关镇", "村（社区）", ""],  # duplicate: not a second candidate parent
           ["北湖二组", "北湖村", "小组", ""]]
    out = run_import("units", csv_file(tmp_path, "bad.csv", header, bad), user=user, commit=True)
    reasons = {e["row"]: e["reason"] for e in out.errors}
    assert not out.committed and Unit.objects.count() == n
    assert set(reasons) == {2, 4, 5}
    assert "不在您的权限范围内" in reasons[2] and "层级不能高于上级" in reasons[4] and "与第3行重复" in reasons[5]
    out = run_import("units", csv_file(tmp_path, "good.csv", header, good), user=user, commit=True)
    assert out.ok and out.committed, out.errors
    assert Unit.objects.count() == n + 3
    village = Unit.objects.get(name="南湖村")
    assert village.path.startswith(tree["town"].path) and village.depth == tree["town"].depth + 1
    for name in ("南湖村妇联", "南湖村一组"):
        child = Unit.objects.get(name=name)
        assert child.path.startswith(village.path) and child.depth == village.depth + 1
    assert Unit.objects.get(name="南湖村妇联").line.code == "women"
    # ambiguous: the name is both an existing unit and a new row of the file
    amb = [["南湖村", "东风村", "小组", ""], ["南湖村二组", "南湖村", "小组", ""]]
    out = run_import("units", csv_file(tmp_path, "amb.csv", header, amb), user=user, commit=False)
    assert [e["row"] for e in out.errors] == [3] and "有多个名为“南湖村”的单位" in out.errors[0]["reason"]


def test_a_volunteer_keeps_the_registration_date_of_the_file_and_today_when_blank(tmp_path, accounts, tree):
    user = accounts["party_office"]
    header = ["姓名", "身份证号", "所属单位", "五老类别", "登记日期"]
    rows = [["老王", idn(12), "示范县关工委", "老教师", "2018-04-02"], ["老李", idn(13), "示范县关工委", "老干部", ""]]
    out = run_import("volunteers", csv_file(tmp_path, "v.csv", header, rows), user=user, commit=True)
    assert out.ok
    dates = dict(VolunteerProfile.objects.values_list("person__name", "registered_on"))
    assert dates == {"老王": dt.date(2018, 4, 2), "老李": timezone.localdate()}


def test_a_registration_date_in_the_future_is_refused_in_chinese(tmp_path, accounts, tree):
    user = accounts["party_office"]
    header = ["姓名", "身份证号", "所属单位", "五老类别", "登记日期"]
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    out = run_import("volunteers", csv_file(tmp_path, "v.csv", header,
                                            [["老王", idn(14), "示范县关工委", "老教师", tomorrow.isoformat()]]),
                     user=user, commit=True)
    assert out.error_rows == 1 and out.errors[0]["reason"] == "登记日期不能晚于今天"
    assert VolunteerProfile.objects.count() == 0


def test_a_volunteer_import_refuses_a_child_and_a_unit_of_another_line(tmp_path, accounts, tree):
    from qunli.core.identifiers import make_id_number

    user = accounts["party_office"]
    header = ["姓名", "身份证号", "所属单位", "五老类别"]
    child = make_id_number("430121", timezone.localdate().replace(year=timezone.localdate().year - 9), 7)
    rows = [["黄天佑", child, "示范县关工委", "老干部"], ["老张", idn(15), "示范县总工会", "老教师"]]
    out = run_import("volunteers", csv_file(tmp_path, "v.csv", header, rows), user=user, commit=True)
    reasons = {e["reason"] for e in out.errors}
    assert out.error_rows == 2 and VolunteerProfile.objects.count() == 0
    assert reasons == {"五老志愿者应为离退休老同志，该人员现年9岁", "“示范县总工会”不是关工委组织，五老志愿者应登记在关工委下"}


def test_excel_habits_get_a_hint_and_common_short_forms_are_understood(tmp_path, accounts, tree):
    user = accounts["party_office"]
    header = ["姓名", "身份证号", "所属单位", "政治面貌", "联系电话"]
    rows = [["甲", "6.20521E+17", "东风村妇联", "党员", ""], ["乙", idn(31), "东风村妇联", "团员", "1.38001E+10"],
            ["丙", idn(32), "东风村妇联", "党员", ""]]
    out = run_import("persons", csv_file(tmp_path, "p.csv", header, rows), user=user, commit=False)
    reasons = {e["row"]: e["reason"] for e in out.errors}
    assert "Excel 把它当成数字显示为“6.20521E+17”" in reasons[2] and "设为“文本”格式" in reasons[2]
    assert reasons[3].startswith("联系电话不完整（Excel")
    assert 4 not in reasons  # 党员 is 中共党员


def test_the_preview_shows_choice_names_and_a_double_error_names_both_columns(tmp_path, accounts, tree):
    from qunli.core.imports import get_importer

    importer = get_importer("persons")
    col = next(c for c in importer.columns if c.key == "political_status")
    row = {c.key: "" for c in importer.columns} | {"political_status": "cpc", "name": "甲"}
    assert "中共党员" in importer.preview_row(row) and "cpc" not in importer.preview_row(row)
    assert col.parse("党员") == "cpc"
    header = ["姓名", "身份证号", "所属单位", "联系电话"]
    out = run_import("persons", csv_file(tmp_path, "q.csv", header, [["丁", "123", "东风村妇联", "12"]]),
                     user=accounts["party_office"], commit=False)
    assert out.errors[0]["column"] == "身份证号、联系电话"
    assert not out.errors[0]["reason"].startswith("身份证号：身份证号")
