"""Import pages: choose a kind and download its template, upload (the dry run happens on
upload), preview with per-row errors, confirm (the commit re-reads the stored file), and the
error workbook. Small files run in the request; large ones are queued as background jobs
(core/jobs.py, run by `qunli worker`), whose progress the page polls with HTMX every second."""

import hashlib
import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from . import imports, jobs
from .audit import log_access
from .models import ImportJob
from .scoping import writes_anywhere


def imports_dir() -> Path:
    d = Path(settings.DATA_DIR) / "imports"
    d.mkdir(parents=True, exist_ok=True)
    return d


def read_progress(job: ImportJob) -> int:
    """Rows processed so far, as reported by the worker (core/jobs.py heartbeat file)."""
    try:
        return int(jobs.read_beat(job.pk)["rows"])
    except (KeyError, ValueError, TypeError):
        return job.processed_rows


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label="导入类型", choices=imports.kind_choices(),
                             widget=forms.Select(attrs={"class": "form-select"}))
    file = forms.FileField(label="文件（.xlsx / .xls / .ods / .csv）",
                           widget=forms.ClearableFileInput(attrs={"class": "form-control",
                                                                  "accept": ".xlsx,.xls,.xlsm,.ods,.csv,.txt"}))


def _business(request, verb: str = "导入"):
    """Import and export pages are for business accounts (三员 see no business data)."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    if not request.user.is_business:
        raise PermissionDenied(f"三员账户不能{verb}业务数据。")
    return None


def _writer(request):
    """Importing writes: a read-only account (领导) is told so before it uploads a file whose
    every row would then fail with a message about the unit."""
    if (r := _business(request)) is not None:
        return r
    if not writes_anywhere(request.user):
        raise PermissionDenied("您的账户只有查看权限，不能导入数据。")
    return None


def store_upload(upload, kind: str, user) -> ImportJob:
    """Stream the upload to DATA_DIR/imports/<job id><ext>, hashing (SM3) as it goes."""
    job_id = uuid.uuid4()
    ext = Path(upload.name).suffix.lower()[:8]
    target = imports_dir() / f"{job_id}{ext}"
    digest = hashlib.new("sm3")
    with open(target, "wb") as fh:
        for chunk in upload.chunks():
            digest.update(chunk)
            fh.write(chunk)
    return ImportJob.objects.create(id=job_id, kind=kind, user=user, file_name=Path(upload.name).name[:255],
                                    file_path=str(target), file_sm3=digest.hexdigest(),
                                    status=ImportJob.Status.RUNNING, message="正在校验…")


def process_job(job: ImportJob, commit: bool) -> ImportJob:
    """Dry run (commit=False) or commit; the outcome is stored on the job. A successful commit
    marks the job done inside the import's own transaction (all or nothing, job row included)."""

    def progress(rows):
        jobs.report_progress(job.pk, rows)

    path = Path(job.file_path)
    if commit and _sm3(path) != job.file_sm3:
        job.status, job.message = ImportJob.Status.ERROR, "上传的文件在校验后被改动，已拒绝导入，请重新上传。"
        job.save()
        return job

    def mark_done(out):
        job.total_rows, job.error_rows, job.errors = out.total_rows, out.error_rows, out.errors
        job.processed_rows = out.total_rows
        job.status, job.created_rows = ImportJob.Status.DONE, out.created_rows
        job.message = f"已导入{out.created_rows}行。"
        job.finished_at = timezone.now()
        job.save()

    try:
        out = imports.run_import(job.kind, path, user=job.user, file_name=job.file_name, commit=commit,
                                 progress=progress, job=job, file_sm3=job.file_sm3,
                                 on_commit=mark_done if commit else None)
    except Exception as e:  # a bug must not leave the job "running" forever
        job.status, job.message = ImportJob.Status.ERROR, f"导入出错，未写入任何数据：{type(e).__name__}"
        job.finished_at = timezone.now()
        job.save()
        raise
    job.total_rows, job.error_rows, job.errors = out.total_rows, out.error_rows, out.errors
    job.processed_rows = out.total_rows
    if not commit:
        job.preview = out.preview
    if out.message:
        job.status = ImportJob.Status.FAILED if not commit else ImportJob.Status.ERROR
        job.message = out.message
        job.finished_at = timezone.now()
    elif commit:
        pass  # marked done by mark_done, in the transaction that wrote the rows
    else:
        job.status, job.message = ImportJob.Status.VALIDATED, f"共{out.total_rows}行，全部校验通过，可以导入。"
    if out.warnings and not out.message:
        job.message += "注意：" + "；".join(out.warnings) + "。"
    job.save()
    jobs.heartbeat_path(job.pk).unlink(missing_ok=True)
    return job


def _sm3(path: Path) -> str:
    digest = hashlib.new("sm3")
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def _start(job: ImportJob, commit: bool) -> None:
    """Small files (up to QUNLI_IMPORT_SYNC_MAX_BYTES) in the request; larger ones queued for
    `qunli worker`."""
    size = Path(job.file_path).stat().st_size if Path(job.file_path).exists() else 0
    if size <= settings.QUNLI_IMPORT_SYNC_MAX_BYTES:
        # claimed by this web process, so a request killed mid-way shows as interrupted
        job.worker, job.commit = jobs.worker_identity(), commit
        ImportJob.objects.filter(pk=job.pk).update(worker=job.worker, commit=commit)
        process_job(job, commit)
        return
    ImportJob.objects.filter(pk=job.pk).update(commit=commit, worker="", message="排队中，等待后台处理…")
    job.refresh_from_db()
    jobs.enqueue(jobs.import_job_task, job)


@require_http_methods(["GET", "POST"])
def import_start(request):
    if (r := _writer(request)) is not None:
        return r
    kind = request.GET.get("kind") or request.POST.get("kind") or "persons"
    if kind not in imports.IMPORTERS:
        kind = "persons"
    form = UploadForm(initial={"kind": kind})
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            if upload.size > settings.QUNLI_IMPORT_MAX_BYTES:
                form.add_error("file", f"文件超过大小上限（{settings.QUNLI_IMPORT_MAX_BYTES // 1048576} MB），请拆分后分批导入。")
            else:
                job = store_upload(upload, form.cleaned_data["kind"], request.user)
                _start(job, commit=False)
                return redirect("core:import_job", pk=job.pk)
    importer = imports.get_importer(kind)
    jobs = list(ImportJob.objects.filter(user=request.user)[:10])
    labels = dict(imports.kind_choices())
    for j in jobs:
        j.kind_label = labels.get(j.kind, j.kind)
    return render(request, "core/import_start.html", {"form": form, "kind": kind, "importer": importer,
                                                       "kinds": imports.kind_choices(), "jobs": jobs,
                                                       "title": "数据导入"})


def import_template(request, kind: str):
    if (r := _business(request)) is not None:
        return r
    if kind not in imports.IMPORTERS:
        raise Http404("没有这种导入类型。")
    label = imports.IMPORTERS[kind].label
    if request.GET.get("format") == "csv":
        resp = HttpResponse(imports.template_csv(kind), content_type="text/csv; charset=utf-8")
        resp["Content-Disposition"] = _disposition(f"{label}导入模板.csv")
        return resp
    import io

    buf = io.BytesIO()
    imports.template_xlsx(kind, buf)
    buf.seek(0)
    return FileResponse(buf, as_attachment=True, filename=f"{label}导入模板.xlsx",
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _disposition(name: str) -> str:
    from urllib.parse import quote

    return f"attachment; filename=\"template.csv\"; filename*=UTF-8''{quote(name)}"


def _own_job(request, pk) -> ImportJob:
    return get_object_or_404(ImportJob, pk=pk, user=request.user)


def expire_if_stale(job: ImportJob) -> ImportJob:
    """Close a job whose worker died (core.jobs.recover_job): its transaction was rolled back
    by the database, so nothing was written; the page offers 重新执行."""
    if job.status == ImportJob.Status.RUNNING:
        jobs.recover_job(job)
    return job


@require_http_methods(["GET", "POST"])
def import_job(request, pk):
    if (r := _business(request)) is not None:
        return r
    job = expire_if_stale(_own_job(request, pk))
    if request.method == "POST" and request.POST.get("action") == "confirm":
        if job.status != ImportJob.Status.VALIDATED:
            messages.error(request, "只有校验通过的文件才能导入。")
        else:
            updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.VALIDATED).update(
                status=ImportJob.Status.RUNNING, message="正在导入…", processed_rows=0)
            if updated:  # a double click starts one commit only
                job.refresh_from_db()
                _start(job, commit=True)
        return redirect("core:import_job", pk=job.pk)
    if request.method == "POST" and request.POST.get("action") == "retry":
        if job.status != ImportJob.Status.INTERRUPTED:
            messages.error(request, "只有已中断的任务才能重新执行。")
        elif _sm3(Path(job.file_path)) != job.file_sm3:
            messages.error(request, "上传的文件已不存在或被改动，请重新上传。")
        else:
            jobs.requeue(job)
        return redirect("core:import_job", pk=job.pk)
    importer = imports.get_importer(job.kind)
    ctx = {"job": job, "importer": importer, "title": f"导入{importer.label}",
           "processed": read_progress(job) if job.status == ImportJob.Status.RUNNING else job.processed_rows,
           "headers": [c.header for c in importer.columns], "running": job.status == ImportJob.Status.RUNNING,
           "queued": job.status == ImportJob.Status.RUNNING and not job.worker}
    if request.htmx and request.GET.get("partial"):
        if not ctx["running"]:
            resp = HttpResponse("")
            resp["HX-Refresh"] = "true"
            return resp
        return render(request, "core/import_progress.html", ctx)
    return render(request, "core/import_job.html", ctx)


def import_errors(request, pk):
    if (r := _business(request)) is not None:
        return r
    job = _own_job(request, pk)
    if not job.errors and not job.message:
        raise Http404("该任务没有错误。")
    import tempfile

    tmp = tempfile.TemporaryFile(suffix=".xlsx")
    errors = job.errors or [{"row": 0, "column": "", "reason": job.message, "values": []}]
    imports.write_error_workbook(job.file_path, job.file_name, errors, tmp)
    tmp.seek(0)
    # the workbook repeats the file's cells in full (ID numbers, phones): an access like any unmasking
    sensitive = [c.key for c in imports.get_importer(job.kind).columns if c.key in ("id_number", "phone", "address")]
    log_access(request.user, job, sensitive, "下载导入错误报告（含原始单元格）")
    return FileResponse(tmp, as_attachment=True, filename=f"错误报告-{Path(job.file_name).stem}.xlsx",
                        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
