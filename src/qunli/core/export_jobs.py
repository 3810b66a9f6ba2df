"""Re-importable exports, run as background jobs (core/jobs.py).

Every kind the import engine takes (core/imports.py: units, persons, memberships, 五老
volunteers, positions, team members) exports into a file in that importer's own template
columns (its ``Col`` headers, in order), so the file goes straight back into the import. One
mechanism writes every kind (``run_export``); a kind (``ExportKind``) adds only

* its row function, which yields one dict per object keyed by the importer's ``Col.key`` —
  the generic writer puts each value under its header, so a column can never drift;
* the visible rows it cannot write as importable rows (``left_out``: a filter and a Chinese
  note), counted in the job's message instead — persons without an ID number (一人一档 is
  keyed on it), memberships no longer 在册, volunteers no longer 在岗, positions already ended
  (the importer creates only current ones: writing those back would revive them).

Scoping is the same for every kind: the rows are ``visible_to(exporter, VIEW)`` (masked) or
``visible_to(exporter, CHANGE)`` (unmasked), inside the chosen unit's subtree; a row that
names a person (memberships, volunteers, positions, team members) is written only when that
person is visible to the exporter at the same level too (the rule of
``people.actions.reveal_person``), otherwise counted as left out. Units: a unit is written
only when its parent is visible too (the importer needs a parent the importer may change), so
the top of the exporter's reach — the unit of a grant — stays out, and counted.

Two forms, as for persons from the start:

* masked (default) — every account with read reach: the ID number, phone and address are their
  masks, so the file can be read but not re-imported (the ID check refuses a mask, in Chinese);
* unmasked (完整信息) — only accounts with write reach (staff, clerk: the same right as
  ``people.actions.reveal_person``), only over what they may change, and the export writes
  exactly ONE access-log row (object ``core.exportjob``/<job id>, the kind's sensitive fields,
  the stated purpose) before any plaintext is read. That file can be imported back into
  another instance (or after a clean-up) as is. Units carry nothing sensitive: their export is
  always the plain one (asking for 完整信息 is refused with a message).

References: 所属单位 holds the unit's name when it is unique among the exporter's units, else
its id (the importer accepts both); 队伍 the same among teams; 上级单位 the parent's name when
the parent is in the same file (the importer resolves it to the row that creates it) — two
units of one file with the same name cannot both be parents, which the importer reports. The
file is written to a temporary name and renamed when complete: an interrupted export leaves no
file.

**File kinds** (``FileKind``, ``register_file_kind``): another app's file that is not an import
template but is too slow for a request — records' 归档文件目录 and 归档章 PDFs of a large class
(``records/printing.py``). The app creates the job through ``queue_file_job`` (its own action
checks the rights first) and supplies the writer; the job row, the queue, claim, heartbeat,
crash recovery, the job page and the owner-only download are this module's, as for the import
kinds. The writer writes into an open temporary file and returns the count and the message; the
file is renamed into place only when the writer returned, so a failure or a killed worker
leaves no file. ``FileKind.check`` runs again at download: a grant withdrawn since the job ran
makes the file a 404 for its owner too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .actions import ActionError
from .audit import log_access, log_change
from .models import ExportJob
from .scoping import CHANGE, VIEW, grants_of

SENSITIVE_FIELDS = ["id_number", "phone", "address"]
PROGRESS_EVERY = 2000


def exports_dir() -> Path:
    d = Path(settings.DATA_DIR) / "exports"
    d.mkdir(parents=True, exist_ok=True)
    return d


def can_export_unmasked(user) -> bool:
    return any(CHANGE in _actions(g.role) for g in grants_of(user))


def _actions(role: str) -> set:
    from .scoping import ROLE_ACTIONS

    return ROLE_ACTIONS.get(role, set())


def start_export(actor, kind: str, *, unit=None, unmasked: bool = False, purpose: str = "") -> ExportJob:
    """Queue an export job (the action behind the export page)."""
    from qunli.orgs.models import Unit

    from . import jobs

    if not getattr(actor, "is_business", False):
        raise PermissionDenied("三员账户不能导出业务数据。")
    if kind not in KINDS:
        raise ActionError(f"不支持的导出类型“{kind}”。")
    if unmasked and not EXPORT_KINDS[kind].sensitive:
        raise ActionError(f"{KINDS[kind]}数据不含身份证号等敏感信息，无需导出完整信息，请取消勾选后再导出。")
    if unit is not None and not Unit.objects.visible_to(actor, VIEW).filter(pk=unit.pk).exists():
        raise PermissionDenied("单位不存在或不在您的权限范围内。")
    purpose = (purpose or "").strip()[:200]
    if unmasked:
        if not can_export_unmasked(actor):
            raise PermissionDenied("您没有导出完整敏感信息的权限（需要可维护人员档案的授权）。")
        if not purpose:
            raise ActionError("导出完整身份证号等敏感信息须填写用途。")
    with transaction.atomic():
        job = ExportJob.objects.create(
            kind=kind,
            user=actor,
            unit=unit,
            unmasked=unmasked,
            purpose=purpose,
            message="排队中，等待后台处理…",
        )
        log_change(
            actor,
            "core.start_export",
            job,
            None,
            {"kind": kind, "unit": unit.pk if unit else None, "unmasked": unmasked, "purpose": purpose},
        )
        jobs.enqueue(jobs.export_job_task, job)
    return job


# --- the context a row function reads ---------------------------------------------------------


@dataclass
class Ctx:
    """What every row function shares: the job, the scoping level, the exporter's unit
    references, and the notes on rows left out (note → count)."""

    job: ExportJob
    action: str
    notes: dict[str, int] = field(default_factory=dict)
    _units: dict[int, tuple[str, str]] | None = None  # id -> (path, reference)

    @property
    def unmasked(self) -> bool:
        return self.job.unmasked

    def units(self) -> dict[int, tuple[str, str]]:
        """Unit id -> (path, what to write in a unit column): the name when it is unique
        among the exporter's units, else the id."""
        if self._units is None:
            from qunli.orgs.models import Unit

            rows = list(Unit.objects.visible_to(self.job.user, self.action).values_list("id", "name", "path"))
            self._units = {uid: (path, ref) for (uid, _, path), ref in zip(rows, _refs(rows), strict=True)}
        return self._units

    def unit_ref(self, unit_id: int) -> str:
        hit = self.units().get(unit_id)
        return hit[1] if hit else str(unit_id)

    def sensitive(self, fields, prefix: str = "") -> list[str]:
        """The columns to read for sensitive fields: ciphertext when unmasked, else the mask."""
        return [f"{prefix}{f}_enc" if self.unmasked else f"{prefix}{f}_mask" for f in fields]

    def plain(self, *values: str) -> tuple[str, ...]:
        from . import crypto

        if not self.unmasked:
            return values
        return tuple(crypto.decrypt(v) if v else "" for v in values)

    def skip(self, note: str, n: int = 1) -> None:
        self.notes[note] = self.notes.get(note, 0) + n


def _refs(rows) -> list[str]:
    """For (id, name, …) rows: the name where it is unique among them, else the id."""
    count: dict[str, int] = {}
    for _, name, *_ in rows:
        count[name] = count.get(name, 0) + 1
    return [name if count[name] == 1 else str(pk) for pk, name, *_ in rows]


def _yes_no(v: bool) -> str:
    return "是" if v else "否"


# --- the row functions, one per kind ------------------------------------------------------------


def person_rows(ctx: Ctx, qs) -> Iterator[dict]:
    from qunli.people.models import PoliticalStatus

    labels = dict(PoliticalStatus.choices)
    cols = ["name", "unit_id", "ethnicity", "political_status", "education", "workplace"]
    for r in qs.values_list(*cols, *ctx.sensitive(SENSITIVE_FIELDS)).iterator(chunk_size=2000):
        name, unit_id, eth, pol, edu, work, *secret = r
        idn, phone, addr = ctx.plain(*secret)
        yield {
            "name": name,
            "id_number": idn,
            "unit": ctx.unit_ref(unit_id),
            "phone": phone,
            "ethnicity": eth,
            "political_status": labels.get(pol, pol),
            "education": edu,
            "workplace": work,
            "address": addr,
        }


def _with_person(ctx: Ctx, qs, cols: list[str], fields=("id_number", "phone")) -> Iterator[tuple]:
    """Rows of a model naming a person: (person name, its sensitive fields in plain or masked
    form, *cols)."""
    for name, *rest in qs.values_list("person__name", *ctx.sensitive(fields, "person__"), *cols).iterator(
        chunk_size=2000
    ):
        yield (name, *ctx.plain(*rest[: len(fields)]), *rest[len(fields) :])


def membership_rows(ctx: Ctx, qs) -> Iterator[dict]:
    for name, idn, phone, unit_id, number, joined_on in _with_person(
        ctx, qs, ["unit_id", "number", "joined_on"]
    ):
        yield {
            "name": name,
            "id_number": idn,
            "unit": ctx.unit_ref(unit_id),
            "number": number,
            "joined_on": joined_on,
            "phone": phone,
        }


def volunteer_rows(ctx: Ctx, qs) -> Iterator[dict]:
    from qunli.people.models import VolunteerCategory

    labels = dict(VolunteerCategory.choices)
    cols = ["unit_id", "category", "skills", "certificate_no", "certificate_date", "registered_on"]
    for name, idn, phone, unit_id, category, skills, cert_no, cert_date, registered_on in _with_person(ctx, qs, cols):
        yield {
            "name": name,
            "id_number": idn,
            "unit": ctx.unit_ref(unit_id),
            "category": labels.get(category, category),
            "skills": skills,
            "certificate_no": cert_no,
            "certificate_date": cert_date,
            "phone": phone,
            "registered_on": registered_on,
        }


def position_rows(ctx: Ctx, qs) -> Iterator[dict]:
    from qunli.orgs.models import PositionTitle

    labels = dict(PositionTitle.choices)
    cols = ["unit_id", "title", "title_label", "started_on", "term_ends_on", "is_parttime"]
    for name, idn, unit_id, title, label, started, ends, parttime in _with_person(
        ctx, qs, cols, ("id_number",)
    ):
        yield {
            "unit": ctx.unit_ref(unit_id),
            "name": name,
            "id_number": idn,
            "title": labels.get(title, title),
            "title_label": label,
            "started_on": started,
            "term_ends_on": ends,
            "is_parttime": _yes_no(parttime),
        }


def team_member_rows(ctx: Ctx, qs) -> Iterator[dict]:
    from qunli.people.models import Team

    teams = list(Team.objects.visible_to(ctx.job.user, ctx.action).values_list("id", "name"))
    refs = dict(zip((t for t, _ in teams), _refs(teams), strict=True))
    for name, idn, phone, team_id, role, joined_on in _with_person(ctx, qs, ["team_id", "role", "joined_on"]):
        yield {
            "team": refs.get(team_id, str(team_id)),
            "name": name,
            "id_number": idn,
            "role": role,
            "joined_on": joined_on,
            "phone": phone,
        }


UNIT_PARENT_OUT = "个单位的上级单位不在您的权限范围内（如授权范围的顶层单位），无法由您重新导入，未列入"


def unit_rows(ctx: Ctx, qs) -> Iterator[dict]:
    from qunli.orgs.models import Level, Line, Unit, UnitKind

    levels, kinds = dict(Level.choices), dict(UnitKind.choices)
    lines = dict(Line.objects.values_list("id", "name"))
    by_path = {path: uid for uid, (path, _) in ctx.units().items()}
    written: dict[int, str] = {}  # id -> name, of the units already in the file
    names = set(qs.values_list("name", flat=True))
    cols = [
        "id",
        "name",
        "path",
        "level",
        "line_id",
        "kind",
        "division_code",
        "uscc",
        "address",
        "established_on",
    ]
    for uid, name, path, level, line_id, kind, division, uscc, address, established in qs.values_list(
        *cols
    ).iterator(chunk_size=2000):  # path order: a parent comes before its children
        parent_id = by_path.get(path[: -Unit.steplen])
        if parent_id is None:
            ctx.skip(UNIT_PARENT_OUT)
            continue
        if parent_id in written:
            parent = written[parent_id]  # created by an earlier row of this file
        else:
            parent = ctx.unit_ref(parent_id)
            if parent in names:  # the importer would take a same-named row of the file for it
                parent = str(parent_id)
        written[uid] = name
        yield {
            "name": name,
            "parent": parent,
            "level": levels.get(level, level),
            "line": lines.get(line_id, "") if line_id else "",
            "kind": kinds.get(kind, kind),
            "division_code": division,
            "uscc": uscc,
            "address": address,
            "established_on": established,
        }


# --- the kinds ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportKind:
    model: str  # app_label.ModelName of the exported rows
    rows: Callable[[Ctx, object], Iterator[dict]]
    noun: str  # how the message counts the rows: "名人员", "条会员记录"
    sensitive: tuple[str, ...] = ()  # the person fields the file carries (unmasking logs them)
    names_person: bool = True  # rows point at a person (visible to the exporter, with an ID number)
    where: Q = field(default_factory=Q)  # always applied (rows that are not records of their own)
    left_out: tuple[tuple[Q, str], ...] = ()  # visible rows the importer could not take back, and why

    def model_class(self):
        from django.apps import apps

        return apps.get_model(self.model)


NO_ID_ROW = "条记录的人员无身份证号，无法按一人一档导入，未列入"

EXPORT_KINDS: dict[str, ExportKind] = {
    "persons": ExportKind(
        "people.Person",
        person_rows,
        "名人员",
        tuple(SENSITIVE_FIELDS),
        names_person=False,
        where=Q(merged_into__isnull=True),
        left_out=((Q(id_number_hash=""), "名人员无身份证号，无法按一人一档导入，未列入"),),
    ),
    "units": ExportKind(
        "orgs.Unit",
        unit_rows,
        "个单位",
        names_person=False,
        left_out=((~Q(status="active"), "个已合并、拆分或撤销的单位不在导入范围内，未列入"),),
    ),
    "memberships": ExportKind(
        "people.Membership",
        membership_rows,
        "条会员（团员）记录",
        ("id_number", "phone"),
        left_out=((~Q(status="active"), "条非在册（已转出、已退出）的会员记录不在导入范围内，未列入"),),
    ),
    "volunteers": ExportKind(
        "people.VolunteerProfile",
        volunteer_rows,
        "名五老志愿者",
        ("id_number", "phone"),
        left_out=((~Q(status="active"), "名暂停或退出的志愿者不在导入范围内（导入登记在岗志愿者），未列入"),),
    ),
    "positions": ExportKind(
        "orgs.Position",
        position_rows,
        "条任职记录",
        ("id_number",),
        left_out=((Q(ended_on__isnull=False), "条已离任的任职记录不在导入范围内（导入登记现任），未列入"),),
    ),
    "team_members": ExportKind("people.TeamMember", team_member_rows, "名队伍成员", ("id_number", "phone")),
}


def _label(kind: str) -> str:
    from .imports import IMPORTERS

    return IMPORTERS[kind].label


KINDS = {kind: _label(kind) for kind in EXPORT_KINDS}


def selection(ctx: Ctx, kind: ExportKind):
    """The rows to write (ordered) — visible to the exporter at ``ctx.action``, in the chosen
    subtree; the visible ones left out are counted into ``ctx.notes``."""
    from qunli.people.models import Person

    model, job = kind.model_class(), ctx.job
    qs = model.objects.visible_to(job.user, ctx.action).filter(kind.where)
    if job.unit_id:
        unit = model.scope.unit
        qs = qs.filter(**{f"{unit}__path__startswith" if unit else "path__startswith": job.unit.path})
    left_out = list(kind.left_out)
    if kind.names_person:
        reach = (
            "条记录的人员不在您可维护的范围内，未列入"
            if job.unmasked
            else "条记录的人员不在您的权限范围内，未列入"
        )
        left_out = [
            (~Q(person__in=Person.objects.visible_to(job.user, ctx.action).values("pk")), reach),
            (Q(person__id_number_hash=""), NO_ID_ROW),
            *left_out,
        ]
    for where, note in left_out:
        n = qs.filter(where).count()
        if n:
            ctx.skip(note, n)
        qs = qs.exclude(where)
    return qs.order_by("path" if model.scope.unit == "" else "id")


def _counted(rows: Iterator, progress) -> Iterator:
    n = 0
    for n, row in enumerate(rows, start=1):
        if progress and n % PROGRESS_EVERY == 0:
            progress(n)
        yield row


def run_export(job: ExportJob) -> ExportJob:
    """Write the file (called by the worker); the job row says how it went."""
    if job.kind in FILE_KINDS:
        return _run_file_kind(job)
    from . import jobs
    from .exports import write_xlsx
    from .imports import get_importer

    kind = EXPORT_KINDS[job.kind]
    importer = get_importer(job.kind)
    keys = [c.key for c in importer.columns]
    target = exports_dir() / f"{job.pk}.xlsx"
    partial = target.with_name(target.name + ".part")
    ctx = Ctx(job, CHANGE if job.unmasked else VIEW)
    try:
        if job.unmasked:
            if not can_export_unmasked(job.user):  # the grant may have been withdrawn since
                raise PermissionDenied("您没有导出完整敏感信息的权限。")
            log_access(job.user, job, list(kind.sensitive), job.purpose)
        rows = ([r.get(k, "") for k in keys] for r in kind.rows(ctx, selection(ctx, kind)))
        with open(partial, "wb") as fh:
            n = write_xlsx(
                fh,
                [c.header for c in importer.columns],
                _counted(rows, lambda done: jobs.report_progress(job.pk, done)),
                sheet_name=importer.label,
            )
        os.replace(partial, target)
    except PermissionDenied as e:
        partial.unlink(missing_ok=True)
        job.status, job.message = ExportJob.Status.ERROR, str(e)
    except Exception as e:
        partial.unlink(missing_ok=True)
        job.status, job.message = ExportJob.Status.ERROR, f"导出出错：{type(e).__name__}"
        job.finished_at = timezone.now()
        job.save()
        raise
    else:
        job.status, job.rows, job.file_path = ExportJob.Status.DONE, n, str(target)
        job.message = f"已导出{n}{kind.noun}。" + "".join(f"另有{c}{note}。" for note, c in ctx.notes.items())
    job.finished_at = timezone.now()
    job.save()
    return job


def discard_partial(job: ExportJob) -> None:
    (exports_dir() / f"{job.pk}.{suffix_of(job.kind)}.part").unlink(missing_ok=True)


# --- file kinds: another app's file, written by the same jobs --------------------------------------


@dataclass(frozen=True)
class FileKind:
    """An export kind whose file another app writes (records' print jobs)."""

    label: str  # what the job page calls it: "归档文件目录（PDF）"
    suffix: str  # of the stored file: "pdf"
    content_type: str
    # write(job, open binary file, progress(done)) -> (count, message); raises ActionError or
    # PermissionDenied with a Chinese message for refusals
    write: Callable[[ExportJob, BinaryIO, Callable[[int], None]], tuple[int, str]]
    check: Callable[[ExportJob], None]  # raises PermissionDenied when the owner may no longer have it
    filename: Callable[[ExportJob], str]  # the download's name
    title: Callable[[ExportJob], str]  # the job page's heading
    back: Callable[[ExportJob], str]  # the page a "back" link leads to
    count_unit: str = "件"  # what ``rows`` counts
    progress_verb: str = "已排版"  # the running page: "已排版 N 页"
    progress_unit: str = "页"


FILE_KINDS: dict[str, FileKind] = {}


def register_file_kind(kind: str, file_kind: FileKind) -> None:
    FILE_KINDS.setdefault(kind, file_kind)


def suffix_of(kind: str) -> str:
    return FILE_KINDS[kind].suffix if kind in FILE_KINDS else "xlsx"


def kind_label(kind: str) -> str:
    if kind in FILE_KINDS:
        return FILE_KINDS[kind].label
    return KINDS.get(kind, kind)


def queue_file_job(actor, kind: str, params: dict, *, message: str = "排队中，等待后台处理…") -> ExportJob:
    """Create and queue a job of a file kind. Called inside the owning app's action, after it
    has checked the actor's rights; the change-log row names the kind and its parameters."""
    from . import jobs

    if kind not in FILE_KINDS:
        raise ActionError(f"不支持的导出类型“{kind}”。")
    job = ExportJob.objects.create(kind=kind, user=actor, params=params, message=message)
    log_change(actor, "core.start_export", job, None, {"kind": kind, **params})
    jobs.enqueue(jobs.export_job_task, job)
    return job


def _run_file_kind(job: ExportJob) -> ExportJob:
    from . import jobs

    kind = FILE_KINDS[job.kind]
    target = exports_dir() / f"{job.pk}.{kind.suffix}"
    partial = target.with_name(target.name + ".part")
    try:
        kind.check(job)
        with open(partial, "wb") as fh:
            n, message = kind.write(job, fh, lambda done: jobs.report_progress(job.pk, done))
        os.replace(partial, target)
    except (ActionError, PermissionDenied) as e:
        partial.unlink(missing_ok=True)
        job.status = ExportJob.Status.ERROR
        job.message = "；".join(e.messages) if isinstance(e, ActionError) else str(e)
    except Exception as e:
        partial.unlink(missing_ok=True)
        job.status, job.finished_at = ExportJob.Status.ERROR, timezone.now()
        job.message = f"生成{kind.label}出错（{type(e).__name__}），未生成文件。请稍后重试或联系管理员。"
        job.save()
        raise
    else:
        job.status, job.rows, job.file_path, job.message = ExportJob.Status.DONE, n, str(target), message
    job.finished_at = timezone.now()
    job.save()
    return job


# --- the download (the job page and the API) -------------------------------------------------------

NO_FILE = "导出文件不存在或尚未完成。"


def download_name(job: ExportJob) -> str:
    """The file name a finished job downloads as."""
    file_kind = FILE_KINDS.get(job.kind)
    if file_kind is not None:
        return file_kind.filename(job)
    suffix = "完整信息" if job.unmasked else "脱敏"
    return f"{KINDS.get(job.kind, job.kind)}导出-{suffix}-{job.created_at:%Y%m%d%H%M}.xlsx"


def download_response(job: ExportJob):
    """The finished file of ``job`` (already known to be the requester's own) as an attachment;
    a 404 when it is not finished, its file is gone, or — for a file kind — its owner may no
    longer have it (``FileKind.check``). Access to the plaintext of an unmasked export is logged
    once, when the worker writes it (``run_export``), not on every download."""
    from django.http import FileResponse, Http404

    path = Path(job.file_path) if job.file_path else None
    if job.status != ExportJob.Status.DONE or path is None or not path.exists():
        raise Http404(NO_FILE)
    file_kind = FILE_KINDS.get(job.kind)
    if file_kind is not None:
        try:
            file_kind.check(job)  # the owner's rights again: a grant withdrawn since makes it a 404
        except PermissionDenied:
            raise Http404(NO_FILE) from None
        content_type = file_kind.content_type
    else:
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return FileResponse(open(path, "rb"), as_attachment=True, filename=download_name(job), content_type=content_type)
