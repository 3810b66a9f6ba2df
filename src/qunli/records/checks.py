"""四性检测 (DA/T 70-2018): the check engine for authenticity (真实性), completeness (完整性),
usability (可用性) and security (安全性), run at filing (归档), at transfer (移交), at receipt
(接收) and in storage (长期保存).

The engine works on ``ItemRec`` records, whatever they come from: the holdings in the database
(files read from storage) or a transfer package (files read from the zip, expected digests from
its manifests and item XML). Each file is read once: one buffer feeds SM3, SHA-256 and the
format parser (``payload.inspect_format``), which parses only what the usability items need
(PDF header/xref/trailer, JPEG markers, PNG chunk CRCs, TIFF IFD, DOCX/OFD zip directory and root
part). ``run_checks`` returns
one ``Result`` per numbered item; a failed *blocking* item blocks the transfer. The virus scan
uses ClamAV (``clamdscan`` or ``clamscan``) when one is on PATH; otherwise its item is
未执行 with the note “未安装杀毒软件” and is never counted as passed."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import shutil
import subprocess
import zipfile
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from . import numbering
from .models import Classification, Fonds, Openness, Retention
from .payload import READ_LIMIT, extension, inspect_format

PASSED, FAILED, WARNING, NOT_PERFORMED = "passed", "failed", "warning", "not_performed"
STATUS_LABELS = {PASSED: "通过", FAILED: "不通过", WARNING: "警告", NOT_PERFORMED: "未执行"}
# the note only: the status already says 未执行, and the reports print the note in brackets
# after the item's name, so “病毒检测（未执行（未安装杀毒软件））” nested two of them
NO_SCANNER = "未安装杀毒软件"
MAX_DETAILS = 200  # failure lines kept per item (the count is always exact)

# (code, aspect, name, blocking) — numbered like DA/T 70-2018: 1 真实性, 2 完整性, 3 可用性, 4 安全性.
ITEMS = [
    ("1-1", "真实性", "电子文件固化信息（SM3、SHA-256 数字摘要）一致", True),
    ("1-2", "真实性", "元数据项数据类型、长度、值域和格式合规", True),
    ("1-3", "真实性", "档号规范性（全宗号-门类代码·年度-保管期限-机构代码-件号）", True),
    ("1-4", "真实性", "元数据项重复性（档号、文件编号、题名）", True),
    ("1-5", "真实性", "元数据与电子文件关联一致（大小、存储位置）", True),
    ("2-1", "完整性", "总件数相符", True),
    ("2-2", "完整性", "总字节数相符", True),
    ("2-3", "完整性", "必著元数据项（DA/T 18）齐全", True),
    ("2-4", "完整性", "件号连续，无缺号、重号", True),
    ("2-5", "完整性", "电子文件（附件）齐全，无多余文件", True),
    ("3-1", "可用性", "文件格式在允许范围内", True),
    ("3-2", "可用性", "电子文件可正常打开（格式解析）", True),
    ("3-3", "可用性", "无加密、无非公开压缩算法", True),
    ("4-1", "安全性", "病毒检测", True),
    ("4-2", "安全性", "管理过程（操作）记录齐全", False),
]
ITEM_INDEX = {code: (aspect, name, blocking) for code, aspect, name, blocking in ITEMS}
# what each item's 检测数量 counts: a bare “23” left the reader guessing (classes? pieces?)
COUNT_UNITS = {"1-1": "个文件", "1-2": "件", "1-3": "件", "1-4": "件", "1-5": "个文件", "2-1": "件", "2-2": "个文件",
               "2-3": "件", "2-4": "类", "2-5": "个文件", "3-1": "个文件", "3-2": "个文件", "3-3": "个文件",
               "4-1": "个文件", "4-2": "件"}

ALLOWED_EXT = {"pdf", "ofd", "jpg", "jpeg", "tif", "tiff", "png", "docx"}
ALLOWED_LABEL = "PDF、OFD、JPEG、TIFF、PNG、DOCX"
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class FileRef:
    """One electronic file of an item: where to read it and what it should be."""

    name: str
    path: str  # package path or storage name (shown in messages)
    size: int | None = None  # expected size (metadata)
    sm3: str | None = None  # expected digests: from the catalogue, the item XML or the manifests
    sha256: str | None = None
    manifest_sm3: str | None = None  # second expectation (the package manifests), checked too
    manifest_sha256: str | None = None
    opener: Callable[[], io.BufferedIOBase] | None = None  # None: the file is missing
    facts: FileFacts | None = None  # what reading it found (set by the reader, or by the packager)


@dataclass
class ItemRec:
    label: str  # how the item is named in messages (档号, or title and id)
    meta: dict  # fonds_code, category, year, retention, org, piece_no, archival_code, title, responsible,
    # date, doc_no, classification, openness, pages
    files: list[FileRef] = field(default_factory=list)
    events: int = 0  # entries of its management process (capture, filing …)
    needs_org: bool = False


@dataclass
class Result:
    code: str
    status: str = PASSED
    checked: int = 0
    failures: list[str] = field(default_factory=list)
    failure_count: int = 0
    warnings: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def aspect(self) -> str:
        return ITEM_INDEX[self.code][0]

    @property
    def name(self) -> str:
        return ITEM_INDEX[self.code][1]

    @property
    def blocking(self) -> bool:
        return ITEM_INDEX[self.code][2] and self.status == FAILED

    def fail(self, msg: str) -> None:
        self.failure_count += 1
        if len(self.failures) < MAX_DETAILS:
            self.failures.append(msg)

    def warn(self, msg: str) -> None:
        if len(self.warnings) < MAX_DETAILS:
            self.warnings.append(msg)

    def finish(self) -> Result:
        if self.status == NOT_PERFORMED:
            return self
        if self.failure_count:
            self.status = FAILED if ITEM_INDEX[self.code][2] else WARNING
        elif self.warnings:
            self.status = WARNING
        return self

    def as_dict(self) -> dict:
        return {"code": self.code, "aspect": self.aspect, "name": self.name, "status": self.status,
                "status_label": STATUS_LABELS[self.status], "blocking": self.blocking, "checked": self.checked,
                "checked_unit": COUNT_UNITS[self.code], "checked_label": f"{self.checked} {COUNT_UNITS[self.code]}",
                "failure_count": self.failure_count, "failures": self.failures, "warnings": self.warnings,
                "note": self.note}


@dataclass
class Declared:
    """What the sender declared: counts and bytes (bag-info), and problems found while reading
    the package's structure (bad manifest lines, unlisted files …), already attributed to items."""

    item_count: int | None = None
    total_bytes: int | None = None
    file_count: int | None = None
    structure: list[tuple[str, str]] = field(default_factory=list)  # (check code, message)


def size_label(n: int) -> str:
    """Bytes as an archivist reads them, one decimal: KB under 1 MB (0.3 MB is not “0 MB”),
    MB under 1 GB, then GB."""
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    if n < 1024 ** 3:
        return f"{n / 1024 ** 2:.1f} MB"
    return f"{n / 1024 ** 3:.1f} GB"


# --- reading files once -------------------------------------------------------------------------

@dataclass
class FileFacts:
    present: bool
    size: int = 0
    sm3: str = ""
    sha256: str = ""
    unreadable: str | None = None
    sealed: str | None = None
    damaged: str | None = None  # the container refused to yield it (zip CRC error …)


def read_file(ref: FileRef, chunk: int = 4 * 1024 * 1024) -> FileFacts:
    """Hash and parse one file in one read (or the facts already found while packaging)."""
    if ref.facts is not None:
        return ref.facts
    if ref.opener is None:
        return FileFacts(False)
    try:
        fh = ref.opener()
    except (OSError, KeyError, zipfile.BadZipFile):
        return FileFacts(False)
    try:
        return _read(ref, fh, chunk)
    except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as e:
        return FileFacts(True, damaged=f"读取时数据损坏（{e}）")
    finally:
        fh.close()


def _read(ref: FileRef, fh, chunk: int) -> FileFacts:
    sm3, sha = hashlib.new("sm3"), hashlib.sha256()
    first = fh.read(READ_LIMIT + 1)
    sm3.update(first)
    sha.update(first)
    size = len(first)
    if size <= READ_LIMIT:
        data, tail = first, None
    else:  # a huge file: parse its head and tail only
        data, last = first[:1024 * 1024], first[-4096:]
        for block in iter(lambda: fh.read(chunk), b""):
            sm3.update(block)
            sha.update(block)
            size += len(block)
            last = (last + block)[-4096:]
        tail = last
    unreadable, sealed = inspect_format(ref.name, data, tail)
    return FileFacts(True, size, sm3.hexdigest(), sha.hexdigest(), unreadable, sealed)


# --- the engine -----------------------------------------------------------------------------------

def _date(value):
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    if not DATE_PATTERN.match(str(value)):
        raise ValueError
    return dt.date.fromisoformat(str(value))


def _int(value):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if not re.fullmatch(r"\d{1,9}", str(value)):
        raise ValueError
    return int(value)


REQUIRED = (("archival_code", "档号"), ("title", "题名"), ("responsible", "责任者"), ("date", "日期"),
            ("classification", "密级"), ("retention", "保管期限"), ("openness", "开放标识"), ("pages", "页数"))


def code_formats(items: list[ItemRec]) -> dict[str, numbering.CodeFormat]:
    """The 档号 format of each fonds named in the batch: the fonds' own where it is held here,
    the DA/T 22 default for a fonds this system does not know (a package from elsewhere)."""
    codes = {str(rec.meta.get("fonds_code") or "") for rec in items}
    return {f.code: numbering.format_for(f) for f in Fonds.objects.filter(code__in=codes)}


def expected_code(meta: dict, fmt: numbering.CodeFormat | None = None) -> str:
    fmt = fmt or numbering.CodeFormat()
    piece = meta.get("piece_no")
    piece = int(piece) if isinstance(piece, int) or str(piece or "").isdecimal() else 0
    try:
        year = int(meta.get("year") or 0)
    except (TypeError, ValueError):
        year = 0
    return fmt.render(str(meta.get("fonds_code") or ""), str(meta.get("category") or ""), year,
                      str(meta.get("retention") or ""), str(meta.get("org") or ""), piece)


def scan_for_viruses(paths: list[str]) -> tuple[bool, list[str], str]:
    """(performed, infected lines, scanner) with ClamAV; not performed when none is installed."""
    scanner = shutil.which("clamdscan") or shutil.which("clamscan")
    if not scanner or not paths:
        return False, [], ""
    args = [scanner, "--no-summary", "--infected"]
    if scanner.endswith("clamdscan"):
        args.append("--fdpass")
    else:
        args.append("--recursive")  # a directory package
    proc = subprocess.run(args + paths, capture_output=True, text=True)
    if proc.returncode not in (0, 1):  # 2: the scanner failed (no database, daemon down)
        return False, [], f"{scanner}（运行失败：{(proc.stderr or proc.stdout).strip()[:200]}）"
    found = [line for line in proc.stdout.splitlines() if line.endswith("FOUND")]
    return True, found, scanner


def run_checks(items: list[ItemRec], *, declared: Declared | None = None, scan_paths: Iterable[str] = (),
               existing_codes: set[str] | None = None, workers: int = 1,
               destroyed: dict[tuple, set[int]] | None = None,
               explained: dict[tuple, set[int]] | None = None) -> list[Result]:
    """Run every numbered item over ``items``. ``existing_codes``: 档号 already held elsewhere
    (at receipt, a package 档号 the receiver already holds is a duplicate). ``scan_paths``:
    what the virus scanner reads (the package file, or the stored files). ``destroyed``: per
    class (全宗号, 门类, 年度, 保管期限, 机构), the 件号 accounted for outside ``items`` —
    destroyed under a 销毁清册, or held elsewhere (``transfer.accounted_pieces``) — so not
    gaps. ``explained``: per class, the 件号 a 缺号说明 explains (``records.gaps``): no failure,
    but named in a warning. Every other number from 0001 to the highest present must be in
    ``items``."""
    declared = declared or Declared()
    r = {code: Result(code) for code, *_ in ITEMS}

    # one read per file (SM3 + SHA-256 + format), optionally on a few threads (hashlib and zlib
    # release the GIL on large buffers)
    refs = [(rec, ref) for rec in items for ref in rec.files]
    if workers > 1 and len(refs) > 1:
        with ThreadPoolExecutor(workers) as pool:
            facts = list(pool.map(lambda p: read_file(p[1]), refs, chunksize=64))
    else:
        facts = [read_file(ref) for _, ref in refs]

    total_bytes = 0
    for (rec, ref), f in zip(refs, facts, strict=True):
        ref.facts = f
        where = f"{rec.label} / {ref.name}"
        r["2-5"].checked += 1
        if not f.present:
            r["2-5"].fail(f"{where}：电子文件缺失（{ref.path}）")
            continue
        total_bytes += f.size
        r["1-1"].checked += 1
        if f.damaged:
            r["1-1"].fail(f"{where}：{f.damaged}")
            continue
        for algo, got, wants in (("SM3", f.sm3, (ref.sm3, ref.manifest_sm3)),
                                 ("SHA-256", f.sha256, (ref.sha256, ref.manifest_sha256))):
            if not any(wants):
                r["1-1"].fail(f"{where}：没有 {algo} 固化信息")
            for want in wants:
                if want and want != got:
                    r["1-1"].fail(f"{where}：{algo} 摘要不一致（应为 {want[:16]}…，实为 {got[:16]}…）")
                    break
        r["1-5"].checked += 1
        if ref.size is not None and ref.size != f.size:
            r["1-5"].fail(f"{where}：元数据记载大小 {ref.size} 字节，实际 {f.size} 字节")
        r["3-1"].checked += 1
        if extension(ref.name) not in ALLOWED_EXT:
            r["3-1"].fail(f"{where}：格式不在允许范围内（允许：{ALLOWED_LABEL}）")
            continue
        r["3-2"].checked += 1
        r["3-3"].checked += 1
        if f.sealed:
            r["3-3"].fail(f"{where}：{f.sealed}")
        elif f.unreadable:
            r["3-2"].fail(f"{where}：无法打开（{f.unreadable}）")

    _metadata_checks(items, r, existing_codes or set(), destroyed or {}, explained or {})

    # counts and bytes against what the sender declared
    r["2-1"].checked = len(items)
    if declared.item_count is not None and declared.item_count != len(items):
        r["2-1"].fail(f"声明 {declared.item_count} 件，实有 {len(items)} 件")
    if declared.file_count is not None and declared.file_count != len(refs):
        r["2-1"].fail(f"声明 {declared.file_count} 个电子文件，实有 {len(refs)} 个")
    # 检测数量 is a count of files like the other items' (it was the byte total, 257985 under
    # 检测数量); the total is in the note, in MB/KB with the exact bytes the declaration is compared with
    r["2-2"].checked = sum(1 for f in facts if f.present)
    r["2-2"].note = f"实有 {size_label(total_bytes)}（{total_bytes} 字节）"
    if declared.total_bytes is not None and declared.total_bytes != total_bytes:
        r["2-2"].fail(f"声明 {declared.total_bytes} 字节，实有 {total_bytes} 字节")
    for code, msg in declared.structure:
        r[code].fail(msg)

    performed, infected, scanner = scan_for_viruses(list(scan_paths))
    if performed:
        r["4-1"].checked = len(refs)
        r["4-1"].note = f"使用 {scanner} 扫描"
        for line in infected:
            r["4-1"].fail(f"发现病毒：{line}")
    else:
        r["4-1"].status = NOT_PERFORMED
        r["4-1"].note = scanner or NO_SCANNER
    r["4-2"].checked = len(items)
    for rec in items:
        if rec.events < 1:
            r["4-2"].fail(f"{rec.label}：没有管理过程（登记、归档等操作）记录")
    return [r[code].finish() for code, *_ in ITEMS]


_RETENTIONS = frozenset(Retention.values)
_CLASSIFICATIONS = frozenset(Classification.values)
_OPENNESS = frozenset(Openness.values)
_LIMITS = {"title": 300, "responsible": 100, "doc_no": 60, "archival_code": 60}


def _metadata_checks(items: list[ItemRec], r: dict, existing_codes: set[str], destroyed: dict,
                     explained: dict) -> None:
    codes, doc_nos, titles = Counter(), Counter(), Counter()
    classes = defaultdict(list)
    formats = code_formats(items)
    for rec in items:
        m = rec.meta
        fmt = formats.get(str(m.get("fonds_code") or ""), numbering.CodeFormat())
        # a fonds' format applies to later filings: earlier codes keep the default
        candidates = [fmt] if fmt == numbering.CodeFormat() else [fmt, numbering.CodeFormat()]
        label = rec.label
        r["1-2"].checked += 1
        r["2-3"].checked += 1
        r["1-3"].checked += 1
        problems = []
        try:
            year = _int(m.get("year"))
            if year is not None and not 1900 <= year <= 2100:
                problems.append(f"年度 {year} 超出范围")
        except ValueError:
            year = None
            problems.append(f"年度“{m.get('year')}”不是四位数字")
        try:
            date = _date(m.get("date"))
            if date and year and date.year != year:
                problems.append(f"日期 {date} 与年度 {year} 不符")
        except ValueError:
            problems.append(f"日期“{m.get('date')}”不是 YYYY-MM-DD 格式的有效日期")
        try:
            pages = _int(m.get("pages"))
            if pages is not None and pages < 1:
                problems.append("页数应为正整数")
        except ValueError:
            problems.append(f"页数“{m.get('pages')}”不是整数")
        try:
            piece = _int(m.get("piece_no"))
            if piece is not None and not 1 <= piece <= 9999:
                problems.append(f"件号 {piece} 超出 1–9999")
        except ValueError:
            piece = None
            problems.append(f"件号“{m.get('piece_no')}”不是整数")
        for key, allowed, label_ in (("retention", _RETENTIONS, "保管期限"), ("classification", _CLASSIFICATIONS, "密级"),
                                     ("openness", _OPENNESS, "开放标识")):
            v = m.get(key)
            if v not in (None, "") and v not in allowed:
                problems.append(f"{label_}“{v}”不在值域内")
        for key, limit in _LIMITS.items():
            if len(str(m.get(key) or "")) > limit:
                problems.append(f"{key} 超过 {limit} 字")
        for p in problems:
            r["1-2"].fail(f"{label}：{p}")

        missing = [lab for key, lab in REQUIRED if m.get(key) in (None, "")]
        if rec.needs_org and not m.get("org"):
            missing.append("机构（问题）代码")
        if missing:
            r["2-3"].fail(f"{label}：缺少必著项 {'、'.join(missing)}")

        code = m.get("archival_code") or ""
        if code:
            fits = [f for f in candidates if f.regex.match(code)]
            if not fits:
                r["1-3"].fail(f"{label}：档号“{code}”格式不符合本全宗的档号格式 {fmt.template}")
            elif all(code != expected_code(m, f) for f in fits):
                r["1-3"].fail(f"{label}：档号“{code}”与著录项组成的档号“{expected_code(m, fits[0])}”不一致")
            codes[code] += 1
        if m.get("doc_no"):
            doc_nos[m["doc_no"]] += 1
        if m.get("title"):
            titles[(m["title"], str(m.get("date") or ""))] += 1
        if piece is not None:
            classes[(m.get("fonds_code"), m.get("category"), year, m.get("retention"), m.get("org") or "")].append(piece)

    r["1-4"].checked = len(items)
    for code, n in codes.items():
        if n > 1:
            r["1-4"].fail(f"档号“{code}”重复 {n} 次")
        if code in existing_codes:
            r["1-4"].fail(f"档号“{code}”已在接收方馆藏中存在")
    for doc_no, n in doc_nos.items():
        if n > 1:
            r["1-4"].warn(f"文件编号“{doc_no}”出现 {n} 次，请核实是否重复归档")
    for (title, date), n in titles.items():
        if n > 1:
            r["1-4"].warn(f"题名“{title}”（{date or '无日期'}）出现 {n} 次，请核实是否重复归档")

    r["2-4"].checked = len(classes)
    for key, nos in classes.items():
        cls = expected_code({"fonds_code": key[0], "category": key[1], "year": key[2], "retention": key[3],
                             "org": key[4], "piece_no": 0})[:-5]
        seen = Counter(nos)
        dups = sorted(n for n, c in seen.items() if c > 1)
        if dups:
            r["2-4"].fail(f"{cls}：件号重复 {', '.join(f'{n:04d}' for n in dups[:20])}")
        # 件号 start at 1 in every class (DA/T 22), so a missing 0001 is a gap too — not just
        # the holes between the lowest and highest number present
        hi = max(seen)
        gone, noted = destroyed.get(key, ()), explained.get(key, ())
        missing = [n for n in range(1, hi + 1) if n not in seen and n not in gone]
        gaps = [n for n in missing if n not in noted]
        if gaps:
            r["2-4"].fail(f"{cls}：件号 0001–{hi:04d} 之间缺号 {len(gaps)} 个（{_numbers(gaps)}）")
        if len(gaps) < len(missing):
            told = [n for n in missing if n in noted]
            r["2-4"].warn(f"{cls}：缺号 {len(told)} 个已有缺号说明（{_numbers(told)}）")


def _numbers(pieces: list[int]) -> str:
    return "、".join(f"{n:04d}" for n in pieces[:20]) + ("…" if len(pieces) > 20 else "")


def summary(results: list[Result]) -> dict:
    return {"passed": all(not x.blocking for x in results),
            "failed": sum(x.status == FAILED for x in results),
            "warnings": sum(x.status == WARNING for x in results),
            "not_performed": sum(x.status == NOT_PERFORMED for x in results)}


def verdict(passed: bool, results: Iterable[dict | Result]) -> str:
    """The headline of a run, wherever it is shown (report page, xlsx, PDF, lists, messages).
    An item not performed does not block, but the headline names it: DA/T 70 (and issue 3)
    say “not performed” must never read as “passed”."""
    skipped = [r["name"] if isinstance(r, dict) else r.name for r in results
               if (r["status"] if isinstance(r, dict) else r.status) == NOT_PERFORMED]
    head = "通过" if passed else "不通过"
    if not skipped:
        return head
    return f"{head}（{'另有 ' if not passed else ''}{len(skipped)} 项未执行：{'、'.join(skipped)}）"
