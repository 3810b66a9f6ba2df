"""Background export jobs through the API (/api/exports, /api/jobs): what the export page
(``core:export_start``) and the job page with its download (``core:export_job``,
``core:export_download``) do, for integrations.

Nothing is decided here: a job is started by ``export_jobs.start_export`` exactly as the page
starts it (same refusals, in Chinese: 400 for a rule, 403 for a missing right), and the file is
served by ``export_jobs.download_response``, the page's own download. A job is its owner's only,
as on the pages: another account's job id answers 404 like a missing one. The records print
jobs (归档文件目录 / 归档章 PDFs) are started under ``/api/records/fonds/{id}/print-jobs`` and
followed and downloaded here like any other job."""

import datetime as dt
import uuid

from django.http import Http404
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate

from qunli.orgs.models import Unit

from . import export_jobs, jobs
from .api import NOT_VISIBLE, Id, Pagination, business_auth, choice, get_referenced
from .models import ExportJob

router = Router(tags=["jobs"], auth=business_auth)

RUNNING = (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)


# --- schemas -----------------------------------------------------------------------------------


class ExportIn(Schema):
    kind: str = Field(
        ...,
        description="导出类型：" + "、".join(f"{k} {v}" for k, v in export_jobs.KINDS.items()),
    )
    unit_id: Id | None = Field(None, description="只导出该单位及其下级（留空为全部可见范围）")
    unmasked: bool = Field(
        False,
        description="导出完整身份证号、电话和住址（可重新导入）：需要可维护人员档案的授权，须填写用途，记入访问日志",
    )
    purpose: str = Field("", max_length=200, description="用途（导出完整信息时必填）")


class JobOut(Schema):
    id: uuid.UUID
    kind: str = Field(..., description="导出类型（打印任务为 records_catalogue、records_stamps）")
    kind_label: str = Field(..., description="导出类型名称")
    status: choice(ExportJob.Status) = Field(
        ..., description="状态：queued 排队中、running 导出中、done 已完成、error 导出失败、interrupted 已中断"
    )
    status_display: str = Field(..., alias="get_status_display")
    unit_id: int | None = Field(..., description="所选单位编号")
    unmasked: bool = Field(..., description="含完整敏感信息")
    purpose: str = Field(..., description="用途")
    params: dict = Field(..., description="打印任务的选取条件（全宗、年度、保管期限、门类）")
    rows: int = Field(..., description="已写出的行数（打印任务为页数，完成后为条目件数）")
    message: str = Field(..., description="说明（完成时的统计，失败时的原因）")
    file_name: str | None = Field(None, description="文件名（完成后才有）")
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_kind_label(obj):
        return export_jobs.kind_label(obj.kind)

    @staticmethod
    def resolve_rows(obj):
        if obj.status in RUNNING:
            return jobs.read_beat(obj.pk).get("rows", 0)  # the worker's progress, as on the job page
        return obj.rows

    @staticmethod
    def resolve_file_name(obj):
        return export_jobs.download_name(obj) if obj.status == ExportJob.Status.DONE and obj.file_path else None


# --- helpers -----------------------------------------------------------------------------------


def own_job(user, job_id) -> ExportJob:
    """The requester's own job; anyone else's is a 404 like a missing id (as on the pages)."""
    job = ExportJob.objects.filter(pk=job_id, user=user).first()
    if job is None:
        raise Http404(NOT_VISIBLE)
    return job


# --- routes ------------------------------------------------------------------------------------


@router.post(
    "/exports",
    response={201: JobOut},
    summary="发起导出（后台任务）",
    description="与“数据导出”页面调用同一动作：按导入模板的列导出数据范围内的数据（默认脱敏）。"
    "导出完整信息需要可维护人员档案的授权并填写用途，导出时记入访问日志。"
    "任务由后台处理，用 GET /api/jobs/{id} 查看进度，完成后从 /api/jobs/{id}/file 下载。",
)
def start_export(request, payload: ExportIn):
    me = request.auth
    unit = get_referenced(Unit, me, payload.unit_id, "单位")
    job = export_jobs.start_export(me, payload.kind, unit=unit, unmasked=payload.unmasked, purpose=payload.purpose)
    return Status(201, job)


@router.get("/jobs", response=list[JobOut], summary="我的导出任务（最新在前）")
@paginate(Pagination)
def list_jobs(request):
    return ExportJob.objects.filter(user=request.auth).order_by("-created_at", "pk")


@router.get("/jobs/{uuid:job_id}", response=JobOut, summary="导出任务详情（状态、进度、说明）")
def get_job(request, job_id: uuid.UUID):
    job = own_job(request.auth, job_id)
    if job.status in RUNNING:
        jobs.recover_job(job)  # its worker gone: interrupted now, as the job page would show it
    return job


@router.get(
    "/jobs/{uuid:job_id}/file",
    response={200: None},
    summary="下载导出文件",
    description="只有任务的发起人可以下载；任务未完成时返回 409。打印任务在下载时再次核对全宗权限。",
)
def download_job_file(request, job_id: uuid.UUID):
    job = own_job(request.auth, job_id)
    if job.status in RUNNING:
        jobs.recover_job(job)
    if job.status in RUNNING:
        raise HttpError(409, f"导出任务尚未完成（{job.get_status_display()}），请稍后再下载。")
    if job.status != ExportJob.Status.DONE:
        raise HttpError(409, f"导出任务{job.get_status_display()}，没有可下载的文件：{job.message}")
    return export_jobs.download_response(job)
