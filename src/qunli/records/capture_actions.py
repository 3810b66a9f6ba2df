"""Writes of the capture features: the 档号 format of a fonds, and the bulk upload of scans
named by 档号 (a zip or several files), hooked to their filed items — all or nothing."""

from __future__ import annotations

import hashlib
import posixpath
import tempfile
import zipfile
from dataclasses import dataclass, field

from django.core.files.base import ContentFile, File

from qunli.core.actions import ActionError, action, require_change
from qunli.core.audit import log_change, snapshot

from . import actions, numbering, search
from .actions import ALLOWED_TYPES, store_file
from .models import Fonds, Item, ItemFile

MAX_SCAN_FILES = 2000
MAX_ZIP_BYTES = 2 * 1024 ** 3  # unpacked


@action
def set_code_format(actor, fonds: Fonds, *, template: str, digits: int, reason: str = "") -> Fonds:
    """The 档号 format of the fonds' future filings. Codes already given stay as they are
    (they change only through the logged renumbering)."""
    require_change(actor, fonds)
    try:
        fmt = numbering.validate_format(template, digits)
    except numbering.CodeFormatError as e:
        raise ActionError(str(e)) from None
    except (TypeError, ValueError):
        raise ActionError("件号位数应为 1 至 8 的整数。") from None
    if fmt.template == fonds.code_format and fmt.digits == fonds.piece_digits:
        raise ActionError("档号格式没有变化。")
    before = snapshot(fonds)
    fonds.code_format, fonds.piece_digits = fmt.template, fmt.digits
    fonds.save(update_fields=["code_format", "piece_digits"])
    after = {**snapshot(fonds), "reason": reason, "example": fmt.example()}
    log_change(actor, "records.set_code_format", fonds, before, after, unit_path=fonds.unit.path)
    return fonds


@dataclass
class ScanReport:
    attached: list = field(default_factory=list)  # (file name, 档号)
    skipped: list = field(default_factory=list)  # (file name, 档号): the same bytes are already on the item
    unmatched: list = field(default_factory=list)  # file names naming no visible 档号
    errors: list = field(default_factory=list)  # (file name, reason)

    @property
    def ok(self) -> bool:
        return not self.unmatched and not self.errors


def code_of(file_name: str) -> str:
    """The 档号 a scan's name gives: the name without extension, and without a trailing
    ``_<n>`` (``J001-WS·2023-Y-BGS-0001_2.jpg`` is the second scan of that item)."""
    stem = posixpath.basename(file_name.replace("\\", "/")).rsplit(".", 1)[0].strip()
    head, sep, tail = stem.rpartition("_")
    return head if sep and tail.isdecimal() else stem


def _zip_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & 0x800:  # UTF-8 names
        return info.filename
    try:  # Windows zip tools write names in GBK without the flag
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def expand_uploads(uploads) -> list[tuple[str, object]]:
    """(name, file) pairs of the uploads, a .zip expanded into its members. Refuses in
    Chinese a broken zip, a zip bomb, too many files, or nested folders of junk."""
    out = []
    for up in uploads:
        name = up.name if hasattr(up, "name") else up[0]
        if name.lower().endswith(".zip"):
            fh = up if hasattr(up, "read") else ContentFile(up[1])
            try:
                zf = zipfile.ZipFile(fh)
                infos = [i for i in zf.infolist() if not i.is_dir()]
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
                raise ActionError(f"压缩包“{name}”已损坏或不是有效的 zip 文件。") from None
            if sum(i.file_size for i in infos) > MAX_ZIP_BYTES:
                raise ActionError(f"压缩包“{name}”解压后体积超过上限，疑似“压缩炸弹”，已拒绝。")
            for info in infos:
                member = _zip_name(info)
                base = posixpath.basename(member)
                if not base or base.startswith(".") or member.startswith("__MACOSX/"):
                    continue
                if info.file_size > actions.MAX_FILE_BYTES:
                    raise ActionError(f"压缩包中的“{member}”超过大小上限（{actions.MAX_FILE_BYTES // 1048576} MB）。")
                out.append((base, _unpack(zf, info, name, member)))
        else:
            out.append((name, up if hasattr(up, "read") else ContentFile(up[1], name=name)))
        if len(out) > MAX_SCAN_FILES:
            raise ActionError(f"一次最多上传 {MAX_SCAN_FILES} 个文件，请分批上传。")
    if not out:
        raise ActionError("没有可上传的文件。")
    return out


def _unpack(zf: zipfile.ZipFile, info: zipfile.ZipInfo, zip_name: str, member: str) -> File:
    """One member into a temporary file (in memory while small), never the whole zip at once."""
    tmp = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    try:
        with zf.open(info) as src:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                tmp.write(chunk)
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError, EOFError):
        tmp.close()
        raise ActionError(f"压缩包“{zip_name}”中的“{member}”无法解压（已损坏或加密）。") from None
    tmp.seek(0)
    return File(tmp, name=posixpath.basename(member))


def _size(fh) -> int:
    size = getattr(fh, "size", None)
    if size is None:
        fh.seek(0, 2)
        size = fh.tell()
    fh.seek(0)
    return size


def _sm3(upload) -> str:
    """SM3 of an upload, read in chunks and rewound for ``store_file``."""
    digest = hashlib.new("sm3")
    if isinstance(upload, tuple):
        digest.update(upload[1])
        return digest.hexdigest()
    upload.seek(0)
    for chunk in iter(lambda: upload.read(actions.CHUNK), b""):
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


@action
def attach_scans(actor, uploads) -> ScanReport:
    """Hook scans to the items their names give (档号 among the items the actor may change).
    Any unmatched name, wrong type or broken file refuses the whole upload (the report says
    which); otherwise every file is hashed, stored, analysed and attached, and one change-log
    row lists them. A file whose SM3 is already on its item (uploaded again, or twice in one
    upload) is skipped and reported, never attached a second time."""
    files = expand_uploads(uploads)
    report = ScanReport()
    codes = {code_of(n) for n, _ in files}
    # the keeper's items: after a transfer the archives scans what it holds, the sender no more
    items = {i.archival_code: i for i in Item.objects.filter(actions.kept_by_q(actor))
             .filter(archival_code__in=codes).select_related("fonds__unit")}
    # a 档号 of the actor's fonds now kept by an archives: say who hooks its scans
    handed_on = dict(Item.objects.visible_to(actor).filter(archival_code__in=codes - set(items),
                                                           custody__isnull=False)
                     .values_list("archival_code", "custody__unit__name"))
    for n, _ in files:
        ext = n.rsplit(".", 1)[-1].lower() if "." in n else ""
        if ext not in ALLOWED_TYPES:
            report.errors.append((n, f"格式不在允许范围内（.{ext or '无扩展名'}）"))
        elif code_of(n) in handed_on:
            report.errors.append((n, f"“{code_of(n)}”已移交{handed_on[code_of(n)]}保管，扫描件由保管单位挂接"))
        elif code_of(n) not in items:
            report.unmatched.append(n)
        elif items[code_of(n)].status == Item.Status.DISPOSED:  # its 档号 stays in the catalogue
            report.errors.append((n, f"“{code_of(n)}”对应的条目已销毁，不能挂接扫描件"))
    if not report.ok:
        return report
    stored_by_item: dict[int, list] = {}
    # (item, size) → SM3 digests already on the item: a re-uploaded scan would be a second copy
    # the reader pages through twice, so it is skipped; only a file whose size matches one
    # already there is hashed here (store_file hashes the others once, as always)
    held: dict[tuple[int, int], set[str]] = {}
    for item_id, size, sm3 in ItemFile.objects.filter(item__in=list(items.values())).values_list(
            "item_id", "size", "sm3"):
        held.setdefault((item_id, size), set()).add(sm3)
    for n, fh in files:
        item = items[code_of(n)]
        upload = (n, fh.read()) if not hasattr(fh, "chunks") else fh
        size = len(upload[1]) if isinstance(upload, tuple) else _size(upload)
        if (item.pk, size) in held and _sm3(upload) in held[(item.pk, size)]:
            report.skipped.append((n, item.archival_code))
            continue
        try:
            s = store_file(item, upload, ItemFile.Origin.SCAN)
        except ActionError as e:  # wrong content, oversize, broken: nothing of the upload stays
            raise ActionError([f"“{n}”：{m}" for m in e.messages] + ["整批扫描件均未挂接，请处理后重新上传。"]) \
                from None
        held.setdefault((item.pk, s.size), set()).add(s.sm3)
        report.attached.append((n, item.archival_code))
        stored_by_item.setdefault(item.pk, []).append({"name": s.name, "size": s.size, "sm3": s.sm3})
    if not report.attached:  # every file was already there: nothing written, nothing to log
        return report
    first = items[report.attached[0][1]]
    log_change(actor, "records.attach_scans", None, None,
               {"count": len(report.attached), "items": {str(k): v for k, v in stored_by_item.items()},
                "skipped": [n for n, _ in report.skipped]},
               unit_path=first.fonds.unit.path, obj_type="records.scan_upload",
               obj_id=f"{len(report.attached)}@{first.pk}",
               obj_repr=f"挂接扫描件 {len(report.attached)} 个（{len(stored_by_item)} 件）")
    search.enqueue(list(stored_by_item))
    return report
