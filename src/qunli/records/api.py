"""The staff archives API (/api/records), for integrations: fonds, items (the item list's
filters and full-text search), capture, DA/T 22 filing, 四性检测, 移交/接收, 利用 and 馆藏统计.

Nothing here decides anything of its own. Reads go through the querysets the pages use
(``records.queries`` for the item list, ``visible_to`` everywhere; an object outside the
grant is a 404 like a missing id, ``core.api.get_visible``); writes call the verbs the pages
call (``records.actions``, ``records.transfer``, ``records.use``), so a refusal is the same
Chinese message, as a 400, and a missing right the same 403.

密级 and 划控 follow the pages exactly: staff see every item of their scope, controlled
(控制使用) and secret ones included, with their 密级 and 开放标识; what the public may see is
``Item.objects.public()`` (the /api/public router), and a use request applies
``records.use.rule_for`` — open items approved at once, controlled or undecided ones waiting
for an archives leader, 秘密/机密 items refused."""

import datetime as dt
from typing import Literal

from django.db.models import Count, Prefetch
from django.utils import timezone
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile
from ninja.pagination import paginate
from pydantic import ConfigDict

from qunli.core.actions import ActionError, require_change
from qunli.core.api import (
    Id,
    Pagination,
    business_auth,
    choice,
    get_referenced,
    get_visible,
    require_visible_ids,
)
from qunli.core.job_api import JobOut
from qunli.core.scoping import CHANGE, VIEW, can
from qunli.orgs.models import Unit

from . import actions, holdings, printing, queries, transfer, use
from .filters import ItemFilterForm
from .models import (
    Certificate,
    CheckRun,
    Classification,
    Fonds,
    Item,
    ItemFile,
    Openness,
    Purpose,
    Retention,
    TransferBatch,
    UseLine,
    UseRequest,
)

router = Router(tags=["records"], auth=business_auth)


# --- schemas -----------------------------------------------------------------------------------


class FondsOut(Schema):
    id: int
    code: str = Field(..., description="全宗号")
    name: str = Field(..., description="全宗名称")
    unit_id: int = Field(..., description="立档单位编号")
    unit_name: str = Field(..., alias="unit.name", description="立档单位")
    code_format: str = Field(..., description="档号格式（此后归档的条目使用）")


class OrgCodeOut(Schema):
    code: str
    name: str


class FondsDetailOut(FondsOut):
    org_codes: list[OrgCodeOut] = Field(..., description="机构（问题）代码")
    counts: dict[str, int] = Field(
        ..., description="各状态条目数：pending 待归档、filed 已归档、disposed 已销毁"
    )


class ItemOut(Schema):
    id: int
    archival_code: str | None = Field(..., description="档号（归档后才有）")
    piece_no: int | None = Field(..., description="件号")
    title: str = Field(..., description="题名")
    responsible: str = Field(..., description="责任者")
    date: dt.date | None = Field(..., description="日期")
    doc_no: str = Field(..., description="文件编号")
    fonds_id: int
    fonds_code: str = Field(..., alias="fonds.code", description="全宗号")
    category_id: int
    category: str = Field(..., alias="category.code", description="门类代码")
    category_name: str = Field(..., alias="category.name", description="门类")
    year: int = Field(..., description="年度")
    retention: str = Field(..., description="保管期限：Y 永久、D30、D10；空 = 未定")
    org_code: str | None = Field(None, description="机构（问题）代码")
    classification: Classification = Field(..., description="密级")
    classification_display: str = Field(..., alias="get_classification_display")
    openness: Openness = Field(
        ..., description="开放标识：open 开放、controlled 控制使用（划控）、pending 待定"
    )
    openness_display: str = Field(..., alias="get_openness_display")
    pages: int | None = Field(..., description="页数")
    note: str = Field(..., description="备注")
    status: choice(Item.Status) = Field(..., description="状态：pending 待归档、filed 已归档、disposed 已销毁")
    status_display: str = Field(..., alias="get_status_display")
    captured_at: dt.datetime = Field(..., description="登记时间")
    filed_at: dt.datetime | None = Field(..., description="归档时间")
    snippet: str = Field("", description="全文检索时的匹配片段（HTML，已转义，匹配处为 <mark>）")

    @staticmethod
    def resolve_org_code(obj):
        return obj.org_code.code if obj.org_code_id else None


class FileOut(Schema):
    id: int
    name: str
    origin: ItemFile.Origin = Field(..., description="生成方式：scan 数字化副本，born_digital 原生电子文件")
    size: int
    mime: str
    sm3: str
    sha256: str
    added_at: dt.datetime


class ItemDetailOut(ItemOut):
    source_type: str = Field(..., description="来源类型（手工登记为 manual，本接口为 api）")
    source_id: str
    source_repr: str = Field(..., description="来源")
    filing_batch: str = Field(..., description="归档批次")
    scanned_pages: int = Field(..., description="已数字化页数")
    files: list[FileOut] = Field(..., description="电子文件（SM3 与 SHA-256 在登记时计算）")


class ItemFilters(Schema):
    q: str = Field(
        "", max_length=100, description="全文检索：题名、责任者、文件编号、档号及电子文件文本（与界面相同）"
    )
    fonds: Id | None = Field(None, description="全宗编号")
    year: int | None = Field(None, ge=1000, le=9999, description="年度")
    retention: Retention | None = Field(None, description="保管期限")
    category: Id | None = Field(None, description="门类编号")
    status: choice(Item.Status) | None = Field(None, description="状态；已销毁的条目只在 status=disposed 时列出")
    openness: Openness | None = Field(None, description="开放标识")
    classification: Classification | None = Field(None, description="密级")


class CaptureIn(Schema):
    # text is trimmed as the capture page's form trims it, so "   " is a missing 题名, not one
    model_config = ConfigDict(str_strip_whitespace=True)

    unit_id: int = Field(..., description="形成单位编号：登记到该单位（或其最近的上级单位）的全宗")
    title: str = Field(..., min_length=1, max_length=300, description="题名")
    responsible: str = Field(..., min_length=1, max_length=100, description="责任者")
    date: dt.date = Field(..., description="日期")
    doc_no: str = Field("", max_length=60, description="文件编号")
    category: str = Field("WS", max_length=10, description="门类代码")
    retention: Retention | None = Field(None, description="保管期限；不填则归档前补填")
    org_code: str = Field("", max_length=10, description="机构（问题）代码")
    classification: Classification = Field(Classification.INTERNAL, description="密级")
    openness: Openness = Field(Openness.PENDING, description="开放标识：待定或控制使用；“开放”只能由开放鉴定决定")
    pages: int | None = Field(None, ge=1, description="页数")
    note: str = Field("", max_length=200, description="备注")
    source_id: str = Field("", max_length=40, description="来源系统中的编号（可选）")
    source_repr: str = Field("", max_length=200, description="来源说明（可选，默认“接口登记”）")
    file_origin: ItemFile.Origin = Field(
        ItemFile.Origin.BORN_DIGITAL,
        description="电子文件的生成方式：born_digital 原生电子文件（业务系统生成，默认），scan 纸质原件的数字化副本"
        "（计入数字化进度）",
    )


class FileItemsIn(Schema):
    item_ids: list[Id] = Field(..., max_length=50_000, description="待归档条目编号：全部归档，或全部不归档")


class FiledClassOut(Schema):
    prefix: str = Field(..., description="类别（全宗号-门类·年度-保管期限[-机构代码]）")
    first: int = Field(..., description="本批第一个件号")
    last: int = Field(..., description="本批最后一个件号")
    item_ids: list[Id] = Field(..., description="按件号顺序的条目编号")


class FiledItemOut(Schema):
    id: int
    piece_no: int
    archival_code: str


class CheckRunOut(Schema):
    id: int
    phase: CheckRun.Phase = Field(
        ..., description="检测环节：filing 归档、transfer 移交、receipt 接收、storage 长期保存"
    )
    phase_display: str = Field(..., alias="get_phase_display")
    unit_id: int
    unit_name: str = Field(..., alias="unit.name")
    fonds_id: int | None
    batch_id: int | None = Field(..., description="移交批次编号")
    subject: str = Field(..., description="检测对象")
    started_at: dt.datetime
    seconds: float
    item_count: int
    file_count: int
    total_bytes: int
    passed: bool = Field(..., description="通过：没有不通过的阻断项")
    verdict: str = Field(..., description="结论：通过 / 不通过，有未执行项时注明，如“通过（1 项未执行：病毒检测）”")
    failed_items: int = Field(..., description="不通过项数")
    warning_items: int = Field(..., description="警告项数")
    not_performed_items: int = Field(..., description="未执行项数（如未安装杀毒软件）")


class CheckResultOut(Schema):
    code: str = Field(..., description="DA/T 70 检测项编号，如 1-1")
    aspect: str = Field(..., description="真实性 / 完整性 / 可用性 / 安全性")
    name: str
    status: str = Field(..., description="passed / warning / failed / not_performed")
    status_label: str
    blocking: bool = Field(..., description="阻断项不通过：不能移交或接收")
    checked: int
    failure_count: int
    failures: list[str] = Field(..., description="问题明细（每项最多 200 条）")
    warnings: list[str]
    note: str


class CheckReportOut(CheckRunOut):
    results: list[CheckResultOut] = Field(..., description="逐项结果（DA/T 70-2018 1-1…4-2）")


class FilingOut(Schema):
    batch: str = Field(..., description="归档批次")
    count: int
    classes: list[FiledClassOut]
    items: list[FiledItemOut] = Field(..., description="各条目获得的件号与档号")
    checks: list[CheckRunOut] = Field(..., description="归档检测（四性检测），每个全宗一次；不通过不撤销归档")


class CheckIn(Schema):
    """JSON body, may be ``{}``."""

    item_ids: list[Id] | None = Field(None, description="只检测这些已归档条目；不填则检测全宗全部已归档条目")


class TransferOut(Schema):
    id: int
    number: str = Field(..., description="批次号")
    title: str = Field(..., description="批次名称")
    mode: TransferBatch.Mode = Field(..., description="online 在线移交、offline 离线接收")
    status: choice(TransferBatch.Status) = Field(
        ..., description="prepared 已组包、sent 待接收、accepted 已接收、returned 已退回、withdrawn 已撤回"
    )
    status_display: str = Field(..., alias="get_status_display")
    fonds_id: int | None
    fonds_code: str
    fonds_name: str
    sender_unit_id: int
    sender_name: str = Field(..., description="移交单位")
    receiver_id: int
    receiver_name: str = Field(..., alias="receiver.name", description="接收单位")
    item_count: int
    file_count: int
    total_bytes: int
    package_size: int
    package_sm3: str = Field(..., description="数据包 SM3")
    created_at: dt.datetime
    sent_at: dt.datetime | None
    decided_at: dt.datetime | None
    return_reason: str = Field(..., description="退回原因")


class TransferDetailOut(TransferOut):
    is_sender: bool = Field(..., description="当前账户可作为移交方操作（移交、撤回）")
    is_receiver: bool = Field(..., description="当前账户可作为接收方操作（接收检测、接收、退回）")
    archival_codes: list[str] = Field(..., description="批次条目的档号（最多 500 个）")
    checks: list[CheckRunOut] = Field(..., description="本批次的四性检测（最新在前，最多 20 次）")


class TransferFilters(Schema):
    status: choice(TransferBatch.Status) | None = None


class TransferIn(Schema):
    fonds_id: int = Field(..., description="全宗编号（移交方）")
    receiver_id: int = Field(..., description="接收单位编号（档案馆、综合档案室）")
    year: int | None = Field(
        None, ge=1900, le=2100, description="年度：选取该年度全部可移交的已归档条目（与界面相同）"
    )
    retention: Retention | None = Field(None, description="保管期限：与年度一起选取")
    item_ids: list[Id] | None = Field(
        None, max_length=50_000, description="或逐件指定条目（本全宗可移交的已归档条目）；指定时忽略年度"
    )
    title: str = Field("", max_length=200, description="批次名称；不填为“全宗名称 + 档案移交”")


class ReturnIn(Schema):
    reason: str = Field(..., max_length=2000, description="退回原因（移交单位可以看到）")


class UploadIn(Schema):
    receiver_id: Id = Field(..., description="接收单位编号（本单位：离线接收）")
    title: str = Field("", max_length=200, description="批次名称（默认取数据包的 External-Description）")


class RenumberIn(Schema):
    piece_no: int = Field(..., ge=1, le=9999, description="新件号（同类内其余条目顺移，保持连续）")
    reason: str = Field(..., min_length=1, max_length=500, description="调整件号的原因（记入变更日志）")


class UseRequestOut(Schema):
    id: int
    code: str = Field(..., description="利用单号")
    fonds_id: int
    fonds_code: str = Field(..., alias="fonds.code")
    channel: choice(UseRequest.Channel) = Field(..., description="desk 窗口、online 网上")
    reader_name: str = Field(..., description="利用者")
    reader_phone: str = Field(..., alias="reader_phone_mask", description="联系电话（已脱敏）")
    organization: str
    purpose: Purpose = Field(..., description="利用目的")
    purpose_display: str = Field(..., alias="get_purpose_display")
    description: str
    created_at: dt.datetime


class UseLineOut(Schema):
    id: int
    item_id: int
    archival_code: str | None = Field(..., alias="item.archival_code")
    title: str = Field(..., alias="item.title")
    classification: str = Field(..., alias="item.classification", description="密级")
    openness: str = Field(..., alias="item.openness", description="开放标识")
    rule: UseLine.Rule = Field(..., description="open 开放档案（自动批准）、leader 须档案部门领导审批")
    rule_display: str = Field(..., alias="get_rule_display")
    status: choice(UseLine.Status) = Field(..., description="pending 待审批、approved 已批准、rejected 不予提供")
    status_display: str = Field(..., alias="get_status_display")
    reason: str = Field(..., description="审批意见")
    decided_at: dt.datetime | None
    expires_on: dt.date | None = Field(..., description="在线阅览截止日期")
    certificates: list["CertificateOut"] = Field(..., description="已出具的利用证明")

    @staticmethod
    def resolve_certificates(obj):
        return list(obj.certificates.all())


class UseDetailOut(UseRequestOut):
    is_leader: bool = Field(..., description="当前账户是该全宗的档案部门领导（可审批控制使用的档案）")
    lines: list[UseLineOut]

    @staticmethod
    def resolve_lines(obj):
        return list(obj.lines.select_related("item").prefetch_related("certificates").order_by("id"))


class CertificateOut(Schema):
    id: int
    code: str = Field(..., description="验证码（任何人可在门户“证明查验”核对）")
    line_id: int
    archival_code: str = Field(..., description="档号")
    reader_mask: str = Field(..., description="利用者（遮蔽）")
    unit_name: str = Field(..., description="出具单位")
    sha256: str = Field(..., description="证明 PDF 的 SHA-256")
    issued_at: dt.datetime
    pdf_url: str = Field(..., description="下载证明 PDF 的接口地址")

    @staticmethod
    def resolve_pdf_url(obj):
        return f"/api/records/use/certificates/{obj.pk}/pdf"


class UseFilters(Schema):
    fonds: Id | None = Field(None, description="全宗编号")
    waiting: bool = Field(False, description="只列有待审批条目的利用单（领导审批队列）")


class UseIn(Schema):
    fonds_id: int = Field(..., description="全宗编号")
    reader_name: str = Field(..., max_length=50, description="利用者姓名")
    purpose: Purpose = Field(..., description="利用目的")
    phone: str = Field(
        "", pattern=r"^(1[3-9]\d{9})?$", description="11位手机号码（在线阅览凭利用单号和后四位；加密保存）"
    )
    organization: str = Field("", max_length=100, description="工作单位")
    description: str = Field("", max_length=500, description="需求说明")
    archival_codes: list[str] = Field(
        [], max_length=50, description="调阅档号。开放档案自动批准；控制使用的须领导审批；涉密档案不予提供"
    )


class DecisionIn(Schema):
    approve: bool = Field(..., description="true 批准，false 不予提供")
    reason: str = Field("", max_length=300, description="审批意见；不予提供时必填")


class HoldingsRowOut(Schema):
    fonds_id: int | None = Field(None, description="全宗编号；合计行为空")
    fonds_code: str = Field(..., description="全宗号")
    fonds_name: str = Field(..., description="全宗名称")
    total: int = Field(..., description="馆（室）藏档案（件）")
    y: int = Field(..., description="其中：永久")
    d30: int = Field(..., description="定期30年")
    d10: int = Field(..., description="定期10年")
    pages: int = Field(..., description="页数")
    filed_in_year: int = Field(..., description="本年归档（件）")
    pending: int = Field(..., description="待归档（件）")
    digitized: int = Field(..., description="已数字化（件）")
    rate: float = Field(..., description="数字化率（按件，%）：已数字化 ÷ 纸质馆藏（馆藏 − 电子档案）")
    electronic: int = Field(..., description="电子档案（件）：电子文件均为原生电子文件的条目")
    mb: float = Field(..., description="电子文件（MB）")
    disposed: int = Field(..., description="累计销毁（件）")
    use_persons: int = Field(..., description="本年利用（人次）")
    use_items: int = Field(..., description="本年利用（件次）")
    transferred: int = Field(..., description="已移交（件）")


class CountOut(Schema):
    key: str
    label: str
    n: int


class HoldingsOut(Schema):
    year: int
    fonds_count: int
    rows: list[HoldingsRowOut] = Field(..., description="每个全宗一行（年报的列序）")
    total: HoldingsRowOut = Field(..., description="合计")
    by_category: list[CountOut] = Field(..., description="馆藏按门类")
    by_year: list[CountOut] = Field(..., description="馆藏按年度")
    by_retention: list[CountOut] = Field(..., description="馆藏按保管期限")


# --- fonds ---------------------------------------------------------------------------------------


def _fonds(user, act: str = "view"):
    return Fonds.objects.visible_to(user, act).select_related("unit")


@router.get("/fonds", response=list[FondsOut], summary="全宗列表（数据范围内）")
@paginate(Pagination)
def list_fonds(request):
    return _fonds(request.auth).order_by("code", "pk")


@router.get("/fonds/{int:fonds_id}", response=FondsDetailOut, summary="全宗详情（机构代码、各状态条目数）")
def get_fonds(request, fonds_id: int):
    fonds = get_visible(_fonds(request.auth), request.auth, fonds_id)
    fonds.counts = {
        r["status"]: r["n"] for r in fonds.items.order_by().values("status").annotate(n=Count("id"))
    }
    return fonds


@router.post(
    "/fonds/{int:fonds_id}/check",
    response=CheckReportOut,
    summary="四性检测：全宗馆藏（长期保存）",
    description="从存储重新读取并计算 SM3、SHA-256，按 DA/T 70-2018 逐项检测；需要该全宗的修改权限。",
)
def check_fonds(request, fonds_id: int, payload: CheckIn = None):
    fonds = get_visible(_fonds(request.auth, CHANGE), request.auth, fonds_id, CHANGE)
    ids = payload.item_ids if payload is not None else None
    if ids is not None:
        ids = require_visible_ids(Item, request.auth, ids)
    return _run(transfer.check_holdings(request.auth, fonds, item_ids=ids).pk)


# --- items ---------------------------------------------------------------------------------------

ITEM_RELATED = ("fonds", "category", "org_code")


class _Ranked:
    """The ranked ids of a search, sliced by the paginator: only the page's items are loaded,
    with their snippets (the item list page does the same)."""

    def __init__(self, qs, ids: list[int], q: str):
        self.qs, self.ids, self.q = qs, ids, q

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, part: slice) -> list:
        objs = queries.in_order(self.qs, self.ids[part])
        marks = queries.snippets(self.q, [o.pk for o in objs])
        for o in objs:
            o.snippet = str(marks.get(o.pk, ""))
        return objs


def _filter_errors(form) -> list[str]:
    return [
        f"{form.fields[k].label}：{m}" if k in form.fields else m
        for k, msgs in form.errors.items()
        for m in msgs
    ]


@router.get(
    "/items",
    response=list[ItemOut],
    summary="档案条目列表与全文检索（与界面的条目列表相同）",
    url_name="records_list_items",
    description="数据范围内的条目，含控制使用（划控）与涉密条目（显示密级与开放标识，与界面相同）；"
    "已销毁的条目只在 status=disposed 时列出。有 q 时按全文检索命中排序（最新在前，最多 10,001 条）。",
)
@paginate(Pagination)
def list_items(request, filters: Query[ItemFilters]):
    data = {k: ("" if v is None else getattr(v, "value", v)) for k, v in filters.dict().items() if k != "q"}
    form = ItemFilterForm(data, user=request.auth)
    if not form.is_valid():
        raise ActionError(_filter_errors(form))
    qs = queries.filter_items(queries.listed_items(request.auth, data["status"]), form.cleaned_data)
    qs = qs.select_related(*ITEM_RELATED)
    q = filters.q.strip()
    if q and queries.is_fulltext(q):
        return _Ranked(qs, queries.search_ids(qs, q), q)
    if q:
        qs = queries.fallback_search(qs, q)
    return qs.order_by("-pk")


def _item(user, pk: int) -> Item:
    qs = Item.objects.select_related(*ITEM_RELATED).prefetch_related(
        Prefetch("files", queryset=ItemFile.objects.order_by("id"))
    )
    return get_visible(qs, user, pk)


@router.get(
    "/items/{int:item_id}",
    response=ItemDetailOut,
    summary="档案条目详情（著录项与电子文件）",
    url_name="records_get_item",
)
def get_item(request, item_id: int):
    return _item(request.auth, item_id)


@router.post(
    "/items",
    response={201: ItemDetailOut},
    summary="登记档案条目（前端控制：待归档），可上传电子文件",
    description="multipart/form-data：著录项为表单字段，电子文件为 files（可多个；PDF、OFD、JPEG、TIFF、PNG、"
    "DOCX、TXT、MP3、WAV、MP4，单个不超过 200 MB）。与界面的“登记档案条目”调用同一动作 "
    "records.capture_record：文件逐个校验、计算 SM3 与 SHA-256 并存储一次；任何一个文件不合格，"
    "整条登记都不保存。",
)
def capture(request, payload: Form[CaptureIn], files: File[list[UploadedFile]] = None):
    me = request.auth
    unit = get_referenced(Unit, me, payload.unit_id, "形成单位")
    item = actions.capture_record(
        me,
        unit=unit,
        title=payload.title,
        responsible=payload.responsible,
        date=payload.date,
        doc_no=payload.doc_no,
        category=payload.category,
        retention=payload.retention or None,
        org_code=payload.org_code,
        classification=payload.classification,
        openness=payload.openness,
        pages=payload.pages,
        note=payload.note,
        files=files or (),
        file_origin=payload.file_origin,
        source={
            "source_type": "api",
            "source_id": payload.source_id,
            "source_repr": payload.source_repr.strip() or "接口登记",
        },
    )
    return Status(201, _item(me, item.pk))


@router.post(
    "/items/file",
    response=FilingOut,
    summary="归档（DA/T 22）：为待归档条目编件号、档号",
    description="与界面“待归档 → 归档”相同：按（全宗、门类、年度、保管期限、机构）分类，按（日期、编号）排序，"
    "每类件号连续不重不漏。全部归档或全部不归档：任何一件缺少必著项，整批拒绝并逐件说明。"
    "归档后对每个全宗做一次归档检测（四性检测）。",
)
def file_items(request, payload: FileItemsIn):
    me = request.auth
    ids = require_visible_ids(Item, me, payload.item_ids)
    out = actions.file_items(me, ids)
    runs = transfer.check_after_filing(me, ids)  # 归档检测, as the pending page does
    filed = (
        Item.objects.filter(pk__in=ids).order_by("archival_code").values("id", "piece_no", "archival_code")
    )
    return {
        "batch": out["batch"],
        "count": out["count"],
        "classes": [
            {"prefix": c["class"], "first": c["first"], "last": c["last"], "item_ids": c["item_ids"]}
            for c in out["classes"]
        ],
        "items": list(filed),
        "checks": _runs(me).filter(pk__in=[r.pk for r in runs]).order_by("pk"),
    }


@router.post(
    "/items/{int:item_id}/renumber",
    response=ItemDetailOut,
    summary="调整件号（已归档条目，记录原因）",
    description="与界面相同的动作 renumber_item：条目移到同类的新件号，其间的条目顺移一位，同类件号仍连续；"
    "已销毁条目的件号永久保留，不能跨越或占用。所有改变的档号记入变更日志。",
)
def renumber_item(request, item_id: int, payload: RenumberIn):
    me = request.auth
    item = get_visible(Item.objects.select_related("fonds__unit", "category", "org_code"), me, item_id)
    actions.renumber_item(me, item, piece_no=payload.piece_no, reason=payload.reason)
    return _item(me, item.pk)


# --- 四性检测 -------------------------------------------------------------------------------------


class CheckFilters(Schema):
    phase: CheckRun.Phase | None = None
    batch_id: Id | None = Field(None, description="移交批次编号")


def _runs(user):
    return CheckRun.objects.visible_to(user).select_related("unit")


def _run(pk: int) -> CheckRun:
    return CheckRun.objects.select_related("unit").get(pk=pk)


@router.get("/checks", response=list[CheckRunOut], summary="四性检测记录（最新在前）")
@paginate(Pagination)
def list_checks(request, filters: Query[CheckFilters]):
    qs = _runs(request.auth)
    if filters.phase:
        qs = qs.filter(phase=filters.phase)
    if filters.batch_id is not None:
        qs = qs.filter(batch_id=filters.batch_id)
    return qs.order_by("-pk")


@router.get("/checks/{int:run_id}", response=CheckReportOut, summary="四性检测报告（逐项结果与问题明细）")
def get_check(request, run_id: int):
    return get_visible(_runs(request.auth), request.auth, run_id)


# --- 移交/接收 ------------------------------------------------------------------------------------


def _batches(user):
    return TransferBatch.objects.visible_to(user).select_related("receiver")


def _batch(user, pk: int) -> TransferBatch:
    return get_visible(
        TransferBatch.objects.select_related("receiver", "fonds__unit", "sender_unit"), user, pk
    )


def _batch_detail(user, pk: int) -> TransferBatch:
    batch = _batch(user, pk)
    batch.is_sender = batch.fonds is not None and can(user, CHANGE, batch.fonds)
    batch.is_receiver = can(user, CHANGE, batch.receiver)
    batch.archival_codes = list(batch.members.values_list("archival_code", flat=True)[:500])
    batch.checks = list(batch.check_runs.select_related("unit").order_by("-id")[:20])
    return batch


@router.get("/transfers", response=list[TransferOut], summary="移交批次（本单位移交的与移交给本单位的）")
@paginate(Pagination)
def list_transfers(request, filters: Query[TransferFilters]):
    qs = _batches(request.auth)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return qs.order_by("-pk")


@router.get("/transfers/{int:batch_id}", response=TransferDetailOut, summary="移交批次详情")
def get_transfer(request, batch_id: int):
    return _batch_detail(request.auth, batch_id)


@router.post(
    "/transfers",
    response={201: TransferDetailOut},
    summary="新建移交批次（组包并做移交检测）",
    description="按全宗·年度·保管期限选取可移交的已归档条目（与界面相同），或逐件指定 item_ids；"
    "生成 BagIt 数据包并做移交检测（四性检测），有阻断项不通过时本批次不能移交。",
)
def create_transfer(request, payload: TransferIn):
    me = request.auth
    fonds = get_referenced(Fonds.objects.select_related("unit"), me, payload.fonds_id, "全宗")
    # the archives belongs to another line: looked up among the sender's region's archives
    receiver = transfer.receivers_for(fonds.unit).filter(pk=payload.receiver_id).first()
    if receiver is None:
        raise ActionError(f"所选接收单位（编号 {payload.receiver_id}）不是{fonds.unit.name}所在地区的档案馆或综合档案室。")
    if payload.item_ids is not None:
        ids = payload.item_ids
    elif payload.year is None:
        raise ActionError("请填写年度（或逐件指定要移交的条目）。")
    else:
        require_change(me, fonds)  # the form offers only fonds the account may change
        ids = transfer.selection(fonds, year=payload.year, retention=payload.retention or "")
    batch = transfer.create_transfer(me, fonds, receiver=receiver, item_ids=ids, title=payload.title)
    return Status(201, _batch_detail(me, batch.pk))


@router.post(
    "/transfers/upload",
    response={201: TransferDetailOut},
    summary="离线接收：上传数据包（zip）",
    description="multipart/form-data：receiver_id、title 与数据包 package（BagIt zip，含 SM3 与 SHA-256 清单）。"
    "与界面的“离线接收”调用同一动作：数据包经安全检查（路径、压缩比、大小上限）后登记为待接收批次，"
    "随即做接收检测；不合格的数据包不登记任何内容。",
)
def upload_package(request, payload: Form[UploadIn], package: File[UploadedFile]):
    me = request.auth
    receiver = get_referenced(Unit, me, payload.receiver_id, "接收单位")
    batch = transfer.receive_package(me, receiver=receiver, uploaded=package, title=payload.title)
    return Status(201, _batch_detail(me, batch.pk))


@router.get(
    "/transfers/{int:batch_id}/package",
    summary="下载数据包（zip）",
    description="移交方与接收方都可下载；目录形式保存的数据包在下载时打包为 zip。",
    response={200: None},
)
def download_package(request, batch_id: int):
    return transfer.download_response(_batch(request.auth, batch_id))


def _batch_verb(verb, request, batch_id: int) -> TransferBatch:
    batch = _batch(request.auth, batch_id)
    verb(request.auth, batch)
    return _batch_detail(request.auth, batch.pk)


@router.post("/transfers/{int:batch_id}/send", response=TransferDetailOut, summary="移交（移交检测通过后）")
def send_transfer(request, batch_id: int):
    return _batch_verb(transfer.send_transfer, request, batch_id)


@router.post("/transfers/{int:batch_id}/withdraw", response=TransferDetailOut, summary="撤回尚未移交的批次")
def withdraw_transfer(request, batch_id: int):
    return _batch_verb(transfer.withdraw_transfer, request, batch_id)


@router.post(
    "/transfers/{int:batch_id}/check",
    response=CheckReportOut,
    summary="接收检测（四性检测，接收方）",
    description="接收方对收到的数据包做四性检测；通过后才能接收。",
)
def check_transfer(request, batch_id: int):
    run = transfer.check_receipt(request.auth, _batch(request.auth, batch_id))
    return _run(run.pk)


@router.post(
    "/transfers/{int:batch_id}/accept",
    response=TransferDetailOut,
    summary="接收（接收检测通过后，条目进入本单位馆藏）",
)
def accept_transfer(request, batch_id: int):
    return _batch_verb(transfer.accept_transfer, request, batch_id)


@router.post(
    "/transfers/{int:batch_id}/return", response=TransferDetailOut, summary="退回移交批次（说明原因）"
)
def return_transfer(request, batch_id: int, payload: ReturnIn):
    batch = _batch(request.auth, batch_id)
    transfer.return_transfer(request.auth, batch, reason=payload.reason)
    return _batch_detail(request.auth, batch.pk)


# --- 利用 ----------------------------------------------------------------------------------------


def _requests(user):
    return UseRequest.objects.visible_to(user).select_related("fonds")


def _use_detail(user, pk: int) -> UseRequest:
    req = get_visible(UseRequest.objects.select_related("fonds", "holder"), user, pk)
    req.is_leader = use.is_archives_leader(user, req.holder)
    return req


@router.get("/use", response=list[UseRequestOut], summary="利用登记（利用申请，最新在前）")
@paginate(Pagination)
def list_use(request, filters: Query[UseFilters]):
    qs = _requests(request.auth)
    if filters.fonds is not None:
        qs = qs.filter(fonds_id=filters.fonds)
    if filters.waiting:
        qs = use.waiting(qs)
    return qs.order_by("-created_at", "-pk")


@router.get("/use/{int:request_id}", response=UseDetailOut, summary="利用申请详情（逐件审批状态）")
def get_use(request, request_id: int):
    return _use_detail(request.auth, request_id)


@router.post(
    "/use",
    response={201: UseDetailOut},
    summary="窗口利用登记（按开放标识与密级逐件审批）",
    description="与界面“窗口利用登记”相同：开放档案自动批准；控制使用（划控）或待定的档案等待档案部门领导审批；"
    "涉密（秘密、机密）、未归档或已销毁的档案不予提供，整张利用单不保存。",
)
def create_use(request, payload: UseIn):
    me = request.auth
    # an archives provides the fonds it received (Custody) as well as its own
    fonds = use.fonds_for_use(me, VIEW).select_related("unit").filter(pk=payload.fonds_id).first()
    if fonds is None:
        raise ActionError(f"所选全宗（编号 {payload.fonds_id}）不存在或不在您的数据范围内。")
    codes = [c.strip() for c in payload.archival_codes if c.strip()]
    req = use.register_use(
        me,
        fonds=fonds,
        reader_name=payload.reader_name,
        purpose=payload.purpose,
        phone=payload.phone,
        organization=payload.organization,
        description=payload.description,
        items=use.items_by_code(me, fonds, codes),
    )
    return Status(201, _use_detail(me, req.pk))


@router.post(
    "/use/lines/{int:line_id}/decision",
    response=UseDetailOut,
    summary="审批控制使用的档案（档案部门领导）",
    description="批准或不予提供（须填写意见）；只有领导角色、数据范围包含该全宗的账户可以审批。",
)
def decide_use(request, line_id: int, payload: DecisionIn):
    me = request.auth
    line = get_visible(UseLine.objects.select_related("request__fonds__unit", "item"), me, line_id)
    use.decide_line(me, line, approve=payload.approve, reason=payload.reason)
    return _use_detail(me, line.request_id)


@router.post(
    "/use/lines/{int:line_id}/certificate",
    response={201: CertificateOut},
    summary="出具档案利用证明（已批准的条目）",
    description="与界面“出具证明”相同：生成 PDF 并保存其 SHA-256，返回验证码；只能为已批准、仍在归档状态的条目出具。",
)
def issue_certificate(request, line_id: int):
    me = request.auth
    line = get_visible(UseLine.objects.select_related("request__fonds__unit", "item"), me, line_id)
    return Status(201, use.issue_certificate(me, line))


@router.get(
    "/use/certificates/{int:cert_id}/pdf",
    summary="下载档案利用证明 PDF",
    response={200: None},
)
def certificate_pdf(request, cert_id: int):
    return use.certificate_response(get_visible(Certificate.objects.all(), request.auth, cert_id))


# --- 馆藏统计 -------------------------------------------------------------------------------------


class HoldingsFilters(Schema):
    year: int | None = Field(None, ge=1900, le=2100, description="统计年度（本年归档、本年利用）；默认今年")


@router.get("/holdings", response=HoldingsOut, summary="馆藏统计（年报口径，数据范围内）")
def get_holdings(request, filters: Query[HoldingsFilters]):
    year = filters.year or timezone.localdate().year
    report = holdings.annual_report(request.auth, year)

    def row(r: dict) -> dict:
        return {
            **r,
            "fonds_code": r.get("fonds__code", "合计"),
            "fonds_name": r.get("fonds__name", ""),
            "fonds_id": r.get("fonds_id"),
        }

    return {
        "year": year,
        "fonds_count": report["fonds_count"],
        "rows": [row(r) for r in report["rows"]],
        "total": row(report["total"]),
        "by_category": [
            {"key": r["category__code"], "label": r["category__name"], "n": r["n"]}
            for r in report["by_category"]
        ],
        "by_year": [
            {"key": str(r["year"]), "label": f"{r['year']}年", "n": r["n"]} for r in report["by_year"]
        ],
        "by_retention": [
            {"key": code, "label": r["retention"], "n": r["n"]}
            for r in report["by_retention"]
            for code in [next(v for v, lb in Retention.choices if lb == r["retention"])]
        ],
    }


# --- print jobs (归档文件目录 / 归档章 PDF, background) -----------------------------------------------


class PrintJobIn(Schema):
    kind: Literal["catalogue", "stamps"] = Field(..., description="catalogue 归档文件目录、stamps 归档章")
    year: int = Field(..., description="年度")
    retention: Retention = Field(..., description="保管期限")
    category: str = Field("", max_length=10, description="门类代码（留空为全部门类）")


@router.post(
    "/fonds/{int:fonds_id}/print-jobs",
    response={201: JobOut},
    summary="后台生成归档文件目录或归档章（PDF）",
    description="与界面“后台生成”调用同一动作：按全宗·年度·保管期限（·门类）选取条目，由后台生成 PDF；"
    "超过一次生成的上限时拒绝。用 GET /api/jobs/{id} 查看进度，完成后从 /api/jobs/{id}/file 下载。",
)
def start_print_job(request, fonds_id: int, payload: PrintJobIn):
    fonds = get_visible(_fonds(request.auth), request.auth, fonds_id)
    job = printing.start_print_job(
        request.auth, fonds, payload.kind, year=payload.year, retention=payload.retention, category=payload.category
    )
    return Status(201, job)
