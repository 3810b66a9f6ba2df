"""``qunli bench import``: bulk person import from CSV (1,000,000 rows by default, ``--scale``
rows) and from a 100,000-row xlsx, with validation (ID check digit, unit, required fields),
dedup (in the file and against the database) and the all-or-nothing commit.

Every measurement runs in a child process on a fresh SQLite file (copied from a migrated
template holding a generated unit tree), so the dev database is never touched and the peak
RSS (ru_maxrss) of the child is the honest memory figure. The peer, django-import-export
(ModelResource with the same validation and encryption, bulk mode), runs on the first
20,000 rows of the same CSV; its rows/s is extrapolated from that subset (stated in the
result)."""

import csv
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PEER_ROWS = 20000
XLSX_ROWS = 100000
COUNTIES = 5
TOWNS = 8
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅志强海燕玉兰春梅晓东文博子涵雨欣浩然思远佳怡俊杰"
REGIONS = ["430121", "430122", "430123", "430124", "430181"]
HEADER = ["姓名", "身份证号", "所属单位", "联系电话", "民族", "政治面貌", "学历", "工作单位及职务", "住址"]


def unit_names() -> list[str]:
    names = []
    for c in range(1, COUNTIES + 1):
        for t in range(1, TOWNS + 1):
            names.append(f"第{c}县第{t}镇妇联")
    return names


def gen_rows(n: int, seed: int = 20260501):
    from qunli.core.identifiers import make_id_number

    rnd = random.Random(seed)
    units = unit_names()
    base = dt.date(1950, 1, 1)
    statuses = ["群众", "中共党员", "共青团员", "群众", "群众"]
    edus = ["初中", "高中", "大学专科", "大学本科", "硕士研究生"]
    for i in range(n):
        birth = base + dt.timedelta(days=i % 20000)
        idn = make_id_number(REGIONS[(i // 20000) % len(REGIONS)], birth, (i // 100000) * 10 + (i // 20000) % 10)
        name = rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2))))
        phone = f"1{rnd.choice('3456789')}{rnd.randrange(10**9):09d}"
        unit = units[i % len(units)]
        yield [name, idn, unit, phone, "汉族", rnd.choice(statuses), rnd.choice(edus), "", f"{unit[:6]}{i % 97 + 1}组"]


def ensure_csv(path: Path, n: int) -> Path:
    if not path.exists():
        tmp = path.with_suffix(".part")
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(HEADER)
            w.writerows(gen_rows(n))
        tmp.rename(path)
    return path


def ensure_xlsx(path: Path, n: int) -> Path:
    if not path.exists():
        import xlsxwriter

        tmp = path.with_name(path.stem + ".part.xlsx")
        wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True, "strings_to_numbers": False})
        ws = wb.add_worksheet("人员导入")
        ws.write_row(0, 0, HEADER)
        for r, row in enumerate(gen_rows(n, seed=7), start=1):
            ws.write_row(r, 0, row)
        wb.close()
        tmp.rename(path)
    return path


# --- child process -----------------------------------------------------------------------

def _setup_django(db: Path):
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["QUNLI_DATA_DIR"] = str(db.parent)
    os.environ["DJANGO_SETTINGS_MODULE"] = "qunli.settings"
    import django

    django.setup()


def _make_template(db: Path):
    _setup_django(db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from qunli.core.models import Grant, User
    from qunli.orgs.models import Level, Line, Unit

    women = Line.objects.get(code="women")
    root = Unit.objects.add_root({"name": "基准省", "level": Level.PROVINCE})
    for c in range(1, COUNTIES + 1):
        county = Unit.objects.add_child(Unit.objects.get(pk=root.pk), {"name": f"第{c}县", "level": Level.COUNTY})
        for t in range(1, TOWNS + 1):
            town = Unit.objects.add_child(Unit.objects.get(pk=county.pk),
                                          {"name": f"第{c}县第{t}镇", "level": Level.TOWNSHIP})
            Unit.objects.add_child(Unit.objects.get(pk=town.pk), {"name": f"第{c}县第{t}镇妇联",
                                                                   "level": Level.TOWNSHIP, "line": women})
    user = User.objects.create_user("bench", password="x", must_change_password=False)
    Grant.objects.create(user=user, role="staff", unit=Unit.objects.get(pk=root.pk), all_lines=True)


def _child_qunli(db: Path, file: Path):
    _setup_django(db)
    import resource
    import time

    from qunli.core.imports import run_import
    from qunli.core.models import User
    from qunli.people.models import Person

    def cpu(who):
        r = resource.getrusage(who)
        return r.ru_utime + r.ru_stime

    user = User.objects.get(username="bench")
    c0 = cpu(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    out = run_import("persons", file, user=user, commit=True)
    secs = time.perf_counter() - t0
    # CPU seconds of this process and of its (forked, reaped) workers: on a shared machine
    # the wall-clock rate depends on the other load, the CPU cost per row does not.
    main_cpu, workers_cpu = cpu(resource.RUSAGE_SELF) - c0, cpu(resource.RUSAGE_CHILDREN)
    return {"rows": out.total_rows, "created": Person.objects.count(), "seconds": secs, "message": out.message,
            "errors": out.errors[:3], "main_cpu_s": main_cpu, "workers_cpu_s": workers_cpu}


def _child_peer(db: Path, file: Path, limit: int):
    _setup_django(db)
    import itertools
    import time

    import tablib
    from import_export import fields, resources, widgets

    from qunli.core.identifiers import (
        InvalidIdentifier,
        id_birth_date,
        id_gender,
        validate_id_number,
        validate_phone,
    )
    from qunli.core.models import User
    from qunli.orgs.models import Unit
    from qunli.people.models import HAS_ID_NUMBER, Person

    user = User.objects.get(username="bench")
    visible = Unit.objects.visible_to(user, "change")

    class PersonResource(resources.ModelResource):
        name = fields.Field(attribute="name", column_name="姓名")
        unit = fields.Field(attribute="unit", column_name="所属单位",
                            widget=widgets.ForeignKeyWidget(Unit, field="name"))
        ethnicity = fields.Field(attribute="ethnicity", column_name="民族")
        education = fields.Field(attribute="education", column_name="学历")
        workplace = fields.Field(attribute="workplace", column_name="工作单位及职务")
        id_number_hash = fields.Field(attribute="id_number_hash", column_name="id_number_hash")

        class Meta:
            model = Person
            fields = ("name", "unit", "ethnicity", "education", "workplace", "id_number_hash")
            import_id_fields = ("id_number_hash",)
            use_bulk = True
            batch_size = 1000
            skip_diff = True
            use_transactions = True

        def get_queryset(self):
            # its per-row look-up by id_number_hash, through the unique index as ours
            return Person.objects.filter(HAS_ID_NUMBER)

        def before_import_row(self, row, **kwargs):
            from qunli.core.crypto import blind_index

            try:
                row["身份证号"] = validate_id_number(row["身份证号"])
                if row["联系电话"]:
                    validate_phone(row["联系电话"])
            except InvalidIdentifier as e:
                raise ValueError(str(e)) from e
            if not visible.filter(name=row["所属单位"]).exists():
                raise ValueError("单位不存在或不在您的权限范围内")
            row["id_number_hash"] = blind_index(row["身份证号"])

        def before_save_instance(self, instance, row, **kwargs):
            instance.set_sensitive("id_number", row["身份证号"])
            instance.set_sensitive("phone", row["联系电话"])
            instance.set_sensitive("address", row["住址"])
            instance.birth_date = id_birth_date(row["身份证号"])
            instance.gender = id_gender(row["身份证号"])

    with open(file, encoding="utf-8-sig", newline="") as fh:
        rows = list(itertools.islice(csv.reader(fh), limit + 1))
    t0 = time.perf_counter()
    data = tablib.Dataset(*(r + [""] for r in rows[1:]), headers=rows[0] + ["id_number_hash"])
    result = PersonResource().import_data(data, dry_run=False, raise_errors=False)
    secs = time.perf_counter() - t0
    return {"rows": len(rows) - 1, "created": Person.objects.count(), "seconds": secs,
            "errors": result.has_errors() or result.has_validation_errors()}


def _child_main(argv):
    import resource

    mode, db = argv[0], Path(argv[1])
    if mode == "template":
        _make_template(db)
        out = {}
    elif mode == "qunli":
        out = _child_qunli(db, Path(argv[2]))
    else:
        out = _child_peer(db, Path(argv[2]), int(argv[3]))
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(out, ensure_ascii=False))  # -P in _spawn: bench/ must not shadow stdlib


def _spawn(*args) -> dict:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-P", __file__, *map(str, args)], capture_output=True, text=True, env=env)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"benchmark child failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def cpu_metrics(prefix: str, r: dict) -> dict:
    """CPU microseconds per row in the importing process and in its workers, and the rate
    the machine's cores would allow if the import had them to itself."""
    rows = r["rows"] or 1
    total = r.get("main_cpu_s", 0) + r.get("workers_cpu_s", 0)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return {f"{prefix}_main_cpu_us_per_row": round(r.get("main_cpu_s", 0) * 1e6 / rows, 1),
            f"{prefix}_workers_cpu_us_per_row": round(r.get("workers_cpu_s", 0) * 1e6 / rows, 1),
            f"{prefix}_cpu_bound_rows_per_s": round(min(cores * rows / total, rows / r["main_cpu_s"]), 1)
            if total and r.get("main_cpu_s") else None}


def _fresh_db(template: Path, work: Path, name: str) -> Path:
    d = work / name
    d.mkdir()
    shutil.copy(template, d / "bench.sqlite3")
    shutil.copy(template.parent / "secrets.json", d / "secrets.json")
    return d / "bench.sqlite3"


def run(scale=None, stdout=None):
    from bench.common import cache_dir, result

    n = int(scale or 1_000_000)
    xn = min(XLSX_ROWS, n)
    say = (lambda m: stdout.write(m)) if stdout else (lambda m: None)
    cache = cache_dir("import")
    say(f"生成数据：{n} 行 CSV、{xn} 行 xlsx（缓存于 {cache}）")
    csv_file = ensure_csv(cache / f"persons-{n}.csv", n)
    xlsx_file = ensure_xlsx(cache / f"persons-{xn}.xlsx", xn)
    with tempfile.TemporaryDirectory(prefix="qunli-bench-import-") as tmp:
        work = Path(tmp)
        (work / "template").mkdir()
        template = work / "template" / "bench.sqlite3"
        _spawn("template", template)
        say("Qunli：CSV 导入 …")
        q_csv = _spawn("qunli", _fresh_db(template, work, "csv"), csv_file)
        say(f"  {q_csv}")
        say("Qunli：xlsx 导入 …")
        q_xlsx = _spawn("qunli", _fresh_db(template, work, "xlsx"), xlsx_file)
        say(f"  {q_xlsx}")
        peer_n = min(PEER_ROWS, n)
        say(f"django-import-export：前 {peer_n} 行 CSV …")
        peer = _spawn("peer", _fresh_db(template, work, "peer"), csv_file, peer_n)
        say(f"  {peer}")

    def rate(r):
        return round(r["rows"] / r["seconds"], 1) if r["seconds"] and r["created"] == r["rows"] else 0.0

    metrics = {
        "csv_rows_per_s": rate(q_csv), "csv_peak_mb": round(q_csv["peak_mb"], 1),
        "csv_seconds": round(q_csv["seconds"], 2), "csv_rows": q_csv["rows"], "csv_created": q_csv["created"],
        "xlsx_rows_per_s": rate(q_xlsx), "xlsx_peak_mb": round(q_xlsx["peak_mb"], 1),
        "xlsx_rows": q_xlsx["rows"], "errors": int(bool(q_csv["message"] or q_xlsx["message"])),
        **cpu_metrics("csv", q_csv), **cpu_metrics("xlsx", q_xlsx), "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    peers = {"django-import-export": {
        "csv_rows_per_s": rate(peer), "csv_peak_mb": round(peer["peak_mb"], 1), "rows_measured": peer["rows"],
        "seconds": round(peer["seconds"], 2), "note": f"measured on the first {peer['rows']} rows of the same CSV; "
        f"rate extrapolated to {n} rows", "extrapolated_seconds": round(n / rate(peer), 1) if rate(peer) else None}}
    return result("import", f"{n} CSV rows + {xn} xlsx rows", metrics, peers,
                  {"csv_rows_per_s": ">= 50000", "csv_peak_mb": "<= 400", "xlsx_rows_per_s": ">= 15000"},
                  "csv_rows_per_s", higher_is_better=True)


if __name__ == "__main__":
    _child_main(sys.argv[1:])
