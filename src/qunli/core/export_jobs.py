"""Re-importable exports, run as background jobs (core/jobs.py).

A person export is written in the person import template's columns (姓名, 身份证号, 所属单位 …),
so the file goes straight back into the import engine. Two forms:

* masked (default) — every account with read reach: the ID number, phone and address are their
  masks, so the file can be read but not re-imported (the ID check refuses a mask, in Chinese);
* unmasked (完整信息) — only accounts with write reach (staff, clerk: the same right as
  ``people.actions.reveal_person``), only over the persons they may change, and the export
  writes exactly ONE access-log row (object ``core.exportjob``/<job id>, fields id_number,
  phone, address, the stated purpose) before any plaintext is read. That file can be imported back into another instance (or after a clean-up) as is.

Persons without an ID number are left out of the file (the import requires one: 一人一档 is
keyed on it) and counted in the job's message. The unit column holds the unit's name when it is
unique among the exporter's units, else its id (the importer accepts both). The file is written
to a temporary name and renamed when complete: an interrupted export leaves no file.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from .actions import ActionError
from .audit import log_access, log_change
from .models import ExportJob
from .scoping import CHANGE, VIEW, grants_of

SENSITIVE_FIELDS = ["id_number", "phone", "address"]
KINDS = {"persons": "人员"}


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
    if unit is not None and not Unit.objects.visible_to(actor, VIEW).filter(pk=unit.pk).exists():
        raise PermissionDenied("单位不存在或不在您的权限范围内。")
    purpose = (purpose or "").strip()[:200]
    if unmasked:
        if not can_export_unmasked(actor):
            raise PermissionDenied("您没有导出完整敏感信息的权限（需要可维护人员档案的授权）。")
        if not purpose:
            raise ActionError("导出完整身份证号、电话和住址须填写用途。")
    with transaction.atomic():
        job = ExportJob.objects.create(kind=kind, user=actor, unit=unit, unmasked=unmasked, purpose=purpose,
                                       message="排队中，等待后台处理…")
        log_change(actor, "core.start_export", job, None,
                   {"kind": kind, "unit": unit.pk if unit else None, "unmasked": unmasked, "purpose": purpose})
        jobs.enqueue(jobs.export_job_task, job)
    return job


def _unit_refs(user, action) -> dict[int, str]:
    """Unit id -> what to write in 所属单位: the name when unique among the user's units."""
    from qunli.orgs.models import Unit

    rows = list(Unit.objects.visible_to(user, action).values_list("id", "name"))
    count: dict[str, int] = {}
    for _, name in rows:
        count[name] = count.get(name, 0) + 1
    return {uid: (name if count[name] == 1 else str(uid)) for uid, name in rows}


def person_rows(job: ExportJob, progress=None):
    """The rows of a person export, in the import template's column order."""
    from qunli.people.models import Person

    from . import crypto

    action = CHANGE if job.unmasked else VIEW
    qs = Person.objects.visible_to(job.user, action).filter(merged_into__isnull=True).exclude(id_number_hash="")
    if job.unit_id:
        qs = qs.filter(unit__path__startswith=job.unit.path)
    refs = _unit_refs(job.user, action)
    labels = dict(Person._meta.get_field("political_status").choices)
    fields = ["id", "name", "unit_id", "ethnicity", "political_status", "education", "workplace"]
    fields += [f"{f}_enc" for f in SENSITIVE_FIELDS] if job.unmasked else [f"{f}_mask" for f in SENSITIVE_FIELDS]
    n = 0
    for r in qs.order_by("id").values_list(*fields).iterator(chunk_size=2000):
        _, name, unit_id, eth, pol, edu, work, idn, phone, addr = r
        if job.unmasked:
            idn, phone, addr = (crypto.decrypt(v) if v else "" for v in (idn, phone, addr))
        n += 1
        if progress and n % 2000 == 0:
            progress(n)
        yield [name, idn, refs.get(unit_id, str(unit_id)), phone, eth, labels.get(pol, pol), edu, work, addr]


def _without_id(job: ExportJob) -> int:
    from qunli.people.models import Person

    action = CHANGE if job.unmasked else VIEW
    qs = Person.objects.visible_to(job.user, action).filter(merged_into__isnull=True, id_number_hash="")
    if job.unit_id:
        qs = qs.filter(unit__path__startswith=job.unit.path)
    return qs.count()


def run_export(job: ExportJob) -> ExportJob:
    """Write the file (called by the worker); the job row says how it went."""
    from . import jobs
    from .exports import write_xlsx
    from .imports import get_importer

    importer = get_importer(job.kind)
    target = exports_dir() / f"{job.pk}.xlsx"
    partial = target.with_name(target.name + ".part")
    try:
        if job.unmasked:
            if not can_export_unmasked(job.user):  # the grant may have been withdrawn since
                raise PermissionDenied("您没有导出完整敏感信息的权限。")
            log_access(job.user, job, SENSITIVE_FIELDS, job.purpose)
        with open(partial, "wb") as fh:
            n = write_xlsx(fh, [c.header for c in importer.columns],
                           person_rows(job, lambda rows: jobs.report_progress(job.pk, rows)),
                           sheet_name=importer.label)
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
        skipped = _without_id(job)
        job.status, job.rows, job.file_path = ExportJob.Status.DONE, n, str(target)
        job.message = f"已导出{n}名人员。" + (f"另有{skipped}名人员无身份证号，无法按一人一档导入，未列入。" if skipped else "")
    job.finished_at = timezone.now()
    job.save()
    return job


def discard_partial(job: ExportJob) -> None:
    (exports_dir() / f"{job.pk}.xlsx.part").unlink(missing_ok=True)

