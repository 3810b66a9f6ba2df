"""Export pages: choose a kind (every import kind: units, persons, memberships, volunteers,
positions, team members) and start its export (masked, or unmasked for accounts with write reach),
follow it while a background worker writes it (HTMX polling), and download it (owner only).
The job page and the download also serve the file kinds other apps start themselves
(``export_jobs.FileKind``: records' 归档文件目录 / 归档章 PDFs of a large class)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from . import export_jobs, jobs
from .actions import ActionError
from .import_views import _business
from .models import ExportJob


class ExportForm(forms.Form):
    kind = forms.ChoiceField(label="导出类型", choices=list(export_jobs.KINDS.items()),
                             widget=forms.Select(attrs={"class": "form-select"}))
    unit = forms.IntegerField(label="单位编号（留空为全部可见范围）", required=False, min_value=1,
                              widget=forms.NumberInput(attrs={"class": "form-control"}))
    unmasked = forms.BooleanField(label="导出完整身份证号、电话和住址（可重新导入；将记入访问日志；单位数据无此项）",
                                  required=False,
                                  widget=forms.CheckboxInput(attrs={"class": "form-check-input"}))
    purpose = forms.CharField(label="用途", required=False, max_length=200,
                              widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "导出完整信息时必填"}))


@require_http_methods(["GET", "POST"])
def export_start(request):
    if (r := _business(request, "导出")) is not None:
        return r
    form = ExportForm(request.POST or None, initial={"kind": request.GET.get("kind", "persons")})
    if request.method == "POST" and form.is_valid():
        from qunli.orgs.models import Unit

        unit = None
        if form.cleaned_data["unit"]:
            unit = Unit.objects.visible_to(request.user).filter(pk=form.cleaned_data["unit"]).first()
            if unit is None:
                form.add_error("unit", "单位不存在或不在您的权限范围内")
        if not form.errors:
            try:
                job = export_jobs.start_export(request.user, form.cleaned_data["kind"], unit=unit,
                                               unmasked=form.cleaned_data["unmasked"],
                                               purpose=form.cleaned_data["purpose"])
            except ActionError as e:
                form.add_error(None, "；".join(e.messages))
            except PermissionDenied as e:
                form.add_error(None, str(e))
            else:
                return redirect("core:export_job", pk=job.pk)
    recent = list(ExportJob.objects.filter(user=request.user)[:10])
    for j in recent:
        j.kind_label = export_jobs.kind_label(j.kind)
    return render(request, "core/export_start.html", {
        "form": form, "title": "数据导出", "can_unmask": export_jobs.can_export_unmasked(request.user),
        "jobs": recent})


def _own(request, pk) -> ExportJob:
    return get_object_or_404(ExportJob, pk=pk, user=request.user)


@require_http_methods(["GET", "POST"])
def export_job(request, pk):
    if (r := _business(request, "导出")) is not None:
        return r
    job = _own(request, pk)
    if job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING):
        jobs.recover_job(job)
    if request.method == "POST":
        if request.POST.get("action") == "retry" and job.status == ExportJob.Status.INTERRUPTED:
            jobs.requeue(job)
        else:
            messages.error(request, "只有已中断的任务才能重新执行。")
        return redirect("core:export_job", pk=job.pk)
    running = job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)
    ctx = {"job": job, "title": "数据导出", "label": export_jobs.kind_label(job.kind),
           "running": running, "queued": running and not job.worker,
           "processed": jobs.read_beat(job.pk).get("rows", 0) if running else job.rows,
           "heading": "", "back": "", "doing": "导出", "verb": "已写出", "unit": "行", "count_unit": "行"}
    file_kind = export_jobs.FILE_KINDS.get(job.kind)
    if file_kind is not None:
        ctx.update(heading=file_kind.title(job), back=file_kind.back(job), doing="生成",
                   verb=file_kind.progress_verb, unit=file_kind.progress_unit, count_unit=file_kind.count_unit)
    if request.htmx and request.GET.get("partial"):
        if not running:
            resp = HttpResponse("")
            resp["HX-Refresh"] = "true"
            return resp
        return render(request, "core/export_progress.html", ctx)
    return render(request, "core/export_job.html", ctx)


def export_download(request, pk):
    if (r := _business(request, "导出")) is not None:
        return r
    return export_jobs.download_response(_own(request, pk))
