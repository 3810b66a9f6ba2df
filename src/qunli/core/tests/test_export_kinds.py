"""Re-importable exports of every import kind (core/export_jobs.py): units, memberships, 五老
volunteers, positions and team members, beside persons (test_export_jobs.py). Each file is in
its importer's template columns and goes back through the import engine as the same objects;
it holds nothing from outside the exporter's reach; masked, the importer refuses it in Chinese."""

import datetime as dt

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from conftest import add_unit
from qunli.core import export_jobs
from qunli.core.actions import ActionError
from qunli.core.identifiers import make_uscc
from qunli.core.imports import get_importer, run_import
from qunli.core.models import AccessLog, ExportJob
from qunli.core.tests.queue import run_queued
from qunli.orgs.models import Level, Position, Unit, UnitStatus
from qunli.people.models import Membership, Person, Team, TeamMember, VolunteerProfile

ROLE_KINDS = ["memberships", "volunteers", "positions", "team_members"]
MODELS = {
    "memberships": Membership,
    "volunteers": VolunteerProfile,
    "positions": Position,
    "team_members": TeamMember,
}


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def _export(user, capture, kind, **kw) -> ExportJob:
    with capture(execute=True):
        job = export_jobs.start_export(user, kind, **kw)
    run_queued()
    job.refresh_from_db()
    return job


def _sheet(path) -> list[list]:
    ws = openpyxl.load_workbook(path, read_only=True).active
    return [[c if c is not None else "" for c in row] for row in ws.iter_rows(values_only=True)]


def _person(p: Person) -> tuple:
    return (p.name, p.reveal("id_number"), p.reveal("phone"))


IDENTITY = {
    "memberships": lambda m: (*_person(m.person), m.line_id, m.unit_id, m.number, m.joined_on, m.status),
    "volunteers": lambda v: (
        *_person(v.person),
        v.unit_id,
        v.category,
        v.skills,
        v.certificate_no,
        v.certificate_date,
        v.registered_on,
        v.status,
    ),
    "positions": lambda p: (
        p.person.name,
        p.person.reveal("id_number"),
        p.unit_id,
        p.title,
        p.title_label,
        p.started_on,
        p.term_ends_on,
        p.is_parttime,
        p.ended_on,
    ),
    "team_members": lambda t: (*_person(t.person), t.team_id, t.role, t.joined_on),
}


@pytest.fixture
def world(tree, lines, person_factory):
    """Per kind: the rows an export writes ("rows", each with a person of its own), the rows
    in reach it leaves out ("left"), and rows of the neighbouring county ("foreign")."""
    seq = iter(range(1, 1000))

    def person(unit, prefix):
        return person_factory(unit=unit, name=f"{prefix}{next(seq)}", phone=f"138{next(seq):08d}")

    women, vw, tw, ggw = tree["women"], tree["village_women"], tree["town_women"], tree["ggw"]
    other_women = tree["other_women"]
    other_ggw = add_unit(
        Unit.objects.get(pk=tree["other_county"].pk),
        name="邻县关工委",
        level=Level.COUNTY,
        line=lines["ggw"],
        kind="organ",
    )
    foreign = person_factory(unit=other_women, name="邻县秘密人员", phone="13900000009")
    no_id = Person.objects.create(unit=vw, name="无证人员")
    w = lines["women"]
    out = {}

    out["memberships"] = {
        "rows": [
            Membership.objects.create(
                person=person(vw, "会员"), line=w, unit=vw, number="F001", joined_on=dt.date(2020, 5, 4)
            ),
            Membership.objects.create(person=person(tw, "会员"), line=w, unit=tw),
        ],
        "left": [
            Membership.objects.create(person=person(vw, "转出会员"), line=w, unit=vw, status="transferred"),
            Membership.objects.create(person=no_id, line=w, unit=vw),
            Membership.objects.create(person=foreign, line=w, unit=vw),
        ],  # a person outside the reach
        "foreign": [Membership.objects.create(person=foreign, line=w, unit=other_women, number="L001")],
    }
    out["volunteers"] = {
        "rows": [
            VolunteerProfile.objects.create(
                person=person(ggw, "五老"),
                unit=ggw,
                category="teacher",
                skills="书法",
                certificate_no="GGW-01",
                certificate_date=dt.date(2021, 6, 1),
                registered_on=dt.date(2019, 3, 5),
            ),
            VolunteerProfile.objects.create(person=person(ggw, "五老"), unit=ggw, category="official"),
        ],
        "left": [
            VolunteerProfile.objects.create(
                person=person(ggw, "退出五老"), unit=ggw, category="soldier", status="retired"
            )
        ],
        "foreign": [
            VolunteerProfile.objects.create(
                person=person_factory(unit=other_ggw, name="邻县五老"), unit=other_ggw, category="expert"
            )
        ],
    }
    out["positions"] = {
        "rows": [
            Position.objects.create(
                unit=women,
                person=person(women, "主席"),
                title="chair",
                title_label="主席",
                started_on=dt.date(2023, 1, 1),
                term_ends_on=dt.date(2028, 1, 1),
            ),
            Position.objects.create(
                unit=women,
                person=person(women, "副主席"),
                title="vice",
                title_label="兼职副主席",
                started_on=dt.date(2023, 1, 1),
                is_parttime=True,
            ),
        ],
        "left": [
            Position.objects.create(
                unit=women,
                person=person(women, "离任"),
                title="vice",
                started_on=dt.date(2018, 1, 1),
                ended_on=dt.date(2022, 12, 31),
            )
        ],
        "foreign": [
            Position.objects.create(
                unit=other_women, person=foreign, title="chair", started_on=dt.date(2023, 1, 1)
            )
        ],
    }
    team = Team.objects.create(unit=women, name="示范县巾帼宣讲团", kind="lecture")
    foreign_team = Team.objects.create(unit=other_women, name="邻县宣讲团", kind="lecture")
    out["team_members"] = {
        "rows": [
            TeamMember.objects.create(
                team=team, person=person(women, "队员"), role="团长", joined_on=dt.date(2024, 3, 1)
            ),
            TeamMember.objects.create(team=team, person=person(women, "队员")),
        ],
        "left": [TeamMember.objects.create(team=team, person=no_id)],
        "foreign": [TeamMember.objects.create(team=foreign_team, person=foreign, role="团长")],
    }
    return out


def _identities(kind, qs) -> list:
    return sorted(IDENTITY[kind](r) for r in qs.select_related("person"))


@pytest.mark.parametrize("kind", ROLE_KINDS)
def test_an_unmasked_export_of_each_kind_imports_back_as_the_same_objects(
    kind, accounts, world, django_capture_on_commit_callbacks
):
    model, case = MODELS[kind], world[kind]
    mine = [r.pk for r in case["rows"]]
    before = _identities(kind, model.objects.filter(pk__in=mine))
    staff = accounts["party_office"]
    job = _export(staff, django_capture_on_commit_callbacks, kind, unmasked=True, purpose="换届核对")
    assert job.status == ExportJob.Status.DONE and job.rows == len(mine), job.message
    assert _sheet(job.file_path)[0] == [c.header for c in get_importer(kind).columns]

    # clean up: the objects and their persons go; the import must bring both back
    persons = [r.person_id for r in case["rows"]]
    model.objects.filter(pk__in=mine).delete()
    Person.objects.filter(pk__in=persons).delete()
    out = run_import(kind, job.file_path, user=staff, file_name="导出.xlsx", commit=True)
    assert out.ok and out.created_rows == len(mine), (out.message, out.errors[:3])
    kept = [r.pk for r in case["left"] + case["foreign"]]
    assert _identities(kind, model.objects.exclude(pk__in=kept)) == before


@pytest.mark.parametrize("kind", ROLE_KINDS)
def test_an_unmasked_export_of_each_kind_logs_one_access_row_for_the_fields_it_carries(
    kind, accounts, world, django_capture_on_commit_callbacks
):
    n = AccessLog.objects.count()
    job = _export(
        accounts["party_office"], django_capture_on_commit_callbacks, kind, unmasked=True, purpose="核对"
    )
    rows = list(AccessLog.objects.order_by("seq")[n:])
    assert len(rows) == 1 and rows[0].object_id == str(job.pk) and rows[0].purpose == "核对"
    carried = {c.key for c in get_importer(kind).columns} & {"id_number", "phone", "address"}
    assert set(rows[0].fields.split(",")) == carried


# units carry nothing sensitive: they have no unmasked form (refused, tested below)
@pytest.mark.parametrize("kind,unmasked", [(k, u) for k in ["units", "persons", *ROLE_KINDS] for u in (False, True)
                                           if not (k == "units" and u)])
def test_nothing_from_a_foreign_unit_is_in_the_export_of_any_kind(
    kind, unmasked, accounts, world, django_capture_on_commit_callbacks
):
    job = _export(
        accounts["party_office"], django_capture_on_commit_callbacks, kind, unmasked=unmasked, purpose="核对"
    )
    assert job.status == ExportJob.Status.DONE and job.rows > 0, job.message
    text = repr(_sheet(job.file_path))
    assert "邻县" not in text and "湖南省" not in text
    foreign_ids = {p.reveal("id_number") for p in Person.objects.filter(unit__name__startswith="邻县")}
    assert not any(i in text for i in foreign_ids)


@pytest.mark.parametrize("kind", ROLE_KINDS)
def test_a_masked_export_of_each_kind_is_refused_on_import_in_chinese(
    kind, accounts, world, django_capture_on_commit_callbacks
):
    model, case = MODELS[kind], world[kind]
    n = AccessLog.objects.count()
    job = _export(accounts["leader"], django_capture_on_commit_callbacks, kind)
    assert (
        job.status == ExportJob.Status.DONE
        and job.rows == len(case["rows"])
        and AccessLog.objects.count() == n
    )
    rows = _sheet(job.file_path)
    ids = [r[rows[0].index("身份证号")] for r in rows[1:]]
    assert ids and all("*" in v for v in ids)

    model.objects.filter(pk__in=[r.pk for r in case["rows"]]).delete()  # so nothing else stands in the way
    count, persons = model.objects.count(), Person.objects.count()
    out = run_import(kind, job.file_path, user=accounts["party_office"], file_name="脱敏.xlsx", commit=True)
    assert not out.ok and out.error_rows == len(ids)
    assert out.errors[0]["column"].startswith("身份证号") and "身份证号只能由17位数字" in out.errors[0]["reason"]
    assert model.objects.count() == count and Person.objects.count() == persons


def test_the_job_says_which_visible_rows_were_left_out_and_why(
    accounts, world, django_capture_on_commit_callbacks
):
    job = _export(
        accounts["party_office"],
        django_capture_on_commit_callbacks,
        "memberships",
        unmasked=True,
        purpose="核对",
    )
    assert job.message.startswith("已导出2条会员（团员）记录。")
    for note in ("1条记录的人员不在您可维护的范围内", "1条记录的人员无身份证号", "1条非在册"):
        assert note in job.message
    job = _export(accounts["party_office"], django_capture_on_commit_callbacks, "positions")
    assert "1条已离任的任职记录" in job.message


def test_a_unit_limits_an_export_to_its_subtree(accounts, tree, world, django_capture_on_commit_callbacks):
    job = _export(
        accounts["women_staff"], django_capture_on_commit_callbacks, "memberships", unit=tree["village"]
    )
    rows = _sheet(job.file_path)
    assert [r[rows[0].index("所属单位")] for r in rows[1:]] == ["东风村妇联"]


# --- units ------------------------------------------------------------------------------------


@pytest.fixture
def new_town(tree, lines):
    """A township of its own (no grant, person or event points at it), so it can be deleted."""
    county = Unit.objects.get(pk=tree["county"].pk)
    town = add_unit(
        county,
        name="新建镇",
        level=Level.TOWNSHIP,
        division_code="430121200",
        address="新建镇人民路1号",
        established_on=dt.date(1990, 1, 1),
    )
    add_unit(
        Unit.objects.get(pk=town.pk),
        name="新建镇妇联",
        level=Level.TOWNSHIP,
        line=lines["women"],
        kind="organ",
        uscc=make_uscc("51", "430121", "MJ0000001"),
        established_on=dt.date(1995, 3, 8),
    )
    for name, code in (("新建村", "430121200201"), ("新建二村", "430121200202")):
        village = add_unit(Unit.objects.get(pk=town.pk), name=name, level=Level.VILLAGE, division_code=code)
        add_unit(Unit.objects.get(pk=village.pk), name="第一组", level=Level.GROUP)  # same name, other parent
    add_unit(Unit.objects.get(pk=town.pk), name="旧东村", level=Level.VILLAGE)
    Unit.objects.filter(name="旧东村").update(status=UnitStatus.DISSOLVED)
    return Unit.objects.get(pk=town.pk)


def _unit_identities(path: str) -> list:
    units = {u.path: u for u in Unit.objects.filter(path__startswith=path[: -Unit.steplen])}
    return sorted(
        (
            u.depth,
            u.name,
            units[u.path[: -Unit.steplen]].name,
            u.level,
            u.line_id,
            u.kind,
            u.division_code,
            u.uscc,
            u.address,
            u.established_on,
            u.status,
        )
        for u in units.values()
        if u.path.startswith(path)
    )


def test_a_unit_export_imports_back_as_the_same_tree(accounts, new_town, django_capture_on_commit_callbacks):
    staff = accounts["party_office"]
    before = [u for u in _unit_identities(new_town.path) if u[-1] == UnitStatus.ACTIVE]
    job = _export(staff, django_capture_on_commit_callbacks, "units", unit=new_town)
    assert job.status == ExportJob.Status.DONE and job.rows == 6, job.message
    assert "1个已合并、拆分或撤销的单位" in job.message
    rows = _sheet(job.file_path)
    assert rows[0] == [c.header for c in get_importer("units").columns]
    assert rows[1][:3] == ["新建镇", "示范县", "乡镇（街道）"]

    ExportJob.objects.filter(pk=job.pk).delete()  # the job row points at the unit (PROTECT)
    Unit.objects.filter(path__startswith=new_town.path).delete()
    out = run_import("units", job.file_path, user=staff, file_name="单位导出.xlsx", commit=True)
    assert out.ok and out.created_rows == 6, (out.message, out.errors[:3])
    town = Unit.objects.get(name="新建镇")
    assert _unit_identities(town.path) == before


def test_the_top_of_the_reach_is_left_out_of_a_unit_export_and_said_so(
    accounts, tree, django_capture_on_commit_callbacks
):
    job = _export(accounts["party_office"], django_capture_on_commit_callbacks, "units")
    names = [r[0] for r in _sheet(job.file_path)[1:]]
    assert "示范县" not in names and "城关镇" in names and "东风村妇联" in names
    assert "1个单位的上级单位不在您的权限范围内" in job.message


def test_an_unmasked_unit_export_is_refused_in_chinese(accounts, tree):
    with pytest.raises(ActionError, match="不含身份证号等敏感信息"):
        export_jobs.start_export(accounts["party_office"], "units", unmasked=True, purpose="核对")
    assert not ExportJob.objects.exists()


def test_a_read_only_account_cannot_export_any_kind_unmasked(accounts, tree):
    for kind in ROLE_KINDS:
        with pytest.raises(PermissionDenied):
            export_jobs.start_export(accounts["leader"], kind, unmasked=True, purpose="核对")
    assert not ExportJob.objects.exists()


# --- the page -----------------------------------------------------------------------------------


def test_the_export_page_offers_every_import_kind(client_for, accounts, django_assert_max_num_queries):
    client = client_for(accounts["women_staff"])
    with django_assert_max_num_queries(12):
        page = client.get(reverse("core:export_start")).content.decode()
    for label in ("人员", "单位", "会员（团员）", "五老志愿者", "班子成员", "队伍成员"):
        assert f">{label}</option>" in page


def test_the_export_page_runs_a_membership_export_and_refuses_unmasked_units(
    client_for, accounts, world, django_capture_on_commit_callbacks
):
    client = client_for(accounts["women_staff"])
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            reverse("core:export_start"), {"kind": "memberships", "unmasked": "on", "purpose": "核对"}
        )
    job = ExportJob.objects.get()
    assert resp.status_code == 302 and job.kind == "memberships"
    run_queued()
    page = client.get(reverse("core:export_job", args=[job.pk])).content.decode()
    assert "导出会员（团员）（完整信息）" in page and "下载文件（2行）" in page
    assert ">会员（团员）</td>" in client.get(reverse("core:export_start")).content.decode()

    resp = client.post(reverse("core:export_start"), {"kind": "units", "unmasked": "on", "purpose": "核对"})
    assert "不含身份证号等敏感信息" in resp.content.decode() and ExportJob.objects.count() == 1
