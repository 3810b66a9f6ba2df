"""Archival holdings: fonds (全宗) per unit, categories (门类), organization/problem codes,
versioned retention schedules (归档范围和保管期限表), items (件) described per DA/T 18 and
filed per DA/T 22, and their files (content-addressed, SM3 + SHA-256 computed once).

An item is captured *pending* (前端控制: the moment its business record is created) and gets
its 件号 and 档号 only when filed (``records.actions.file_items``); ``FilingCounter`` holds the
last 件号 of each class and is locked while a batch is numbered, so 件号 stay gapless."""

import datetime as dt

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from qunli.core.scoping import ScopedQuerySet, ScopeSpec

from .public import ItemQuerySet


class Retention(models.TextChoices):
    PERMANENT = "Y", "永久"
    D30 = "D30", "定期30年"
    D10 = "D10", "定期10年"


class Classification(models.TextChoices):
    PUBLIC = "public", "公开"
    INTERNAL = "internal", "内部"
    SECRET = "secret", "秘密"
    CONFIDENTIAL = "confidential", "机密"


class Openness(models.TextChoices):
    OPEN = "open", "开放"
    CONTROLLED = "controlled", "控制"
    PENDING = "pending", "待定"


class Category(models.Model):
    """门类 (configuration shared by every fonds)."""

    code = models.CharField("门类代码", max_length=10, unique=True)
    name = models.CharField("名称", max_length=20)
    order = models.PositiveSmallIntegerField("排序", default=100)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = "门类"
        verbose_name_plural = "门类"

    def __str__(self):
        return f"{self.name}（{self.code}）"


class Fonds(models.Model):
    code = models.CharField("全宗号", max_length=20, unique=True)
    name = models.CharField("全宗名称", max_length=100)
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="fonds", verbose_name="立档单位")
    created_at = models.DateTimeField(default=timezone.now)
    # 档号 format of future filings (records.numbering); existing codes change only by renumbering
    code_format = models.CharField("档号格式", max_length=120,
                                   default="{全宗号}-{门类代码}·{年度}-{保管期限}-{机构代码}-{件号}")
    piece_digits = models.PositiveSmallIntegerField("件号位数", default=4)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = "全宗"
        verbose_name_plural = "全宗"

    def __str__(self):
        return f"{self.code} {self.name}"

    def get_absolute_url(self):
        return reverse("records:fonds_detail", args=[self.pk])


class OrgCode(models.Model):
    """机构（问题）代码 of a fonds, e.g. BGS 办公室."""

    fonds = models.ForeignKey(Fonds, on_delete=models.CASCADE, related_name="org_codes", verbose_name="全宗")
    code = models.CharField("机构（问题）代码", max_length=10)
    name = models.CharField("名称", max_length=40)

    scope = ScopeSpec(unit="fonds__unit", line="fonds__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["fonds", "code"]
        constraints = [models.UniqueConstraint(fields=["fonds", "code"], name="orgcode_fonds_code_uniq")]
        verbose_name = "机构（问题）代码"
        verbose_name_plural = "机构（问题）代码"

    def __str__(self):
        return f"{self.code} {self.name}"


class RetentionSchedule(models.Model):
    """One version of a unit's 归档范围和保管期限表; the current one is the latest version
    whose effective date has come."""

    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="retention_schedules",
                             verbose_name="单位")
    version = models.PositiveSmallIntegerField("版本")
    effective_on = models.DateField("生效日期")
    note = models.CharField("说明", max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["unit", "-version"]
        constraints = [models.UniqueConstraint(fields=["unit", "version"], name="schedule_unit_version_uniq")]
        verbose_name = "保管期限表"
        verbose_name_plural = "保管期限表"

    def __str__(self):
        return f"{self.unit} 保管期限表 第{self.version}版"

    def retention_for(self, record_type: str) -> str | None:
        for rule in self.rules.all():
            if rule.record_type == record_type:
                return rule.retention
        return None


class RetentionRule(models.Model):
    schedule = models.ForeignKey(RetentionSchedule, on_delete=models.CASCADE, related_name="rules",
                                 verbose_name="保管期限表")
    record_type = models.CharField("文件类型", max_length=60)
    retention = models.CharField("保管期限", max_length=3, choices=Retention.choices)

    scope = ScopeSpec(unit="schedule__unit", line="schedule__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["schedule", "id"]
        constraints = [models.UniqueConstraint(fields=["schedule", "record_type"], name="rule_schedule_type_uniq")]
        verbose_name = "保管期限规则"
        verbose_name_plural = "保管期限规则"

    def __str__(self):
        return f"{self.record_type} → {self.get_retention_display()}"


class Item(models.Model):
    """An archival item (件)."""

    class Status(models.TextChoices):
        PENDING = "pending", "待归档"
        FILED = "filed", "已归档"
        DISPOSED = "disposed", "已销毁"  # destroyed after appraisal; the entry stays (records.destruction)

    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="items", verbose_name="全宗")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+", verbose_name="门类")
    year = models.PositiveSmallIntegerField("年度")
    retention = models.CharField("保管期限", max_length=3, choices=Retention.choices, blank=True)
    org_code = models.ForeignKey(OrgCode, null=True, blank=True, on_delete=models.PROTECT, related_name="items",
                                 verbose_name="机构（问题）")
    piece_no = models.PositiveIntegerField("件号", null=True, blank=True)
    archival_code = models.CharField("档号", max_length=60, null=True, blank=True, unique=True)
    title = models.CharField("题名", max_length=300, blank=True)
    responsible = models.CharField("责任者", max_length=100, blank=True)
    date = models.DateField("日期", null=True, blank=True)
    doc_no = models.CharField("文件编号", max_length=60, blank=True)
    classification = models.CharField("密级", max_length=12, choices=Classification.choices,
                                      default=Classification.INTERNAL)
    openness = models.CharField("开放标识", max_length=12, choices=Openness.choices, default=Openness.PENDING)
    pages = models.PositiveIntegerField("页数", null=True, blank=True)
    note = models.CharField("备注", max_length=200, blank=True)
    status = models.CharField("状态", max_length=8, choices=Status.choices, default=Status.PENDING)
    source_type = models.CharField("来源类型", max_length=60, blank=True)
    source_id = models.CharField("来源编号", max_length=40, blank=True)
    source_repr = models.CharField("来源", max_length=200, blank=True)
    captured_at = models.DateTimeField("登记时间", default=timezone.now)
    filed_at = models.DateTimeField("归档时间", null=True, blank=True)
    filing_batch = models.CharField("归档批次", max_length=32, blank=True)
    volume = models.ForeignKey("records.Volume", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="items", verbose_name="案卷")
    scanned_pages = models.PositiveIntegerField("已数字化页数", default=0)

    scope = ScopeSpec(unit="fonds__unit", line="fonds__unit__line")
    objects = ItemQuerySet.as_manager()  # visible_to() for staff, public() for every public path

    class Meta:
        ordering = ["-id"]
        verbose_name = "档案条目"
        verbose_name_plural = "档案条目"
        indexes = [
            models.Index(fields=["fonds", "status", "year"], name="item_fonds_status_year"),
            models.Index(fields=["fonds", "year", "retention", "piece_no"], name="item_catalogue"),
            # the public catalogue (records/public.py): a covering index for public_q() [+ year]; not
            # a partial index — SQLite cannot match one against Django's bound parameters
            models.Index(fields=["status", "openness", "year", "classification"], name="item_public"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status="pending") | Q(piece_no__isnull=False, archival_code__isnull=False),
                                   name="item_filed_has_code"),
        ]

    def __str__(self):
        return self.archival_code or f"（待归档）{self.title}"

    def get_absolute_url(self):
        return reverse("records:item_detail", args=[self.pk])

    @property
    def is_filed(self) -> bool:
        return self.status == self.Status.FILED


class ItemFile(models.Model):
    """A file of an item, stored once under ``files/<sm3[:2]>/<sm3>`` of the default storage.

    ``origin`` is DA/T 46's 生成方式: a scan of the paper original (数字化副本), whose pages
    are the item's digitization progress, or a born-digital original (原生电子文件: a document
    written on a computer, a digital photo, a recording), which needs no scanning and is
    counted as 电子档案, not as digitized paper."""

    class Origin(models.TextChoices):
        SCAN = "scan", "数字化副本"
        BORN_DIGITAL = "born_digital", "原生电子文件"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="files", verbose_name="条目")
    name = models.CharField("文件名", max_length=200)
    origin = models.CharField("生成方式", max_length=12, choices=Origin.choices, default=Origin.SCAN)
    size = models.PositiveBigIntegerField("大小（字节）")
    mime = models.CharField("类型", max_length=100)
    sm3 = models.CharField("SM3", max_length=64, db_index=True)
    sha256 = models.CharField("SHA-256", max_length=64)
    storage_name = models.CharField("存储位置", max_length=100)
    added_at = models.DateTimeField(default=timezone.now)

    scope = ScopeSpec(unit="item__fonds__unit", line="item__fonds__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["item", "id"]
        verbose_name = "电子文件"
        verbose_name_plural = "电子文件"

    def __str__(self):
        return self.name


class FilingCounter(models.Model):
    """The last 件号 given in one class (fonds, 门类, 年度, 保管期限, 机构代码). Locked with
    SELECT … FOR UPDATE while a batch is numbered (IMMEDIATE transactions on SQLite), so two
    filers never take the same number and no number is skipped. Not a page of its own."""

    fonds = models.ForeignKey(Fonds, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    retention = models.CharField(max_length=3, choices=Retention.choices)
    org = models.CharField(max_length=10, blank=True)  # the 机构代码, "" when the fonds uses none
    last_no = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fonds", "category", "year", "retention", "org"],
                                               name="filing_counter_class_uniq")]


def item_year(date: dt.date | None) -> int:
    return (date or dt.date.today()).year


# opening (开放鉴定) and use (利用): records/access_models.py
from .access_models import Certificate, OpeningReview, Purpose, ReadingEvent, UseLine, UseRequest  # noqa: E402,F401
from .file_models import FileContent, Volume  # noqa: E402,F401  (案卷 and content-addressed derivatives)
from .gaps import PieceGap  # noqa: E402,F401  缺号说明 (explained gaps in 件号)
from .preservation_models import (  # noqa: E402,F401  (fixity, off-site copy, appraisal, destruction)
    Appraisal,
    DestructionBatch,
    DestructionEntry,
    FixityRun,
    PreservationEvent,
    StoredObject,
)
from .transfer_models import CheckRun, Custody, TransferBatch, TransferItem  # noqa: E402,F401  四性检测 and 移交/接收
