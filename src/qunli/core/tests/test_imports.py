"""The import engine: templates, dry run, per-row errors, all-or-nothing commit, dedup,
scoping, encodings, hostile files, and the UI round trip."""

import datetime as dt
import io
import zipfile

import openpyxl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from qunli.core import crypto
from qunli.core.identifiers import make_id_number
from qunli.core.imports import get_importer, run_import, template_csv, template_xlsx, write_error_workbook
from qunli.core.models import ChangeLog, ImportJob
from qunli.people.models import Person

HEADER = "姓名,身份证号,所属单位,联系电话\n"


def idn(n: int) -> str:
    return make_id_number("430121", dt.date(1985, 3, 1), n)


def write(tmp_path, name: str, text: str, encoding="utf-8-sig"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def roster(rows) -> str:
    return HEADER + "".join(",".join(r) + "\n" for r in rows)


@pytest.fixture
def staff(accounts):
    return accounts["women_staff"]


def test_template_round_trip(tmp_path, staff, tree):
    buf = io.BytesIO()
    template_xlsx("persons", buf)
    buf.seek(0)
    wb = openpyxl.load_workbook(buf)
    ws = wb.worksheets[0]
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["姓名", "身份证号", "所属单位"]
    ws.append(["李四", idn(1), "东风村妇联", "13800138000"])
    ws.append(["王五", idn(2), str(tree["town_women"].pk), ""])
    path = tmp_path / "filled.xlsx"
    wb.save(path)
    out = run_import("persons", path, user=staff, commit=True)
    assert out.ok, out.errors
    assert Person.objects.count() == 2
    p = Person.objects.get(name="李四")
    assert p.id_number_hash == crypto.blind_index(idn(1))
    assert p.reveal("id_number") == idn(1) and p.reveal("phone") == "13800138000"
    assert p.unit == tree["village_women"] and p.gender and p.birth_date == dt.date(1985, 3, 1)
    assert template_csv("persons").decode("utf-8-sig").startswith("姓名,身份证号,所属单位")
    for kind in ("units", "memberships", "volunteers", "positions", "team_members"):
        template_xlsx(kind, io.BytesIO())


def test_bad_row_imports_nothing_then_fix_imports_all(tmp_path, staff):
    bad = idn(5)[:-1] + ("0" if idn(5)[-1] != "0" else "1")
    rows = [["甲", idn(3), "东风村妇联", ""], ["乙", bad, "东风村妇联", ""], ["丙", idn(4), "东风村妇联", ""]]
    path = write(tmp_path, "r.csv", roster(rows))
    out = run_import("persons", path, user=staff, commit=True)
    assert not out.ok and out.error_rows == 1
    assert out.errors[0]["row"] == 3 and "校验位" in out.errors[0]["reason"]
    assert Person.objects.count() == 0
    assert not ChangeLog.objects.filter(action="core.import_persons").exists()
    # the error workbook: every original row plus the reason column
    buf = io.BytesIO()
    write_error_workbook(path, "r.csv", out.errors, buf)
    buf.seek(0)
    ws = openpyxl.load_workbook(buf).worksheets[0]
    assert ws.cell(1, 5).value == "错误原因" and "校验位" in ws.cell(3, 5).value and ws.max_row == 4
    rows[1][1] = idn(5)
    out = run_import("persons", write(tmp_path, "r2.csv", roster(rows)), user=staff, commit=True)
    assert out.ok and out.created_rows == 3
    assert Person.objects.count() == 3
    log = ChangeLog.objects.get(action="core.import_persons")
    assert log.object_type == "core.importjob" and log.after["rows_created"] == 3
    assert len(log.after["id_range"]) == 2


def test_missing_required_and_duplicates(tmp_path, staff, person_factory, tree):
    existing = person_factory(unit=tree["village_women"], id_number=idn(9))
    rows = [["", idn(10), "东风村妇联", ""], ["甲", idn(11), "东风村妇联", ""], ["乙", idn(11), "东风村妇联", ""],
            ["丙", existing.reveal("id_number"), "东风村妇联", ""]]
    out = run_import("persons", write(tmp_path, "d.csv", roster(rows)), user=staff, commit=True)
    reasons = {e["row"]: e["reason"] for e in out.errors}
    assert "必填项“姓名”为空" in reasons[2]
    assert "与第3行重复" in reasons[4]
    assert "已登记" in reasons[5]
    assert Person.objects.count() == 1


@given(st.one_of(
    st.builds(lambda d, n, check: make_id_number("430121", d, n)[:17 if check else 18] + check,
              st.dates(min_value=dt.date(1890, 1, 1), max_value=dt.date(2100, 1, 1)), st.integers(0, 999),
              st.sampled_from(["", "", "0", "X"])),  # mostly the right check digit
    st.text("0123456789X", min_size=18, max_size=18).map(lambda v: "43" + v[2:])))
def test_the_importers_fast_id_check_agrees_with_validate_id_number(value):
    """``p_id_number`` takes a shortcut for clean values (birth dates cached, the check digit
    inlined): it accepts exactly what ``validate_id_number`` accepts, as the same value."""
    from qunli.core.identifiers import InvalidIdentifier, validate_id_number
    from qunli.core.imports import _TODAY, RowError, p_id_number

    try:
        expected = validate_id_number(value, _TODAY[0])
    except InvalidIdentifier:
        expected = None
    try:
        got = p_id_number(value)
    except RowError:
        got = None
    assert got == expected


def test_a_roster_typed_in_full_width_imports_as_ascii_and_still_finds_the_duplicate(
        tmp_path, staff, person_factory, tree):
    full = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
    existing = person_factory(unit=tree["village_women"], id_number=idn(9))
    rows = [["甲", idn(12).translate(full), "东风村妇联", "１３７００００１１１１"],
            ["丙", existing.reveal("id_number").translate(full), "东风村妇联", ""]]
    out = run_import("persons", write(tmp_path, "f.csv", roster(rows)), user=staff, commit=True)
    assert [(e["row"], e["reason"][:8]) for e in out.errors] == [(3, "该身份证号已登记")]
    out = run_import("persons", write(tmp_path, "g.csv", roster(rows[:1])), user=staff, commit=True)
    person = Person.objects.get(name="甲")
    assert person.reveal("id_number") == idn(12) and person.reveal("phone") == "13700001111"
    assert person.id_number_hash == crypto.blind_index(idn(12))


def test_out_of_scope_and_unknown_unit_same_message(tmp_path, staff, accounts):
    rows = [["甲", idn(20), "邻县妇联", ""], ["乙", idn(21), "不存在的单位", ""], ["丙", idn(22), "示范县总工会", ""]]
    out = run_import("persons", write(tmp_path, "s.csv", roster(rows)), user=staff, commit=True)
    assert [e["reason"] for e in out.errors] == [f"“{name}”：单位不存在或不在您的权限范围内"
                                                for name in ("邻县妇联", "不存在的单位", "示范县总工会")]
    leader = accounts["leader"]  # read-only grant: cannot import either
    out = run_import("persons", write(tmp_path, "s2.csv", roster([["丁", idn(23), "东风村妇联", ""]])), user=leader,
                     commit=True)
    assert out.errors[0]["reason"] == "“东风村妇联”：单位不存在或不在您的权限范围内"
    assert Person.objects.count() == 0


def test_gbk_csv_and_tolerant_headers(tmp_path, staff):
    text = " 姓　名 ,身份证号码,所属单位\n张三," + idn(30) + ",东风村妇联\n"
    out = run_import("persons", write(tmp_path, "g.csv", text, encoding="gbk"), user=staff, commit=True)
    assert out.ok, (out.message, out.errors)
    assert Person.objects.get().name == "张三"


@pytest.mark.parametrize("name,content,fragment", [
    ("a.xlsx", b"this is not a workbook", "不是有效的工作簿"),
    ("a.csv", b"PK\x03\x04garbage", "Excel 工作簿"),
    ("a.pdf", b"%PDF-1.4", "不支持的文件类型"),
    ("a.csv", b"\x00\x01\x02binary\x00", "二进制"),
    ("a.csv", b"", "文件为空"),
    ("a.csv", "姓名,所属单位\n张三,东风村妇联\n".encode(), "缺少必填列：身份证号"),
    ("a.csv", HEADER.encode(), "没有数据行"),
])
def test_hostile_files_get_a_clear_message(tmp_path, staff, name, content, fragment):
    p = tmp_path / name
    p.write_bytes(content)
    out = run_import("persons", p, user=staff, commit=True)
    assert fragment in out.message and Person.objects.count() == 0


def test_truncated_xlsx_and_zip_bomb(tmp_path, staff, settings):
    buf = io.BytesIO()
    template_xlsx("persons", buf)
    p = tmp_path / "t.xlsx"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    out = run_import("persons", p, user=staff, commit=True)
    assert out.message and Person.objects.count() == 0
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"\x00" * (60 * 1024 * 1024))
    out = run_import("persons", bomb, user=staff, commit=True)
    assert "压缩炸弹" in out.message
    settings.QUNLI_IMPORT_MAX_BYTES = 10
    out = run_import("persons", write(tmp_path, "big.csv", roster([["甲", idn(1), "东风村妇联", ""]])), user=staff)
    assert "超过上限" in out.message


def test_formula_injection_rejected(tmp_path, staff):
    rows = [["=HYPERLINK(\"http://x\")", idn(40), "东风村妇联", ""], ["@SUM(A1)", idn(41), "东风村妇联", ""]]
    out = run_import("persons", write(tmp_path, "f.csv", roster(rows)), user=staff, commit=True)
    assert out.error_rows == 2 and all("公式" in e["reason"] for e in out.errors)
    assert Person.objects.count() == 0


def test_dry_run_writes_nothing(tmp_path, staff):
    out = run_import("persons", write(tmp_path, "ok.csv", roster([["甲", idn(50), "东风村妇联", "13912345678"]])),
                     user=staff, commit=False)
    assert out.ok and out.total_rows == 1 and Person.objects.count() == 0
    assert out.preview[0][2] == crypto.mask_id_number(idn(50))  # the stored preview is masked


# --- property tests: nothing unhandled, nothing partial ------------------------------------

def _valid_csv_bytes() -> bytes:
    return roster([["甲", idn(60), "东风村妇联", ""], ["乙", idn(61), "东风村妇联", "13800138000"],
                   ["丙", idn(62), "城关镇妇联", ""]]).encode("utf-8-sig")


def _valid_xlsx_bytes() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["姓名", "身份证号", "所属单位"])
    ws.append(["甲", idn(70), "东风村妇联"])
    ws.append(["乙", idn(71), "东风村妇联"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _mutate(data: bytes, edits) -> bytes:
    b = bytearray(data)
    for pos, val, op in edits:
        if not b:
            break
        i = pos % len(b)
        if op == 0:
            b[i] = val
        elif op == 1:
            del b[i]
        elif op == 2:
            b.insert(i, val)
        else:
            del b[i:]
    return bytes(b)


EDITS = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255), st.integers(0, 3)), min_size=1, max_size=6)
PROPS = hsettings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))


def _check_no_partial(tmp_path, staff, name, data):
    before = Person.objects.count()
    p = tmp_path / name
    p.write_bytes(data)
    out = run_import("persons", p, user=staff, commit=True)  # must not raise
    after = Person.objects.count()
    if out.message or out.error_rows:
        assert after == before
    else:
        assert after == before + out.created_rows
    Person.objects.all().delete()


@pytest.mark.django_db
@PROPS
@given(data=st.binary(max_size=3000), ext=st.sampled_from(["a.csv", "a.xlsx", "a.xls", "a.ods", "a.txt"]))
def test_arbitrary_bytes_never_crash(tmp_path_factory, staff, data, ext):
    _check_no_partial(tmp_path_factory.mktemp("b"), staff, ext, data)


@pytest.mark.django_db
@PROPS
@given(edits=EDITS)
def test_mutated_csv_never_partial(tmp_path_factory, staff, edits):
    _check_no_partial(tmp_path_factory.mktemp("c"), staff, "m.csv", _mutate(_valid_csv_bytes(), edits))


@pytest.mark.django_db
@PROPS
@given(edits=EDITS)
def test_mutated_xlsx_never_partial(tmp_path_factory, staff, edits):
    _check_no_partial(tmp_path_factory.mktemp("x"), staff, "m.xlsx", _mutate(_valid_xlsx_bytes(), edits))


def test_workbook_claiming_an_unreadable_zip_version_gets_a_clear_message(tmp_path, staff):
    """A damaged central directory can claim zip version 6.8, which Python refuses with
    NotImplementedError rather than BadZipFile: still a plain Chinese refusal, nothing written."""
    data = bytearray(_valid_xlsx_bytes())
    at = data.index(b"PK\x01\x02")
    data[at + 6:at + 8] = (68).to_bytes(2, "little")  # "version needed to extract"
    p = tmp_path / "v68.xlsx"
    p.write_bytes(bytes(data))
    out = run_import("persons", p, user=staff, commit=True)
    assert "工作簿已损坏" in out.message and Person.objects.count() == 0


# --- the UI ---------------------------------------------------------------------------

def test_ui_upload_preview_confirm(client_for, staff, tmp_path, settings):
    settings.DATA_DIR = tmp_path
    client = client_for(staff)
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    assert client.get(reverse("core:import_start")).status_code == 200
    tpl = client.get(reverse("core:import_template", args=["persons"]))
    assert tpl.status_code == 200
    bad = roster([["甲", idn(80), "东风村妇联", ""], ["乙", idn(80), "东风村妇联", ""]]).encode("utf-8-sig")
    resp = client.post(reverse("core:import_start"), {"kind": "persons",
                                                      "file": SimpleUploadedFile("名单.csv", bad)})
    job = ImportJob.objects.get()
    assert resp.status_code == 302 and job.status == ImportJob.Status.FAILED
    page = client.get(reverse("core:import_job", args=[job.pk])).content.decode()
    assert "第3行" in page and "与第2行重复" in page and "下载错误报告" in page
    err = client.get(reverse("core:import_errors", args=[job.pk]))
    assert err.status_code == 200
    from qunli.core.models import AccessLog  # the workbook repeats full ID numbers: logged as an access

    assert AccessLog.objects.filter(object_type="core.importjob", fields__contains="id_number").count() == 1
    good = roster([["甲", idn(80), "东风村妇联", ""], ["乙", idn(81), "东风村妇联", ""]]).encode("utf-8-sig")
    client.post(reverse("core:import_start"), {"kind": "persons", "file": SimpleUploadedFile("名单.csv", good)})
    job = ImportJob.objects.order_by("-created_at").first()
    assert job.status == ImportJob.Status.VALIDATED and Person.objects.count() == 0
    page = client.get(reverse("core:import_job", args=[job.pk])).content.decode()
    assert "确认导入" in page and "import-preview" in page
    client.post(reverse("core:import_job", args=[job.pk]), {"action": "confirm"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.created_rows == 2
    assert Person.objects.count() == 2
    assert ChangeLog.objects.filter(object_type="core.importjob", object_id=str(job.pk)).count() == 1



def test_someone_elses_job_is_404(client_for, accounts, tmp_path, settings):
    from django.urls import reverse

    settings.DATA_DIR = tmp_path
    job = ImportJob.objects.create(kind="persons", user=accounts["women_staff"], file_name="x.csv",
                                   file_path=str(tmp_path / "x.csv"), file_sm3="", status="failed")
    assert client_for(accounts["union_staff"]).get(reverse("core:import_job", args=[job.pk])).status_code == 404


def test_importer_specs_have_unique_headers():
    for kind in ("units", "persons", "memberships", "volunteers", "positions", "team_members"):
        heads = [c.header for c in get_importer(kind).columns]
        assert len(heads) == len(set(heads))


def test_bulk_writer_matches_set_sensitive(tmp_path, staff, tree):
    text = "姓名,身份证号,所属单位,联系电话,住址\n甲," + idn(90) + ",东风村妇联,13700001111,城关镇东风村5组\n"
    assert run_import("persons", write(tmp_path, "b.csv", text), user=staff, commit=True).ok
    imported = Person.objects.get()
    ref = Person(unit=tree["village_women"], name="甲")
    for f, v in (("id_number", idn(90)), ("phone", "13700001111"), ("address", "城关镇东风村5组")):
        ref.set_sensitive(f, v)
        assert imported.reveal(f) == v
    for col in ("id_number_hash", "id_number_mask", "phone_hash", "phone_mask", "address_mask"):
        assert getattr(imported, col) == getattr(ref, col)


@pytest.mark.parametrize("workers", [0, 2])
def test_parallel_path_matches_serial(tmp_path, staff, tree, monkeypatch, settings, workers):
    """Large files are validated in forked workers (and on SQLite loaded with the secondary
    indexes deferred): same errors, same all-or-nothing, indexes back afterwards."""
    from django.db import connection

    from qunli.core import imports

    monkeypatch.setattr(imports, "PARALLEL_MIN_ROWS", 4)
    monkeypatch.setattr(imports, "CHUNK_ROWS", 2)
    settings.QUNLI_IMPORT_WORKERS = workers
    Person.objects.create(name="旧", unit=tree["village_women"], id_number_hash=crypto.blind_index(idn(1)))
    rows = [[f"人{i}", idn(i), "东风村妇联", "13700001111", f"住址{i}"] for i in range(1, 12)]
    bad = [*rows, ["重", idn(5), "东风村妇联", "", ""], ["坏", "123", "东风村妇联", "", ""]]

    def roster(rows):
        return "姓名,身份证号,所属单位,联系电话,住址\n" + "".join(",".join(r) + "\n" for r in rows)

    def indexes():
        with connection.cursor() as cur:
            return set(connection.introspection.get_constraints(cur, "people_person"))

    before = indexes()
    out = run_import("persons", write(tmp_path, "bad.csv", roster(bad)), user=staff, commit=True)
    assert not out.committed and Person.objects.count() == 1
    assert [(e["row"], e["column"], e["reason"][:6]) for e in out.errors] == [
        (13, "身份证号", "与第6行重复"), (14, "身份证号", "身份证号应为"), (2, "身份证号", "该身份证号已")]
    out = run_import("persons", write(tmp_path, "ok.csv", roster(rows[1:])), user=staff, commit=True)
    assert out.ok and out.committed and Person.objects.count() == 11
    assert indexes() == before and {"person_unique_id_number", "person_phone_hash"} <= before
    p = Person.objects.get(name="人5")
    assert p.reveal("address") == "住址5" and p.id_number_hash == crypto.blind_index(idn(5))


def test_blind_index_fast_hmac_matches_reference(settings):
    key = bytes.fromhex(settings.QUNLI_INDEX_KEY)
    for v in ("", "430121198503010017", "13700001111", "中文地址", "x" * 200):
        assert crypto.blind_index(v) == crypto._blind(key, v)
    sealed = crypto.seal_functions()["phone"](["13700001111", ""])
    assert sealed[1] == ("", "", "") and crypto.decrypt(sealed[0][0]) == "13700001111"


@pytest.mark.parametrize("quoted", [False, True])
def test_parallel_csv_ranges_report_original_cells(tmp_path, staff, tree, monkeypatch, settings, quoted):
    """CSV files without quotes are parsed by the workers from byte ranges (CRLF, blank
    lines and row numbers as in a serial read); a quoted file takes the row-chunk path.
    Errors found later (against the database) still carry the row's original cells."""
    from qunli.core import imports

    monkeypatch.setattr(imports, "PARALLEL_MIN_ROWS", 4)
    monkeypatch.setattr(imports, "CHUNK_ROWS", 3)
    settings.QUNLI_IMPORT_WORKERS = 2
    Person.objects.create(name="旧", unit=tree["village_women"], id_number_hash=crypto.blind_index(idn(7)))
    q = '"' if quoted else ""
    lines = ["姓名,身份证号,所属单位,联系电话,住址"]
    for i in range(1, 15):
        lines.append(f"人{i},{idn(i)},东风村妇联,13700001111,{q}住址{i}{q}")
        if i == 4:
            lines.append(",,,,")
    p = tmp_path / "r.csv"
    p.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    out = run_import("persons", p, user=staff, commit=True)
    assert not out.committed and out.total_rows == 14 and Person.objects.count() == 1
    assert [(e["row"], e["values"]) for e in out.errors] == [
        (9, ["人7", idn(7), "东风村妇联", "13700001111", "住址7"])]
    Person.objects.all().delete()
    out = run_import("persons", p, user=staff, commit=True)
    assert out.ok and Person.objects.count() == 14
    assert Person.objects.get(name="人14").reveal("address") == "住址14"


def test_validating_workers_take_sigterm_by_default_even_under_a_graceful_job_worker():
    """The job worker (django-tasks) handles SIGTERM as "finish the current task first"; the
    import's forked validating workers would inherit that handler, ignore the SIGTERM that
    Pool.terminate sends, and hang the import at its end (seen in CI). The pool initializer
    puts the default back. Run in a child process: the handler must not touch the suite's own."""
    import subprocess
    import sys

    script = (
        "import signal\n"
        "from qunli.core.imports import _die_with_parent\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)  # stands for db_worker's graceful handler\n"
        "_die_with_parent()  # what each forked validating worker runs first\n"
        "print('CHILD', signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "CHILD True" in out.stdout, (out.stdout, out.stderr[-2000:])



@pytest.mark.parametrize("value", ["13812345678", "19912345678", "12812345678", "1381234567", "138123456789",
                                   "１３８１２３４５６７８", "138 1234 5678", "0731-12345678", "13812345678\n", "1381234567x"])
def test_the_phone_parser_fast_path_agrees_with_validate_phone(value):
    from qunli.core.identifiers import InvalidIdentifier, validate_phone
    from qunli.core.imports import RowError, p_phone

    try:
        expected = validate_phone(value)
    except InvalidIdentifier as e:
        with pytest.raises(RowError, match=str(e)[:8]):
            p_phone(value)
    else:
        assert p_phone(value) == expected


def test_a_text_column_over_its_length_is_named_with_both_counts(tmp_path, staff, tree):
    text = "姓名,身份证号,所属单位,民族\n" + "甲," + idn(91) + ",东风村妇联," + "族" * 21 + "\n"
    out = run_import("persons", write(tmp_path, "long.csv", text), user=staff)
    assert [(e["column"], e["reason"]) for e in out.errors] == [("民族", "长度不能超过20个字符（实际21个）")]
