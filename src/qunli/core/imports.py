"""The one import engine (DESIGN.md mechanism 7) for every table that is filled from
spreadsheets: units, persons, memberships, 五老 volunteers, leadership positions (班子) and
team members.

An ``Importer`` names its columns (Chinese header, key, required, parser), validates one
row at a time (``validate_row``), checks a batch against the database (``check_batch``) and
writes a batch (``write_batch``). ``run_import`` streams the file (csv module, or
python-calamine for xlsx/xls/ods), validates every row, and — when committing — writes in
batches inside ONE transaction: if any row fails, everything is rolled back and every error
is reported (the first ``MAX_STORED_ERRORS`` with their original cells, all of them counted).
A dry run is the same pass without writes.

Units are referenced in the column “所属单位” (or “上级单位” for units) by their exact name
(unique among the units the importing user may change) or by their numeric id; an unknown,
ambiguous-free-but-invisible or read-only unit gives “单位不存在或不在您的权限范围内”.

Each committed import writes one change-log row: action ``core.import_<kind>``, object
``core.importjob``/<job id>, after = {file name, SM3 of the file, rows created, id range}.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import multiprocessing
import os
import re
import unicodedata
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import crypto, pinyin
from .identifiers import (
    PROVINCE_CODES,
    InvalidIdentifier,
    age_on,
    id_birth_date,
    id_check_digit,
    id_gender,
    validate_id_number,
    validate_phone,
)
from .maintenance import ANALYZE_AFTER_ROWS, refresh_planner_statistics
from .pinyin import sort_key

MAX_STORED_ERRORS = 1000
PREVIEW_ROWS = 20
BATCH_SIZE = 2000
OUT_OF_SCOPE = "单位不存在或不在您的权限范围内"
SPREADSHEET_EXTS = {".xlsx", ".xlsm", ".xls", ".ods"}
CSV_EXTS = {".csv", ".txt"}
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class ImportFileError(Exception):
    """The file as a whole cannot be read; the message (Chinese) is shown as is."""


class RowError(Exception):
    def __init__(self, reason: str, column: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.column = column


# --- column parsers ----------------------------------------------------------------

def p_text(max_len: int) -> Callable[[str], str]:
    def parse(v: str) -> str:
        if len(v) > max_len:
            raise RowError(f"长度不能超过{max_len}个字符（实际{len(v)}个）")
        return v
    parse.max_len = max_len  # clean_columns checks the length itself when it fits (no call per cell)
    return parse


_TODAY = [dt.date.today()]
_BIRTH_OK: dict[str, bool] = {}  # YYYYMMDD → a real date from 1900 to _TODAY; cleared with _TODAY


def _birth_ok(ymd: str) -> bool:
    ok = _BIRTH_OK.get(ymd)
    if ok is None:  # a roster repeats birth dates: a million rows hold some 30,000 of them
        try:
            birth = dt.date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
        except ValueError:
            ok = False
        else:
            ok = 1900 <= birth.year and birth <= _TODAY[0]
        _BIRTH_OK[ymd] = ok
    return ok


_SCIENTIFIC = re.compile(r"^\d(?:\.\d+)?[eE]\+?\d+$")
EXCEL_NUMBER_HINT = "（Excel 把它当成数字显示为“{v}”，末几位已丢失：请把该列设为“文本”格式，重新填写完整号码）"


def p_id_number(v: str) -> str:
    # Fast path for the common, already clean and valid value; anything else goes through
    # validate_id_number, which normalizes and words the error.
    if len(v) == 18 and v.isascii() and v[:17].isdecimal() and (v[17] == "X" or v[17].isdecimal()) \
            and v[:2] in PROVINCE_CODES and _birth_ok(v[6:14]) \
            and id_check_digit(v[:17]) == v[17]:
        return v
    if _SCIENTIFIC.match(v):
        raise RowError("身份证号不完整" + EXCEL_NUMBER_HINT.format(v=v))
    try:
        return validate_id_number(v, _TODAY[0])
    except InvalidIdentifier as e:
        raise RowError(str(e)) from None


def p_phone(v: str) -> str:
    if len(v) == 11 and v[0] == "1" and v.isascii() and v.isdecimal() and v[1] in "3456789":
        return v  # a clean mobile number, as validate_phone would return it
    try:
        return validate_phone(v)
    except InvalidIdentifier as e:
        if _SCIENTIFIC.match(v):  # looked at only once the number is refused: the import's hot path
            raise RowError("联系电话不完整" + EXCEL_NUMBER_HINT.format(v=v)) from None
        raise RowError(str(e)) from None


_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?$")


def p_date(v: str) -> dt.date:
    m = _DATE.match(v)
    if not m and len(v) == 8 and v.isdecimal():
        m = re.match(r"^(\d{4})(\d{2})(\d{2})$", v)
    if not m:
        raise RowError(f"日期“{v}”格式不正确，应如 2024-05-01")
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise RowError(f"日期“{v}”不存在") from None


def p_choice(choices, aliases: dict[str, str] | None = None) -> Callable[[str], str]:
    """A choice by its Chinese label (or code, or a common short form in ``aliases``); the
    parser keeps the labels so the dry-run preview shows 中共党员, not cpc."""
    by_label = {str(label): value for value, label in choices.choices}
    accepted = {**(aliases or {}), **by_label}
    values = set(choices.values)

    def parse(v: str) -> str:
        if v in accepted:
            return accepted[v]
        if v in values:
            return v
        raise RowError(f"“{v}”不是可选值（可选：{'、'.join(by_label)}）")
    parse.labels = {value: str(label) for value, label in choices.choices}
    return parse


_TRUE = {"是", "y", "yes", "true", "1", "√", "兼职"}
_FALSE = {"否", "n", "no", "false", "0", "", "专职"}


def p_bool(v: str) -> bool:
    low = v.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise RowError(f"“{v}”应填“是”或“否”")


@dataclass
class Col:
    header: str
    key: str
    required: bool = False
    parse: Callable[[str], object] | None = None
    note: str = ""
    example: str = ""
    aliases: tuple[str, ...] = ()
    text: bool = False  # format as text in the xlsx template (ID numbers, phones, codes)


def norm_header(h) -> str:
    s = unicodedata.normalize("NFKC", str(h or ""))
    s = re.sub(r"[\s*＊:：]|（必填）|\(必填\)", "", s)
    return s.lower()


# --- context shared by the importers ---------------------------------------------------

@dataclass
class UnitInfo:
    id: int
    name: str
    path: str
    line_id: int | None
    level: str
    status: str


@dataclass
class Context:
    user: object
    units: dict[int, UnitInfo] = field(default_factory=dict)
    by_name: dict[str, int | None] = field(default_factory=dict)  # None = ambiguous
    seen: dict = field(default_factory=dict)  # in-file dedup: key -> first row number
    extra: dict = field(default_factory=dict)
    now: object = None
    blind: Callable[[str], str] = crypto.blind_index

    def load_units(self):
        from qunli.orgs.models import Unit

        rows = Unit.objects.visible_to(self.user, "change").values_list(
            "id", "name", "path", "line_id", "level", "status")
        for uid, name, path, line_id, level, status in rows:
            self.units[uid] = UnitInfo(uid, name, path, line_id, level, status)
            self.by_name[name] = None if name in self.by_name else uid

    def unit(self, ref: str) -> UnitInfo:
        ref = ref.strip()
        if ref.isdecimal() and int(ref) in self.units:
            return self.units[int(ref)]
        uid = self.by_name.get(ref, 0)
        if uid is None:
            raise RowError(f"有多个名为“{ref}”的单位，请改填单位编号（ID）")
        if not uid:
            raise RowError(f"“{ref[:50]}”：{OUT_OF_SCOPE}")
        return self.units[uid]

    def first_seen(self, key, row_no: int) -> int | None:
        prev = self.seen.get(key)
        if prev is None:
            self.seen[key] = row_no
        return prev


# --- persons: the bulk writer every people importer shares ---------------------------

PERSON_COLUMNS = ("name", "name_sort", "gender", "birth_date", "ethnicity", "political_status", "education", "workplace",
                  "id_number_enc", "id_number_hash", "id_number_mask", "phone_enc", "phone_hash", "phone_mask",
                  "address_enc", "address_mask", "unit_id", "created_at", "updated_at")


ID_HASH_AT = PERSON_COLUMNS.index("id_number_hash")


def _person_sql(rows: int = 1) -> str:
    from qunli.people.models import Person

    q = connection.ops.quote_name
    cols = ", ".join(q(c) for c in PERSON_COLUMNS)
    marks = "(" + ", ".join(["%s"] * len(PERSON_COLUMNS)) + ")"
    return f"INSERT INTO {q(Person._meta.db_table)} ({cols}) VALUES {', '.join([marks] * rows)}"


REPEATS_KEPT = 4096  # repeated plain values person_params keeps one copy of (see there)


def person_params(rows: list[dict], seal: dict, adapt_date, stamps: tuple, common: dict | None = None) -> list[tuple]:
    """The INSERT values of persons (``PERSON_COLUMNS``, ending with the two timestamps
    ``stamps``); the sensitive values of all rows are sealed in one call per field.
    ``common`` (kept across the chunks of one import) holds the birth dates as the database
    takes them, and one copy of each repeated plain value (民族, 学历, the address masks),
    which then crosses from a worker, and is encoded for the database, once per chunk
    instead of once per row."""
    common = {} if common is None else common
    births, repeats = common.setdefault("births", {}), common.setdefault("repeats", {})
    if len(repeats) > REPEATS_KEPT:  # a file of all different addresses: keep memory bounded
        repeats.clear()
    ids = [r["id_number"] for r in rows]
    sealed_id = seal["id_number"](ids)
    sealed_phone = seal["phone"]([r.get("phone", "") for r in rows])
    sealed_address = seal["address"]([r.get("address", "") for r in rows])
    keep = repeats.setdefault
    out = []
    for r, idn, s_id, s_phone, (addr_enc, addr_mask) in zip(rows, ids, sealed_id, sealed_phone, sealed_address,
                                                           strict=True):
        ymd = idn[6:14]
        birth = births.get(ymd)
        if birth is None:
            birth = births[ymd] = adapt_date(id_birth_date(idn))
        ethnicity, education = r.get("ethnicity") or "汉族", r.get("education", "")
        out.append((r["name"], sort_key(r["name"]), id_gender(idn), birth, keep(ethnicity, ethnicity),
                    r.get("political_status") or "masses", keep(education, education), r.get("workplace", ""),
                    *s_id, *s_phone, addr_enc, keep(addr_mask, addr_mask), r["unit_id"], *stamps))
    return out


def _stamps(now) -> tuple:
    """created_at and updated_at of the persons an import inserts, as the database takes them."""
    now_db = connection.ops.adapt_datetimefield_value(now)
    return now_db, now_db


def insert_persons(rows: list[dict], now) -> None:
    """Insert persons: ``rows`` hold name, unit_id, id_number (valid), id_hash, and optional
    phone, address and plain fields. Sensitive values go through the crypto functions
    (``crypto.seal_functions``) as ``Person.set_sensitive``; tests compare both. Rows
    validated for a commit already carry ``_params`` (sealed in a worker)."""
    todo = [r for r in rows if "_params" not in r]
    fresh = iter(person_params(todo, crypto.seal_functions(), connection.ops.adapt_datefield_value, _stamps(now))
                 if todo else ())
    insert_person_params([(r["_params"] if "_params" in r else next(fresh)) for r in rows])


def _rows_per_insert() -> int:
    """Rows per INSERT statement, within the database's limit on parameters (Django's
    conservative 999 on SQLite)."""
    limit = connection.features.max_query_params or 2000
    return max(1, min(100, limit // len(PERSON_COLUMNS)))


def insert_person_params(params: list[tuple]) -> None:
    """Insert persons already sealed by ``person_params``, many rows per INSERT statement:
    SQLite starts and ends a statement per row of an ``executemany`` (AUTOINCREMENT's
    bookkeeping, the deferred foreign keys), about half of its cost per row here."""
    per = _rows_per_insert()
    whole = len(params) - len(params) % per
    with connection.cursor() as cur:
        if whole:  # one executemany: Django rewrites the placeholders of a statement per call
            cur.executemany(_person_sql(per), [list(chain.from_iterable(params[i:i + per]))
                                               for i in range(0, whole, per)])
        if whole < len(params):
            cur.executemany(_person_sql(), params[whole:])


def person_ids_by_hash(hashes) -> dict[str, int]:
    from qunli.people.models import Person

    hashes = list(hashes)
    out = {}
    for i in range(0, len(hashes), 900):
        out.update(Person.objects.with_id_number_hash(*hashes[i:i + 900]).values_list("id_number_hash", "id"))
    return out


def ensure_persons(rows: list[dict], ctx: Context) -> dict[str, int]:
    """Person ids for rows carrying id_hash/id_number/name/unit_id: existing ones found by
    the blind index, the others created (一人一档: one record per ID number)."""
    hashes = {r["id_hash"] for r in rows}
    found = person_ids_by_hash(hashes)
    missing, seen = [], set()
    for r in rows:
        if r["id_hash"] not in found and r["id_hash"] not in seen:
            seen.add(r["id_hash"])
            missing.append(r)
    if missing:
        insert_persons(missing, ctx.now)
        found.update(person_ids_by_hash(seen))
        ctx.extra["persons_created"] = ctx.extra.get("persons_created", 0) + len(missing)
    return found


# --- importers ---------------------------------------------------------------------------

_MASKS = {"id_number": crypto.mask_id_number, "phone": crypto.mask_phone, "address": crypto.mask_address}


class Importer:
    kind = ""
    label = ""
    model_label = ""
    columns: list[Col] = []
    key_col = ""  # which column to use for the dedup message

    def prepare(self, user) -> Context:
        ctx = Context(user=user, now=timezone.now(), blind=crypto.bulk_functions()[1])
        if _TODAY[0] != timezone.localdate():
            _TODAY[0] = timezone.localdate()
            _BIRTH_OK.clear()
        ctx.load_units()
        return ctx

    parallel = False  # validate_local is pure (no DB, no shared state): may run in workers
    blocks = False  # clean chunks of a commit may travel as columns (check_block, write_block)

    def validate_local(self, row: dict, ctx: Context) -> dict:
        """The part of validate_row that needs neither the database nor the rows before;
        ``finish_row`` does the rest (in-file dedup) in file order."""
        return self.validate_row(row, ctx)

    def finish_row(self, cleaned: dict, row_no: int, ctx: Context) -> None:
        pass

    def finish_chunk(self, cleaned_rows: list[dict], ctx: Context) -> None:
        """After validate_local over a chunk of rows (in the worker that validated them):
        work done better for many rows at once (sealing)."""

    def slim(self, cleaned: dict, ctx: Context) -> dict:
        """What a worker sends back of a good row: only what finish_row, check_batch and
        write_batch need (the preview gets the full rows)."""
        return cleaned

    def finish(self, ctx: Context) -> None:
        """After the last batch of a successful commit, still inside the transaction."""

    def warnings(self, ctx: Context) -> list[str]:
        """Notes on a file without errors that do not stop the import (shown with the outcome)."""
        return []

    def _column_plan(self) -> tuple:
        """(key, header, required, parse, plain text's max length) per column, read once
        rather than for every cell (a million-row file has nine million)."""
        plan = self.__dict__.get("_plan")
        if plan is None or plan[0] is not self.columns:
            plan = self._plan = (self.columns, tuple(
                (c.key, c.header, c.required, c.parse, getattr(c.parse, "max_len", None)) for c in self.columns))
        return plan[1]

    def clean_columns(self, row: dict) -> tuple[dict, list[RowError]]:
        cleaned, errors = {}, []
        get = row.get
        for key, header, required, parse, max_len in self._column_plan():
            raw = get(key)
            if raw:
                raw = raw.strip()
            if not raw:
                if required:
                    errors.append(RowError(f"必填项“{header}”为空", header))
                cleaned[key] = ""
                continue
            c0 = raw[0]
            if c0 in "=+@\t\r" or (c0 == "-" and not raw[1:2].isdecimal()):
                errors.append(RowError("内容以“=”“+”“-”“@”等符号开头，疑似公式，已拒绝", header))
                continue
            if parse is None or (max_len is not None and len(raw) <= max_len):
                cleaned[key] = raw
                continue
            try:
                cleaned[key] = parse(raw)
            except RowError as e:
                errors.append(RowError(e.reason, header))
        return cleaned, errors

    def clean_or_raise(self, row: dict) -> dict:
        """The row's cleaned columns, or one RowError naming every bad column."""
        cleaned, errors = self.clean_columns(row)
        if len(errors) == 1:
            raise RowError(errors[0].reason, errors[0].column)
        if errors:
            raise RowError("；".join(with_column(e.column, e.reason) for e in errors),
                           "、".join(dict.fromkeys(e.column for e in errors)))
        return cleaned

    def validate_row(self, row: dict, ctx: Context) -> dict:  # pragma: no cover - overridden
        raise NotImplementedError

    def check_batch(self, batch: list[tuple[int, dict]], ctx: Context) -> dict[int, RowError]:
        return {}

    def write_batch(self, actor, batch: list[tuple[int, dict]], ctx: Context) -> list[int]:  # pragma: no cover
        raise NotImplementedError

    def preview_row(self, cleaned: dict) -> list:
        """The cleaned row as shown in the dry-run preview; sensitive values masked, since the
        preview is stored with the job."""
        out = []
        for c in self.columns:
            v = cleaned.get(c.key, "")
            if v and c.key in _MASKS:
                v = _MASKS[c.key](v)
            elif v and hasattr(c.parse, "labels"):
                v = c.parse.labels.get(v, v)
            out.append(v)
        return out

    # shared helpers
    def _person_key(self, cleaned: dict, row_no: int, ctx: Context, key_extra=()) -> None:
        idn = cleaned["id_number"]
        cleaned["id_hash"] = ctx.blind(idn)
        first = ctx.first_seen((int(idn[:17]), *key_extra), row_no)
        if first is not None:
            raise RowError(f"与第{first}行重复（身份证号相同）", "身份证号")


def with_column(column: str, reason: str) -> str:
    """“身份证号：校验位错误”, but never “身份证号：身份证号校验位错误”."""
    return reason if not column or reason.startswith(column) or reason.startswith(f"必填项“{column}") \
        else f"{column}：{reason}"


def _resolve_unit(ctx: Context, ref: str, header: str = "所属单位") -> UnitInfo:
    try:
        return ctx.unit(ref)
    except RowError as e:
        raise RowError(e.reason, header) from None


ID_COL = Col("身份证号", "id_number", True, p_id_number, "18位公民身份号码，末位可为X；请以文本格式填写",
             "430121198001010017", ("身份证号码", "公民身份号码", "证件号码"), text=True)
NAME_COL = Col("姓名", "name", True, p_text(50), "", "张三")
UNIT_COL = Col("所属单位", "unit", True, None, "单位全称（在您可管理的单位中唯一）或单位编号", "城关镇妇联",
               ("单位", "登记单位", "所在组织", "所在单位", "单位编号"))
PHONE_COL = Col("联系电话", "phone", False, p_phone, "手机11位或座机如0731-12345678", "13800138000",
                ("手机", "手机号", "电话", "手机号码"), text=True)


class PersonImporter(Importer):
    kind = "persons"
    label = "人员"
    model_label = "people.person"

    def __init__(self):
        from qunli.people.models import PoliticalStatus

        self.columns = [
            NAME_COL, ID_COL, UNIT_COL, PHONE_COL,
            Col("民族", "ethnicity", False, p_text(20), "默认汉族", "汉族"),
            Col("政治面貌", "political_status", False,
                p_choice(PoliticalStatus, {"党员": "cpc", "预备党员": "cpc_prob", "团员": "league", "共青团员": "league"}),
                "默认群众；党员、团员亦可", "群众"),
            Col("学历", "education", False, p_text(20), "", "大学本科"),
            Col("工作单位及职务", "workplace", False, p_text(100), "", "城关镇中学 教师"),
            Col("住址", "address", False, p_text(200), "", "城关镇东风村3组"),
        ]

    parallel = True

    def validate_row(self, row, ctx):
        cleaned = self.validate_local(row, ctx)
        self.finish_chunk([cleaned], ctx)
        self.finish_row(cleaned, row["_row"], ctx)
        return cleaned

    def validate_local(self, row, ctx):
        cleaned = self.clean_or_raise(row)
        unit = _resolve_unit(ctx, cleaned["unit"])
        cleaned["unit_id"], cleaned["unit"] = unit.id, unit.name
        idn = cleaned["id_number"]
        cleaned["id_key"] = int(idn[:17])
        if "seal" not in ctx.extra:  # committing: finish_chunk seals and sets id_hash
            cleaned["id_hash"] = ctx.blind(idn)
        return cleaned

    def finish_chunk(self, cleaned_rows, ctx):
        seal = ctx.extra.get("seal")
        if seal is not None and cleaned_rows:  # committing: seal here (possibly in a worker), insert as is
            sealed = person_params(cleaned_rows, seal, ctx.extra["adapt_date"], ctx.extra["stamps"],
                                   ctx.extra.setdefault("common", {}))
            for cleaned, params in zip(cleaned_rows, sealed, strict=True):
                cleaned["_params"] = params
                cleaned["id_hash"] = params[ID_HASH_AT]

    def slim(self, cleaned, ctx):
        if "_params" not in cleaned:
            return cleaned
        return {"id_key": cleaned["id_key"], "id_hash": cleaned["id_hash"], "_params": cleaned["_params"]}

    def finish_row(self, cleaned, row_no, ctx):
        first = ctx.first_seen(cleaned["id_key"], row_no)
        if first is not None:
            raise RowError(f"与第{first}行重复（身份证号相同）", "身份证号")

    def check_batch(self, batch, ctx):
        known = ctx.extra.get("known_hashes")
        existing = known if known is not None else person_ids_by_hash(c["id_hash"] for _, c in batch)
        return {n: RowError("该身份证号已登记（一人一档），不能重复导入", "身份证号")
                for n, c in batch if c["id_hash"] in existing}

    def write_batch(self, actor, batch, ctx):
        if ctx.extra.get("large") and "known_hashes" not in ctx.extra:
            _sqlite_defer_indexes(ctx)
        # Rows of this file never collide with each other (finish_row dedups them), so the
        # set of stored hashes need not grow with what is inserted.
        insert_persons([c for _, c in batch], ctx.now)
        return []

    blocks = True

    def check_block(self, row_nos, hashes, ctx) -> dict[int, RowError]:
        known = ctx.extra.get("known_hashes")
        if known is not None and known.isdisjoint(hashes):
            return {}
        existing = known if known is not None else person_ids_by_hash(hashes)
        return {n: RowError("该身份证号已登记（一人一档），不能重复导入", "身份证号")
                for n, h in zip(row_nos, hashes, strict=True) if h in existing}

    def write_block(self, params, ctx) -> None:
        if ctx.extra.get("large") and "known_hashes" not in ctx.extra:
            _sqlite_defer_indexes(ctx)
        insert_person_params(params)

    def finish(self, ctx):
        for sql in ctx.extra.pop("deferred_indexes", ()):
            with connection.cursor() as cur:
                cur.execute(sql)


# An imported person is never merged: this partial index takes none of the new rows, and
# rebuilding it would scan the whole table for nothing.
KEPT_DURING_IMPORT = {"person_merged_into_partial"}


def _sqlite_defer_indexes(ctx) -> None:
    """A large import into a SQLite table that is not already huge: drop people_person's
    secondary indexes for the load and recreate them at the end, inside the same
    transaction (SQLite DDL is transactional: a failed import rolls the drop back too; the
    unique index, recreated before the commit, still guards the data). While they are gone,
    dedup against the database uses the set of stored blind indexes. Not on PostgreSQL."""
    from qunli.people.models import Person

    ctx.extra["known_hashes"] = None
    if connection.vendor != "sqlite":
        return
    table = Person._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
        if cur.fetchone()[0] > getattr(settings, "QUNLI_IMPORT_SQLITE_REINDEX_MAX_ROWS", 500000):
            return  # rebuilding the indexes of a big table costs more than it saves
        cur.execute(f'SELECT id_number_hash FROM "{table}" WHERE id_number_hash <> \'\'')
        known = {h for (h,) in cur.fetchall()}
        cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                    [table])
        indexes = [(name, sql) for name, sql in cur.fetchall() if name not in KEPT_DURING_IMPORT]
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
    ctx.extra["known_hashes"] = known
    ctx.extra["deferred_indexes"] = [sql for _, sql in indexes]


class MembershipImporter(Importer):
    kind = "memberships"
    label = "会员（团员）"
    model_label = "people.membership"

    def __init__(self):
        self.columns = [
            NAME_COL, ID_COL,
            Col("所属单位", "unit", True, None, "条线组织全称（如“东风村妇联”）或单位编号", "东风村妇联", UNIT_COL.aliases),
            Col("会员编号", "number", False, p_text(40), "会员/团员编号", "", ("会员/团员编号", "团员编号")),
            Col("加入日期", "joined_on", False, p_date, "如2020-05-04", "2020-05-04"),
            PHONE_COL,
        ]

    def validate_row(self, row, ctx):
        cleaned = self.clean_or_raise(row)
        unit = _resolve_unit(ctx, cleaned["unit"])
        cleaned["unit"] = unit.name
        if not unit.line_id:
            raise RowError(f"“{unit.name}”不是条线组织（如妇联、工会），不能登记会员", "所属单位")
        cleaned["unit_id"], cleaned["line_id"] = unit.id, unit.line_id
        self._person_key(cleaned, row["_row"], ctx, (unit.id,))
        return cleaned

    def check_batch(self, batch, ctx):
        from qunli.people.models import Membership

        persons = person_ids_by_hash(c["id_hash"] for _, c in batch)
        pids = set(persons.values())
        taken = set(Membership.objects.filter(person_id__in=pids).values_list("person_id", "unit_id")) if pids else set()
        return {n: RowError("该人员已是此单位的会员", "身份证号") for n, c in batch
                if (persons.get(c["id_hash"]), c["unit_id"]) in taken}

    def write_batch(self, actor, batch, ctx):
        from qunli.people.models import Membership

        ids = ensure_persons([c for _, c in batch], ctx)
        objs = Membership.objects.bulk_create([
            Membership(person_id=ids[c["id_hash"]], line_id=c["line_id"], unit_id=c["unit_id"],
                       number=c.get("number", ""), joined_on=c.get("joined_on") or None) for _, c in batch])
        return [o.pk for o in objs if o.pk]


def _ggw_line_id() -> int | None:
    from qunli.orgs.models import Line

    return Line.objects.filter(code="ggw").values_list("pk", flat=True).first()


class VolunteerImporter(Importer):
    kind = "volunteers"
    label = "五老志愿者"
    model_label = "people.volunteerprofile"

    def __init__(self):
        from qunli.people.models import VolunteerCategory

        self.columns = [
            NAME_COL, ID_COL,
            Col("所属单位", "unit", True, None, "所属关工委全称或单位编号", "示范县关工委", UNIT_COL.aliases),
            Col("五老类别", "category", True, p_choice(VolunteerCategory), "老干部、老战士、老专家、老教师、老模范等", "老教师",
                ("类别",)),
            Col("特长", "skills", False, p_text(200), "", "书法"),
            Col("聘书编号", "certificate_no", False, p_text(40), "", ""),
            Col("聘书日期", "certificate_date", False, p_date, "", ""),
            PHONE_COL,
            Col("登记日期", "registered_on", False, p_date, "空则为导入当天", "", ("注册日期",)),
        ]

    def validate_row(self, row, ctx):
        from qunli.people.actions import WULAO_MIN_AGE

        cleaned = self.clean_or_raise(row)
        if cleaned.get("registered_on") and cleaned["registered_on"] > timezone.localdate():
            raise RowError("登记日期不能晚于今天", "登记日期")
        birth = id_birth_date(cleaned["id_number"])
        age = age_on(birth, timezone.localdate()) if birth else None
        if age is not None and age < WULAO_MIN_AGE:
            raise RowError(f"五老志愿者应为离退休老同志，该人员现年{age}岁", "身份证号")
        unit = _resolve_unit(ctx, cleaned["unit"])
        if unit.status != "active":
            raise RowError(f"“{unit.name}”已不是正常状态的单位", "所属单位")
        if unit.line_id and unit.line_id != ctx.extra.setdefault("ggw_line", _ggw_line_id()):
            raise RowError(f"“{unit.name}”不是关工委组织，五老志愿者应登记在关工委下", "所属单位")
        cleaned["unit_id"], cleaned["unit"] = unit.id, unit.name
        self._person_key(cleaned, row["_row"], ctx)
        return cleaned

    def check_batch(self, batch, ctx):
        from qunli.people.models import VolunteerProfile

        persons = person_ids_by_hash(c["id_hash"] for _, c in batch)
        taken = set(VolunteerProfile.objects.filter(person_id__in=persons.values()).values_list("person_id", flat=True))
        return {n: RowError("该人员已登记为五老志愿者", "身份证号") for n, c in batch
                if persons.get(c["id_hash"]) in taken}

    def write_batch(self, actor, batch, ctx):
        from qunli.people.models import VolunteerProfile

        ids = ensure_persons([c for _, c in batch], ctx)
        today = timezone.localdate()
        objs = VolunteerProfile.objects.bulk_create([
            VolunteerProfile(person_id=ids[c["id_hash"]], unit_id=c["unit_id"], category=c["category"],
                             skills=c.get("skills", ""), certificate_no=c.get("certificate_no", ""),
                             certificate_date=c.get("certificate_date") or None,
                             registered_on=c.get("registered_on") or today)
            for _, c in batch])
        return [o.pk for o in objs if o.pk]


class PositionImporter(Importer):
    kind = "positions"
    label = "班子成员"
    model_label = "orgs.position"

    def __init__(self):
        from qunli.orgs.models import PositionTitle

        self.columns = [
            UNIT_COL, NAME_COL, ID_COL,
            Col("职务", "title", True, p_choice(PositionTitle), "主要负责人、常务副职、副职、专职副职、办公室主任、委员", "副职"),
            Col("职务名称", "title_label", False, p_text(30), "如：主席、副主席、书记", "副主席"),
            Col("任职日期", "started_on", True, p_date, "", "2023-01-01"),
            Col("任期届满", "term_ends_on", False, p_date, "", "2028-01-01"),
            Col("兼职", "is_parttime", False, p_bool, "是/否", "否"),
        ]

    def validate_row(self, row, ctx):
        from qunli.orgs.models import PositionTitle

        cleaned = self.clean_or_raise(row)
        unit = _resolve_unit(ctx, cleaned["unit"])
        cleaned["unit"] = unit.name
        cleaned["unit_id"] = unit.id
        if cleaned.get("term_ends_on") and cleaned["term_ends_on"] <= cleaned["started_on"]:
            raise RowError("任期届满日期必须晚于任职日期", "任期届满")
        if cleaned["title"] == PositionTitle.CHAIR:
            first = ctx.first_seen(("chair", unit.id), row["_row"])
            if first is not None:
                raise RowError(f"与第{first}行冲突：一个单位只能有一名在任主要负责人", "职务")
        self._person_key(cleaned, row["_row"], ctx, (unit.id, cleaned["title"]))
        return cleaned

    def check_batch(self, batch, ctx):
        from qunli.orgs.models import Position, PositionTitle

        persons = person_ids_by_hash(c["id_hash"] for _, c in batch)
        units = {c["unit_id"] for _, c in batch}
        current = Position.objects.filter(unit_id__in=units, ended_on__isnull=True)
        chairs = set(current.filter(title=PositionTitle.CHAIR).values_list("unit_id", flat=True))
        held = set(current.values_list("unit_id", "person_id", "title"))
        out = {}
        for n, c in batch:
            if c["title"] == PositionTitle.CHAIR and c["unit_id"] in chairs:
                out[n] = RowError("该单位已有在任的主要负责人，请先办理其离任", "职务")
            elif (c["unit_id"], persons.get(c["id_hash"]), c["title"]) in held:
                out[n] = RowError("该人员已在本单位担任该职务", "职务")
        return out

    def write_batch(self, actor, batch, ctx):
        from qunli.orgs.models import Line, Position, PositionTitle

        ids = ensure_persons([c for _, c in batch], ctx)
        chair_titles = dict(Line.objects.values_list("id", "chair_title"))
        objs = []
        for _, c in batch:
            label = c.get("title_label", "")
            line_id = ctx.units[c["unit_id"]].line_id
            if not label and c["title"] == PositionTitle.CHAIR and line_id:
                label = chair_titles.get(line_id, "")
            objs.append(Position(unit_id=c["unit_id"], person_id=ids[c["id_hash"]], title=c["title"], title_label=label,
                                 started_on=c["started_on"], term_ends_on=c.get("term_ends_on") or None,
                                 is_parttime=bool(c.get("is_parttime"))))
        return [o.pk for o in Position.objects.bulk_create(objs) if o.pk]


class TeamMemberImporter(Importer):
    kind = "team_members"
    label = "队伍成员"
    model_label = "people.teammember"

    def __init__(self):
        self.columns = [
            Col("队伍", "team", True, None, "队伍名称（在您可管理的队伍中唯一）或队伍编号", "城关镇五老宣讲团",
                ("队伍名称", "队伍编号")),
            NAME_COL, ID_COL,
            Col("队内职务", "role", False, p_text(30), "", "团长"),
            Col("加入日期", "joined_on", False, p_date, "", "2024-03-01"),
            PHONE_COL,
        ]

    def prepare(self, user):
        from qunli.people.models import Team

        ctx = super().prepare(user)
        teams, by_name = {}, {}
        for tid, name, unit_id in Team.objects.visible_to(user, "change").values_list("id", "name", "unit_id"):
            teams[tid] = unit_id
            by_name[name] = None if name in by_name else tid
        ctx.extra.update(teams=teams, team_names=by_name)
        return ctx

    def validate_row(self, row, ctx):
        cleaned = self.clean_or_raise(row)
        ref = cleaned["team"]
        teams, names = ctx.extra["teams"], ctx.extra["team_names"]
        tid = int(ref) if ref.isdecimal() and int(ref) in teams else names.get(ref, 0)
        if tid is None:
            raise RowError(f"有多个名为“{ref}”的队伍，请改填队伍编号", "队伍")
        if not tid:
            raise RowError("队伍不存在或不在您的权限范围内", "队伍")
        cleaned["team_id"], cleaned["unit_id"] = tid, teams[tid]
        if cleaned["unit_id"] not in ctx.units:
            raise RowError(OUT_OF_SCOPE, "队伍")
        self._person_key(cleaned, row["_row"], ctx, (tid,))
        return cleaned

    def check_batch(self, batch, ctx):
        from qunli.people.models import TeamMember

        persons = person_ids_by_hash(c["id_hash"] for _, c in batch)
        taken = set(TeamMember.objects.filter(person_id__in=persons.values()).values_list("team_id", "person_id"))
        return {n: RowError("该人员已在此队伍中", "身份证号") for n, c in batch
                if (c["team_id"], persons.get(c["id_hash"])) in taken}

    def write_batch(self, actor, batch, ctx):
        from qunli.people.models import TeamMember

        ids = ensure_persons([c for _, c in batch], ctx)
        objs = TeamMember.objects.bulk_create([
            TeamMember(team_id=c["team_id"], person_id=ids[c["id_hash"]], role=c.get("role", ""),
                       joined_on=c.get("joined_on") or None) for _, c in batch])
        return [o.pk for o in objs if o.pk]


class UnitImporter(Importer):
    kind = "units"
    label = "单位"
    model_label = "orgs.unit"

    def __init__(self):
        from qunli.orgs.models import Level, UnitKind

        self.columns = [
            Col("单位名称", "name", True, p_text(100), "", "东风村妇联", ("名称",)),
            Col("上级单位", "parent", True, None, "上级单位全称（在您可管理的单位中唯一）或单位编号；也可填本文件前面各行新增的单位", "东风村"),
            Col("层级", "level", True, p_choice(Level), "省、市、区县、乡镇（街道）、村（社区）、小组", "村（社区）"),
            Col("条线", "line", False, None, "如妇联、工会、团委；地域节点留空", "妇联"),
            Col("类别", "kind", False, p_choice(UnitKind), "地域、机关、学校、企业、园区/区域联合、新领域", "地域"),
            Col("行政区划代码", "division_code", False, self._division, "6、9或12位", "", text=True),
            Col("统一社会信用代码", "uscc", False, self._uscc, "", "", text=True),
            Col("地址", "address", False, p_text(200), "", ""),
            Col("成立日期", "established_on", False, p_date, "", ""),
        ]

    @staticmethod
    def _division(v):
        from .identifiers import validate_division_code
        try:
            return validate_division_code(v)
        except InvalidIdentifier as e:
            raise RowError(str(e)) from None

    @staticmethod
    def _uscc(v):
        from .identifiers import validate_uscc
        try:
            return validate_uscc(v)
        except InvalidIdentifier as e:
            raise RowError(str(e)) from None

    def prepare(self, user):
        from qunli.orgs.models import Line

        ctx = super().prepare(user)
        lines = {}
        for lid, code, name in Line.objects.values_list("id", "code", "name"):
            lines[code] = lines[name] = lid
        ctx.extra["lines"] = lines
        ctx.extra["file_units"] = {}  # name -> [(row number, UnitInfo)] of the valid rows so far
        return ctx

    def validate_row(self, row, ctx):
        from qunli.orgs.models import LEVEL_ORDER, Level, Unit, UnitStatus

        cleaned = self.clean_or_raise(row)
        parent, parent_row = self._parent(ctx, cleaned["parent"])
        cleaned["parent"] = parent.name
        if parent.status != UnitStatus.ACTIVE:
            raise RowError(f"上级单位“{parent.name}”已不是正常状态，不能新增下级", "上级单位")
        if LEVEL_ORDER[cleaned["level"]] < LEVEL_ORDER[parent.level]:
            raise RowError(f"层级不能高于上级单位（上级为{Level(parent.level).label}）", "层级")
        line = cleaned.pop("line")
        if line:
            if line not in ctx.extra["lines"]:
                raise RowError(f"没有名为“{line}”的条线", "条线")
            cleaned["line_id"] = ctx.extra["lines"][line]
        cleaned["parent_id"], cleaned["parent_row"] = parent.id, parent_row
        first = ctx.first_seen(("unit", parent.id or ("row", parent_row), cleaned["name"]), row["_row"])
        if first is not None:
            raise RowError(f"与第{first}行重复（同一上级下单位名称相同）", "单位名称")
        if parent_row is None and Unit.objects.filter(path__startswith=parent.path,
                                                      depth=len(parent.path) // Unit.steplen + 1,
                                                      name=cleaned["name"]).exists():
            raise RowError("上级单位下已有同名单位", "单位名称")
        # a later row of this file may name this unit as its 上级单位
        ctx.extra["file_units"].setdefault(cleaned["name"], []).append(
            (row["_row"], UnitInfo(0, cleaned["name"], "", cleaned.get("line_id"), cleaned["level"],
                                   UnitStatus.ACTIVE)))
        return cleaned

    @staticmethod
    def _parent(ctx, ref: str) -> tuple[UnitInfo, int | None]:
        """The parent named by ``ref``: an existing unit (by id or unique name), or a unit
        created by an earlier, valid row of this file (by name; then its row number)."""
        ref = ref.strip()
        earlier = ctx.extra["file_units"].get(ref, [])
        if earlier and not (ref.isdecimal() and int(ref) in ctx.units):
            if len(earlier) > 1 or ctx.by_name.get(ref, 0) != 0:
                rows = "、".join(str(n) for n, _ in earlier)
                raise RowError(f"有多个名为“{ref}”的单位（含本文件第{rows}行），无法确定是哪一个", "上级单位")
            return earlier[0][1], earlier[0][0]
        return _resolve_unit(ctx, ref, "上级单位"), None

    def write_batch(self, actor, batch, ctx):
        from qunli.orgs.models import Unit, UnitEvent

        ids = []
        created = ctx.extra.setdefault("created_units", {})  # row number -> new unit id
        for n, c in batch:
            parent_id = c["parent_id"] if c["parent_row"] is None else created[c["parent_row"]]
            parent = Unit.objects.get(pk=parent_id)
            data = {k: v for k, v in c.items()
                    if k not in ("parent_id", "parent", "parent_row") and v not in ("", None)}
            unit = Unit.objects.add_child(parent, data)
            UnitEvent.objects.create(unit=unit, kind=UnitEvent.Kind.CREATED,
                                     on=c.get("established_on") or dt.date.today())
            created[n] = unit.pk
            ids.append(unit.pk)
        return ids


IMPORTERS: dict[str, type[Importer]] = {
    cls.kind: cls for cls in (UnitImporter, PersonImporter, MembershipImporter, VolunteerImporter,
                              PositionImporter, TeamMemberImporter)
}


def get_importer(kind: str) -> Importer:
    try:
        return IMPORTERS[kind]()
    except KeyError:
        raise ImportFileError(f"不支持的导入类型“{kind}”") from None


def kind_choices() -> list[tuple[str, str]]:
    return [(k, cls.label) for k, cls in IMPORTERS.items()]


# --- readers -------------------------------------------------------------------------

def _cell_str(v) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def check_file(path: Path, file_name: str) -> str:
    """Refuse what cannot be read, before reading it; return "csv" or "sheet"."""
    ext = Path(file_name).suffix.lower()
    size = path.stat().st_size
    limit = settings.QUNLI_IMPORT_MAX_BYTES
    if size == 0:
        raise ImportFileError("文件为空。")
    if size > limit:
        raise ImportFileError(f"文件大小{size / 1048576:.1f} MB，超过上限{limit / 1048576:.0f} MB，请拆分后分批导入。")
    with open(path, "rb") as fh:
        head = fh.read(8)
    is_zip, is_ole = head.startswith(ZIP_MAGIC), head.startswith(OLE_MAGIC)
    if ext in CSV_EXTS:
        if is_zip or is_ole:
            raise ImportFileError(f"文件扩展名是{ext}，但内容是 Excel 工作簿；请把扩展名改为 .xlsx（或 .xls）后再上传。")
        return "csv"
    if ext not in SPREADSHEET_EXTS:
        raise ImportFileError(f"不支持的文件类型“{ext or '无扩展名'}”，请上传 .xlsx、.xls、.ods 或 .csv 文件。")
    if ext == ".xls" and not (is_ole or is_zip):
        raise ImportFileError("文件扩展名是 .xls，但内容不是 Excel 工作簿（文件可能已损坏或被改过扩展名）。")
    if ext != ".xls" and not is_zip:
        raise ImportFileError(f"文件扩展名是 {ext}，但内容不是有效的工作簿（文件可能已损坏、被截断或被改过扩展名）。")
    if is_zip:
        _check_zip(path, size)
    return "sheet"


def _check_zip(path: Path, size: int) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    # NotImplementedError: a damaged header can claim a zip version or compression we cannot read
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        raise ImportFileError("工作簿已损坏或不完整（无法解压），请重新保存后上传。") from None
    if len(infos) > 10000:
        raise ImportFileError("工作簿内部文件过多，疑似恶意文件，已拒绝。")
    total = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos) or 1
    cap = getattr(settings, "QUNLI_IMPORT_MAX_UNPACKED_BYTES", 1024 * 1024 * 1024)
    if total > cap or (total > 50 * 1048576 and total / packed > 200):
        raise ImportFileError("工作簿解压后体积异常巨大，疑似“压缩炸弹”，已拒绝。")


def _detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if b"\x00" in sample:
        raise ImportFileError("文件不是文本格式的 CSV（含有二进制内容），请上传 Excel 工作簿或另存为 CSV。")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample[:65536]).best()
    enc = (best.encoding if best else "").lower()
    candidates = ["gb18030"] if enc in ("", "gb2312", "gbk", "gb18030", "hz", "big5", "cp950") or "gb" in enc \
        else [enc, "gb18030"]
    for cand in candidates:
        try:
            codecs.getincrementaldecoder(cand)().decode(sample, final=False)
            return cand
        except (UnicodeDecodeError, LookupError):
            continue
    raise ImportFileError("无法识别文件编码；请在 Excel 中“另存为 → CSV UTF-8（逗号分隔）”后再上传。")


class Rows:
    """The rows of a file, (row number, cells) after (row number, cells). Spreadsheet cells
    are converted to text (``_cell_str``) unless ``raw`` is set, in which case the consumer
    converts them (the import does it in its workers). ``csv_info`` (path, encoding,
    delimiter) lets the importer hand byte ranges of a CSV file to its workers; ``last`` is
    the row number of the row returned last."""

    def __init__(self, source, csv_info=None):
        self._source = source
        self.csv_info = csv_info
        self.raw = False
        self.last = 0

    def __iter__(self):
        return self

    def __next__(self):
        row_no, cells = next(self._source)
        self.last = row_no
        if self.csv_info is None and not self.raw:
            cells = [_cell_str(v) for v in cells]
        return row_no, cells

    def close(self):
        self._source.close()


def _csv_decode_error(row_no: int, enc: str) -> ImportFileError:
    return ImportFileError(f"第{row_no + 1}行附近有无法识别的字符（文件按 {enc.upper()} 编码读取），"
                           "文件可能已损坏或混用了编码；请另存为“CSV UTF-8”后再上传。")


def _csv_format_error(row_no: int, e) -> ImportFileError:
    return ImportFileError(f"第{row_no + 1}行 CSV 格式错误（{e}），请检查引号是否成对。")


def _csv_dialect(path: Path) -> tuple[str, str]:
    with open(path, "rb") as fh:
        sample = fh.read(262144)
    enc = _detect_encoding(sample)
    first_line = sample.split(b"\n", 1)[0]
    delimiter = "\t" if (b"\t" in first_line and b"," not in first_line) or enc == "utf-16" else ","
    return enc, delimiter


def _iter_csv(path: Path, enc: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    row_no = 0
    try:
        with open(path, encoding=enc, newline="") as fh:
            for row_no, cells in enumerate(csv.reader(fh, delimiter=delimiter), start=1):
                yield row_no, cells
    except UnicodeDecodeError:
        raise _csv_decode_error(row_no, enc) from None
    except csv.Error as e:
        raise _csv_format_error(row_no, e) from None


def _iter_sheet(path: Path) -> Iterator[tuple[int, list]]:
    """The first sheet's rows as calamine returns them (str, float, int, bool, date, …).
    calamine 0.9 reads the sheet's cell range when the sheet is opened (there is no lazier
    reader for xlsx); ``iter_rows`` then hands out one row at a time, so no list of Python
    rows is ever built."""
    import python_calamine as pc

    try:
        wb = pc.CalamineWorkbook.from_path(str(path))
        if not wb.sheet_names:
            raise ImportFileError("工作簿中没有工作表。")
        sheet = wb.get_sheet_by_index(0)
        rows = sheet.iter_rows()
    except ImportFileError:
        raise
    except pc.PasswordError:
        raise ImportFileError("工作簿设有密码，请取消密码后再上传。") from None
    except Exception:  # calamine raises several error types for broken files
        raise ImportFileError("无法读取工作簿：文件已损坏、被截断或不是有效的 Excel/WPS 文件。") from None
    start = sheet.start[0] if sheet.start else 0
    row_no = start
    try:
        for row_no, cells in enumerate(rows, start=start + 1):
            yield row_no, cells
    except ImportFileError:
        raise
    except Exception:
        raise ImportFileError(f"第{row_no + 1}行附近无法读取，工作簿可能已损坏。") from None


def iter_rows(path: Path, file_name: str) -> Rows:
    kind = check_file(path, file_name)
    if kind == "csv":
        enc, delimiter = _csv_dialect(path)
        return Rows(_iter_csv(path, enc, delimiter), (path, enc, delimiter))
    return Rows(_iter_sheet(path))


def map_header(importer: Importer, header: list[str]) -> dict[str, int]:
    wanted = {}
    for col in importer.columns:
        for name in (col.header, col.key, *col.aliases):
            wanted.setdefault(norm_header(name), col.key)
    mapping: dict[str, int] = {}
    for idx, h in enumerate(header):
        key = wanted.get(norm_header(h))
        if key is None:
            continue
        if key in mapping:
            raise ImportFileError(f"表头中“{h}”列出现了两次。")
        mapping[key] = idx
    missing = [c.header for c in importer.columns if c.required and c.key not in mapping]
    if missing:
        raise ImportFileError(f"表头缺少必填列：{'、'.join(missing)}。请使用下载的{importer.label}导入模板，"
                              "表头须在第一行。")
    return mapping


# --- the run -------------------------------------------------------------------------------

@dataclass
class Outcome:
    kind: str
    total_rows: int = 0
    error_rows: int = 0
    errors: list[dict] = field(default_factory=list)
    preview: list[list] = field(default_factory=list)
    created_rows: int = 0
    id_range: list = field(default_factory=list)
    message: str = ""
    header: list[str] = field(default_factory=list)
    committed: bool = False
    extra: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.message and self.error_rows == 0


class _Rollback(Exception):
    pass


def _max_id(model_label: str) -> int:
    from django.apps import apps
    from django.db.models import Max

    model = apps.get_model(model_label)
    return model.objects.aggregate(m=Max("pk"))["m"] or 0


class _sqlite_tuning:
    """A bigger page cache while a large import writes: the blind-index B-trees take random
    inserts, which thrash SQLite's default 2 MB cache. Restored afterwards."""

    def __enter__(self):
        self.old = None
        if connection.vendor == "sqlite":
            with connection.cursor() as cur:
                cur.execute("PRAGMA cache_size")
                self.old = cur.fetchone()[0]
                cur.execute(f"PRAGMA cache_size = {-int(getattr(settings, 'QUNLI_IMPORT_SQLITE_CACHE_KB', 98304))}")

    def __exit__(self, *exc):
        if self.old is not None:
            with connection.cursor() as cur:
                cur.execute(f"PRAGMA cache_size = {int(self.old)}")


def run_import(kind: str, path, *, user, file_name: str = "", commit: bool = False,
               progress: Callable[[int], None] | None = None, job=None, file_sm3: str = "",
               batch_size: int = BATCH_SIZE, on_commit: Callable[[Outcome], None] | None = None) -> Outcome:
    """Read, validate and (when ``commit``) write a whole file. Never raises for bad data
    or a bad file: the outcome carries ``message`` (file-level) or ``errors`` (per row).
    ``on_commit(outcome)`` runs inside the import's transaction once every row is written
    (the background job marks itself done there, so "done" and the rows commit together)."""
    path = Path(path)
    file_name = file_name or path.name
    out = Outcome(kind=kind)
    try:
        importer = get_importer(kind)
        rows = iter_rows(path, file_name)
        if commit:
            with transaction.atomic(), _sqlite_tuning():
                _run(importer, rows, user, out, True, progress, batch_size, job, file_name, file_sm3)
                if out.error_rows:
                    raise _Rollback
                out.committed = True
                if on_commit is not None:
                    on_commit(out)
        else:
            _run(importer, rows, user, out, False, progress, batch_size, job, file_name, file_sm3)
    except _Rollback:
        out.created_rows, out.id_range = 0, []
    except ImportFileError as e:
        out.message = str(e)
        out.created_rows, out.id_range, out.committed = 0, [], False
    except MemoryError:
        out.message = "文件过大，服务器内存不足，请拆分后分批导入。"
        out.created_rows, out.committed = 0, False
    if out.committed and out.created_rows >= ANALYZE_AFTER_ROWS:
        refresh_planner_statistics()
    if out.error_rows and not out.message:
        shown = "" if out.error_rows <= MAX_STORED_ERRORS else f"（仅列出前{MAX_STORED_ERRORS}处）"
        out.message = f"共{out.total_rows}行，其中{out.error_rows}行有错误{shown}；未导入任何数据。请下载错误报告，修改后重新上传。"
    return out


BLOCK = object()  # marks a clean chunk passed as columns (importers with ``blocks``)
PARALLEL_MIN_ROWS = 20000  # below this, validating in-process is cheaper than starting workers
CHUNK_ROWS = 1000  # rows per task handed to a worker (CSV byte ranges: about this many lines)
_WORKER: tuple = ()  # (importer, ctx, mapping, csv_info), inherited by the forked workers


def _blank(cells) -> bool:
    return not "".join(cells).strip()


def _validate_cells(importer, ctx, mapping, row_no: int, cells: list[str]) -> tuple:
    n = len(cells)
    row = {key: (cells[i] if i < n else "") for key, i in mapping}
    row["_row"] = row_no
    try:
        return None, importer.validate_local(row, ctx)
    except RowError as e:
        return (e.column, e.reason), None


def _validate_chunk(chunk, convert=False, state=None) -> list:
    """validate_local over (row_no, cells) pairs, aligned with them: None for a blank row,
    else (error (column, reason) | None, cleaned | None). ``convert``: the cells are raw
    spreadsheet values, turned into text here (in the worker)."""
    importer, ctx, mapping = (state or _WORKER)[:3]
    out = []
    good = []
    for row_no, cells in chunk:
        if convert:
            cells = [_cell_str(v) for v in cells]
        if _blank(cells):
            out.append(None)
            continue
        res = _validate_cells(importer, ctx, mapping, row_no, cells)
        if res[1] is not None:
            good.append(res[1])
        out.append(res)
    importer.finish_chunk(good, ctx)
    return out


def _slim(importer, ctx, results, pick):
    """Worker side: good rows travel back in the importer's compact form (``slim``), except
    the first PREVIEW_ROWS of each task, which the preview may show."""
    kept = 0
    for r in results:
        cleaned = pick(r)
        if cleaned is not None:
            kept += 1
            if kept > PREVIEW_ROWS:
                yield r, importer.slim(cleaned, ctx)
                continue
        yield r, cleaned


def _pool_chunk(chunk, convert):
    importer, ctx = _WORKER[:2]
    res = _validate_chunk(chunk, convert)
    if importer.blocks and res and all(r is not None and r[0] is None for r in res) and "_params" in res[0][1]:
        good = [r[1] for r in res]  # a clean chunk of a commit: one block of columns (see _run)
        return ("block", ([c["id_key"] for c in good], [c["id_hash"] for c in good], [c["_params"] for c in good]))
    return [r if r is None else (r[0], c) for r, c in _slim(importer, ctx, res, lambda r: r and r[1])]


def _pool_range(start: int, end: int):
    """Worker: parse and validate the CSV records in bytes [start, end) of the file (cut at
    line ends, no quotes in the file: records are lines). Returns ("ok", records, entries)
    with entries (index of the record in the range, error, cleaned, cells if error), or
    ("decode", record index) / ("csv", record index, message) for a broken file."""
    importer, ctx, mapping, (path, enc, delimiter) = _WORKER
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    try:
        text = data.decode("utf-8" if enc == "utf-8-sig" else enc)
    except UnicodeDecodeError as e:
        return ("decode", data.count(b"\n", 0, e.start))
    entries, good = [], []
    idx = -1
    try:
        for idx, cells in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)):
            if _blank(cells):
                continue
            err, cleaned = _validate_cells(importer, ctx, mapping, idx, cells)
            if err is None:
                good.append(cleaned)
                entries.append((idx, None, cleaned, None))
            else:
                entries.append((idx, err, None, cells))
    except csv.Error as e:
        return ("csv", idx + 1, str(e))
    importer.finish_chunk(good, ctx)
    if len(good) == len(entries) and good and importer.blocks and "_params" in good[0]:
        # a clean chunk of a commit travels as one block of columns (see _run: take_block)
        return ("block", idx + 1, ([e[0] for e in entries], [c["id_key"] for c in good],
                                   [c["id_hash"] for c in good], [c["_params"] for c in good]))
    entries = [(e[0], e[1], c, e[3]) for e, c in _slim(importer, ctx, entries, lambda e: e[2])]
    return ("ok", idx + 1, entries)


_SAFE_ENCODINGS = {"utf-8-sig", "gb18030"}  # a newline or quote byte never sits inside a character


def _csv_ranges(rows: Rows, chunk_rows: int) -> tuple[int, int, list] | None:
    """When a CSV file can be cut at line ends (an ASCII-safe encoding, no quote character,
    no bare CR: every line is one record), the byte ranges of about ``chunk_rows`` lines
    each after the rows read so far: (data start, estimated data rows, ranges)."""
    if rows.csv_info is None:
        return None
    path, enc, _ = rows.csv_info
    if enc not in _SAFE_ENCODINGS:
        return None
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        cr_pending = False
        while chunk := fh.read(1 << 22):
            if b'"' in chunk:
                return None
            if cr_pending and not chunk.startswith(b"\n"):
                return None
            lone = chunk.count(b"\r") - chunk.count(b"\r\n")
            cr_pending = chunk.endswith(b"\r")
            if lone - cr_pending:
                return None
        if cr_pending:
            return None
        fh.seek(0)
        start = 0
        for _ in range(rows.last):  # data starts after the lines read so far (header)
            line = fh.readline()
            if not line.endswith(b"\n"):
                return None
            start += len(line)
        sample = fh.read(65536)
        if not sample:
            return None
        avg = max(1.0, len(sample) / max(1, sample.count(b"\n")))
        step = max(1, int(avg * chunk_rows))
        ranges = []
        pos = start
        while pos < size:
            fh.seek(min(pos + step, size) - 1)
            cut = -1
            while cut < 0:
                buf = fh.read(65536)
                if not buf:
                    cut = size
                    break
                i = buf.find(b"\n")
                if i >= 0:
                    cut = fh.tell() - len(buf) + i + 1
            ranges.append((pos, cut))
            pos = cut
    return start, int((size - start) / avg), ranges


def _workers() -> int:
    n = getattr(settings, "QUNLI_IMPORT_WORKERS", None)
    if n is None:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return int(n) if "fork" in multiprocessing.get_all_start_methods() else 0


def _validated(importer, rows: Rows, ctx, mapping):
    """(row_no, cells, error, cleaned) for every non-blank row, in file order (cells may be
    None for a good row read by a worker: ``ctx.extra["reread"]`` finds them if needed).
    Large files of a ``parallel`` importer are validated by a pool of forked workers (each
    inheriting the context) while this process deduplicates, checks against the database
    and writes; a CSV file is handed out as byte ranges (the workers parse it), other files
    as chunks of rows. Results are consumed in order, so errors and dedup are exactly those
    of a serial run."""
    global _WORKER

    convert = rows.csv_info is None
    rows.raw = True
    state = (importer, ctx, mapping, rows.csv_info)
    n_workers = _workers() if importer.parallel else 0
    if n_workers:
        plan = _csv_ranges(rows, CHUNK_ROWS)
        if plan is not None and plan[1] >= PARALLEL_MIN_ROWS:
            rows.close()
            yield from _validated_ranges(importer, ctx, state, plan, rows, n_workers)
            return

    def chunks():
        chunk = []
        for pair in rows:
            chunk.append(pair)
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    source = chunks()
    head = []
    if n_workers:  # only go parallel once the file proves large
        for chunk in source:
            head.append(chunk)
            if len(head) * CHUNK_ROWS >= PARALLEL_MIN_ROWS:
                break
        else:
            n_workers = 0

    def emit(chunk, results):  # cells stay raw: _run turns them into text only for an error
        if isinstance(results, tuple):  # ("block", columns) from _pool_chunk
            keys, hashes, params = results[1]
            yield None, None, BLOCK, ([n for n, _ in chunk], keys, hashes, params, [c for _, c in chunk])
            return
        for (row_no, cells), res in zip(chunk, results, strict=True):
            if res is not None:
                yield row_no, cells, *res

    if not n_workers:
        for chunk in _chain(head, source):
            yield from emit(chunk, _validate_chunk(chunk, convert, state))
        return
    ctx.extra["large"] = True
    _WORKER = state
    workers = _Workers(n_workers, _pool_chunk)
    try:
        pending: deque = deque()
        window = TASKS_PER_WORKER * n_workers
        for chunk in _chain(head, source):
            workers.submit(chunk, convert)
            pending.append(chunk)
            if len(pending) >= window:
                yield from emit(pending.popleft(), workers.result())
        while pending:
            yield from emit(pending.popleft(), workers.result())
    finally:
        workers.close()
        _WORKER = ()


def _validated_ranges(importer, ctx, state, plan, rows: Rows, n_workers: int):
    global _WORKER

    path, enc, delimiter = rows.csv_info
    _, _, ranges = plan
    starts: list[tuple[int, int, int]] = []  # (first row number, start, end) of each range consumed

    def reread(row_no: int) -> list[str]:
        import bisect

        i = bisect.bisect_right([s[0] for s in starts], row_no) - 1
        first, start, end = starts[i]
        with open(path, "rb") as fh:
            fh.seek(start)
            text = fh.read(end - start).decode("utf-8" if enc == "utf-8-sig" else enc)
        for k, cells in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)):
            if first + k == row_no:
                return cells
        return []

    ctx.extra["large"] = True
    ctx.extra["reread"] = reread
    _WORKER = state
    workers = _Workers(n_workers, _pool_range)
    row_base = rows.last + 1
    try:
        pending: deque = deque()
        window = TASKS_PER_WORKER * n_workers

        def consume(rng):
            nonlocal row_base
            result = workers.result()
            if result[0] == "decode":
                raise _csv_decode_error(row_base + result[1] - 1, enc)
            if result[0] == "csv":
                raise _csv_format_error(row_base + result[1] - 1, result[2])
            starts.append((row_base, *rng))
            base = row_base
            row_base += result[1]
            if result[0] == "block":
                idxs, keys, hashes, params = result[2]
                yield None, None, BLOCK, ([base + i for i in idxs], keys, hashes, params, None)
                return
            for idx, err, cleaned, cells in result[2]:
                yield base + idx, cells, err, cleaned

        for rng in ranges:
            workers.submit(*rng)
            pending.append(rng)
            if len(pending) >= window:
                yield from consume(pending.popleft())
        while pending:
            yield from consume(pending.popleft())
    finally:
        workers.close()
        _WORKER = ()


TASKS_PER_WORKER = 3  # tasks handed to each worker ahead of the one whose result is awaited
RESULT_PIPE_BYTES = 1 << 20  # a clean chunk's block is ~0.45 MB: the pipe holds it whole


class _Workers:
    """Forked validating workers, each with a pipe for its tasks and one for its results:
    task i goes to worker i mod n, and results are read back in the same order by the
    importing thread itself. (multiprocessing's Pool has its worker-handler thread wake on
    the result queue and spin until its result thread has read each large result — some
    3 µs of this process's CPU per row — and a worker killed mid-task left it waiting
    forever; here that ends the import with an error.)"""

    def __init__(self, n: int, fn):
        self.tasks, self.results, self.procs = [], [], []
        self.sent = self.received = 0
        try:
            for _ in range(n):
                self._start(fn)
        except BaseException:
            self.close()
            raise

    def _start(self, fn) -> None:
        mp = multiprocessing.get_context("fork")
        task_r, task_w = mp.Pipe(duplex=False)
        result_r, result_w = mp.Pipe(duplex=False)
        self.tasks.append(task_w)
        self.results.append(result_r)
        _widen_pipe(result_w)
        proc = mp.Process(target=_serve, args=(task_r, result_w, fn), daemon=True)
        proc.start()
        self.procs.append(proc)
        task_r.close()
        result_w.close()

    def submit(self, *args) -> None:
        self.tasks[self.sent % len(self.tasks)].send(args)
        self.sent += 1

    def result(self):
        """The result of the oldest task not read yet; a worker's exception is raised here."""
        conn = self.results[self.received % len(self.results)]
        self.received += 1
        try:
            ok, value = conn.recv()
        except EOFError:
            raise RuntimeError("导入校验进程意外退出") from None
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Stop the workers (those still busy after an error too), then close the pipes: a
        worker never meets a closed pipe, whose error it would print."""
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.join()
        for conn in (*self.tasks, *self.results):
            conn.close()


def _widen_pipe(conn) -> None:
    """Let a worker's result pipe hold a whole result, so the worker goes on to its next
    task without waiting for this process to read it (Linux ``F_SETPIPE_SZ``; elsewhere
    the default size only makes the worker wait)."""
    import fcntl

    try:
        fcntl.fcntl(conn.fileno(), fcntl.F_SETPIPE_SZ, RESULT_PIPE_BYTES)
    except (AttributeError, OSError):  # pragma: no cover - not Linux, or over pipe-max-size
        pass


def _serve(tasks, results, fn) -> None:
    """A worker: ``fn(*task)`` for each task received, sending back (True, result) or
    (False, exception), until the importing process closes its end of the task pipe."""
    import gc
    import queue
    import threading

    _die_with_parent()
    gc.freeze()  # what the worker inherited stays: no collection need walk it again
    todo: queue.SimpleQueue = queue.SimpleQueue()
    threading.Thread(target=_take_tasks, args=(tasks, todo), daemon=True).start()
    while (args := todo.get()) is not None:
        try:
            out = (True, fn(*args))
        except Exception as e:  # raised again by _Workers.result in the importing process
            out = (False, e)
        results.send(out)


def _take_tasks(tasks, todo) -> None:
    """A worker's reader: takes each task off the pipe as soon as it is sent, so that the
    importing process never waits to hand over a task (a chunk of spreadsheet rows fills a
    pipe) while this worker waits for it to read a result — they would wait for ever."""
    try:
        while True:
            todo.put(tasks.recv())
    except (EOFError, OSError):
        todo.put(None)


def _die_with_parent() -> None:
    """A validating worker ends when the importing process dies (killed worker, OOM),
    instead of lingering as an orphan (Linux ``PR_SET_PDEATHSIG``); and it ends on SIGTERM,
    which ``_Workers.close`` sends. A forked worker inherits the parent's Python
    signal handlers — the job worker's (django-tasks) "shut down gracefully after the current
    task" would make it ignore SIGTERM and hang ``terminate`` forever."""
    import ctypes
    import signal

    for name in ("SIGTERM", "SIGINT", "SIGQUIT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _chain(head, source):
    yield from head
    yield from source


def _run(importer, rows, user, out: Outcome, commit, progress, batch_size, job, file_name, file_sm3):
    try:
        _, header = next(rows)
    except StopIteration:
        raise ImportFileError("文件中没有任何内容。") from None
    while not any(h.strip() for h in header):
        try:
            _, header = next(rows)
        except StopIteration:
            raise ImportFileError("文件中没有任何内容。") from None
    out.header = header
    mapping = list(map_header(importer, header).items())
    ctx = importer.prepare(user)
    if commit and importer.parallel:
        ctx.extra["seal"] = crypto.seal_functions()
        ctx.extra["adapt_date"] = connection.ops.adapt_datefield_value
        ctx.extra["stamps"] = _stamps(ctx.now)
        pinyin.preload()  # sealing makes the sort keys: one table for every forked worker
    start_id = _max_id(importer.model_label) if commit else 0
    batch: list[tuple[int, dict]] = []
    originals: dict[int, list[str]] = {}
    created_ids: list[int] = []

    def error(row_no, column, reason, cells):
        if len(out.errors) < MAX_STORED_ERRORS:
            if cells is None:  # a good row parsed by a worker, found conflicting later
                cells = ctx.extra["reread"](row_no) if "reread" in ctx.extra else []
            out.errors.append({"row": row_no, "column": column, "reason": reason,
                               "values": [_cell_str(v) for v in cells[:60]]})

    def flush():
        nonlocal batch
        if not batch:
            return
        conflicts = importer.check_batch(batch, ctx)
        good = batch
        if conflicts:
            good = []
            for n, c in batch:
                e = conflicts.get(n)
                if e is None:
                    good.append((n, c))
                else:
                    out.error_rows += 1
                    error(n, e.column, e.reason, originals.get(n))
        for n, c in good:
            if len(out.preview) >= PREVIEW_ROWS:
                break
            out.preview.append([n, *(_cell_str(v) for v in importer.preview_row(c))])
        if commit and not out.error_rows and good:
            created_ids.extend(importer.write_batch(user, good, ctx))
        batch = []
        originals.clear()
        if progress:
            progress(out.total_rows)

    def take(row_no, cells, err, cleaned):
        out.total_rows += 1
        if err is None:
            try:
                importer.finish_row(cleaned, row_no, ctx)
            except RowError as e:
                err = (e.column, e.reason)
        if err is not None:
            out.error_rows += 1
            error(row_no, err[0], err[1], cells)
        else:
            batch.append((row_no, cleaned))
            originals[row_no] = cells
            if len(batch) >= batch_size:
                flush()

    reported = [0]

    def take_block(block):
        """A chunk of good, sealed rows as columns (row numbers, dedup keys, blind indexes,
        INSERT values), written as a whole while the file is clean so far. A chunk with a
        duplicate or a row already registered — or any chunk once an error was seen — goes row
        by row instead, so every error is found, worded and ordered as in a serial run."""
        row_nos, keys, hashes, params, cells = block  # cells: the raw rows, when the main process read them
        seen = ctx.seen
        if batch or out.error_rows or len(set(keys)) != len(keys) or not seen.keys().isdisjoint(keys) \
                or importer.check_block(row_nos, hashes, ctx):
            for i, (n, k, h, p) in enumerate(zip(row_nos, keys, hashes, params, strict=True)):
                take(n, cells[i] if cells else None, None, {"id_key": k, "id_hash": h, "_params": p})
            return
        seen.update(zip(keys, row_nos, strict=True))
        out.total_rows += len(keys)
        if commit:
            importer.write_block(params, ctx)
        if progress and out.total_rows - reported[0] >= batch_size:
            reported[0] = out.total_rows
            progress(out.total_rows)

    for row_no, cells, err, cleaned in _validated(importer, rows, ctx, mapping):
        if err is BLOCK:
            take_block(cleaned)
        else:
            take(row_no, cells, err, cleaned)
    flush()
    if out.total_rows == 0:
        raise ImportFileError("文件中只有表头，没有数据行。")
    if not out.error_rows:
        out.warnings = importer.warnings(ctx)
    if commit and not out.error_rows:
        ctx.seen.clear()  # the in-file dedup keys (~100 MB for a million rows): not needed by the index build
        importer.finish(ctx)
        from .audit import log_change

        end_id = _max_id(importer.model_label)
        if created_ids:
            out.id_range = [min(created_ids), max(created_ids)]
        elif end_id > start_id:
            out.id_range = [start_id + 1, end_id]
        out.created_rows = out.total_rows
        out.extra = {k: v for k, v in ctx.extra.items() if k == "persons_created"}
        after = {"file_name": file_name, "file_sm3": file_sm3, "rows_created": out.created_rows,
                 "model": importer.model_label, "id_range": out.id_range, **out.extra}
        job_id = str(job.pk) if job is not None else ""
        log_change(user, f"core.import_{importer.kind}", None, None, after, obj_type="core.importjob",
                   obj_id=job_id, obj_repr=f"导入{importer.label}：{file_name}"[:200])


# --- templates and error workbooks ------------------------------------------------------------

def template_xlsx(kind: str, fh) -> None:
    import xlsxwriter

    importer = get_importer(kind)
    wb = xlsxwriter.Workbook(fh, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    ws = wb.add_worksheet(f"{importer.label}导入"[:31])
    req = wb.add_format({"bold": True, "font_color": "#C00000", "bg_color": "#F2F2F2", "border": 1})
    opt = wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
    text = wb.add_format({"num_format": "@"})
    for i, col in enumerate(importer.columns):
        ws.write_string(0, i, col.header, req if col.required else opt)
        ws.set_column(i, i, max(12, len(col.header) * 3), text if col.text else None)
        if col.note:
            ws.write_comment(0, i, ("必填。" if col.required else "") + col.note)
    ws.freeze_panes(1, 0)
    help_ws = wb.add_worksheet("填写说明")
    help_ws.write_row(0, 0, ["列名", "是否必填", "说明", "示例"], opt)
    for i, col in enumerate(importer.columns, start=1):
        help_ws.write_row(i, 0, [col.header, "必填" if col.required else "选填", col.note, col.example])
    n = len(importer.columns) + 2
    help_ws.write_string(n, 0, "说明：表头须在第一行；红色列为必填；身份证号、电话请按文本填写。整份文件全部校验通过才会导入，"
                               "有任何一行出错则不导入任何数据，可下载错误报告修改后重新上传。")
    help_ws.set_column(0, 0, 16)
    help_ws.set_column(2, 2, 50)
    help_ws.set_column(3, 3, 24)
    wb.close()


def template_csv(kind: str) -> bytes:
    importer = get_importer(kind)
    buf = io.StringIO()
    csv.writer(buf).writerow([c.header for c in importer.columns])
    return codecs.BOM_UTF8 + buf.getvalue().encode()


def write_error_workbook(path, file_name: str, errors: list[dict], fh) -> int:
    """The original rows (all of them, so the fixed file can be re-uploaded as a whole)
    with a “错误原因” column naming what is wrong with each bad row."""
    from .exports import write_xlsx

    reasons: dict[int, list[str]] = {}
    for e in errors:
        reasons.setdefault(e["row"], []).append(with_column(e.get("column") or "", e["reason"]))
    try:
        rows = iter_rows(Path(path), file_name)
        _, header = next(rows)
        body = ([*cells, "；".join(reasons.get(n, []))] for n, cells in rows if any(c.strip() for c in cells))
        return write_xlsx(fh, [*header, "错误原因"], body, sheet_name="错误报告")
    except (ImportFileError, StopIteration, OSError):
        width = max((len(e.get("values", [])) for e in errors), default=0)
        body = ([*e.get("values", []), *([""] * (width - len(e.get("values", [])))), e["reason"]] for e in errors)
        return write_xlsx(fh, [*([""] * width), "错误原因"], body, sheet_name="错误报告")
