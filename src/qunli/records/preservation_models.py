"""Preservation of the holdings: fixity runs and their per-item events, the state of each
stored object (last check, off-site copy), retention appraisal and destruction batches with
their 销毁清册. Imported at the end of ``records.models`` so Django finds the models there."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from qunli.core.scoping import EitherScopeQuerySet, ScopedQuerySet, ScopeSpec

from .access_models import KEEPER_SCOPE
from .models import Fonds, Item, ItemFile, Retention


class KeptEventQuerySet(EitherScopeQuerySet):
    """A preservation event is seen through its item's fonds and, after a transfer, by the
    archives keeping the item — whose fixity problems they are to settle."""

    also = KEEPER_SCOPE


class DestructionQuerySet(EitherScopeQuerySet):
    """A 销毁清册 is seen through its fonds and by the unit keeping its items (an archives
    destroys what it holds after a transfer; the fonds stays the sender's)."""

    also = ScopeSpec(unit="holder", line="holder__line")


class FixityRun(models.Model):
    """One pass of ``qunli records fixity`` over (part of) the content-addressed storage.
    Counts only: what went wrong is in the run's ``PreservationEvent`` rows (scoped)."""

    class Status(models.TextChoices):
        RUNNING = "running", "进行中"
        DONE = "done", "已完成"
        FAILED = "failed", "中断"

    scope_label = models.CharField("范围", max_length=20)  # 全部 / 到期
    fonds = models.ForeignKey(Fonds, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name="全宗")
    started_at = models.DateTimeField("开始时间", default=timezone.now)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    status = models.CharField("状态", max_length=8, choices=Status.choices, default=Status.RUNNING)
    objects_checked = models.PositiveIntegerField("检查对象数", default=0)
    bytes_checked = models.PositiveBigIntegerField("检查字节数", default=0)
    ok_count = models.PositiveIntegerField("一致", default=0)
    mismatch_count = models.PositiveIntegerField("摘要不符", default=0)
    missing_count = models.PositiveIntegerField("文件缺失", default=0)
    seconds = models.FloatField("耗时（秒）", default=0)

    class Meta:
        ordering = ["-id"]
        verbose_name = "固定性检查"
        verbose_name_plural = "固定性检查"

    def __str__(self):
        return f"固定性检查 #{self.pk}（{self.scope_label}）"

    @property
    def problems(self) -> int:
        return self.mismatch_count + self.missing_count


class StoredObject(models.Model):
    """The preservation state of one stored object (``files/<sm3[:2]>/<sm3>``), shared by every
    ItemFile with the same content: when it was last checked and with what outcome, and when
    the off-site copy was last written and verified."""

    storage_name = models.CharField("存储位置", max_length=100, unique=True)
    checked_at = models.DateTimeField("上次检查", null=True, blank=True)
    check_ok = models.BooleanField("上次检查一致", null=True)
    offsite_at = models.DateTimeField("异地复制时间", null=True, blank=True)
    offsite_verified_at = models.DateTimeField("异地核验时间", null=True, blank=True)

    class Meta:
        verbose_name = "存储对象"
        verbose_name_plural = "存储对象"
        indexes = [models.Index(fields=["checked_at"], name="storedobject_checked")]


class PreservationEvent(models.Model):
    """One preservation event of an item (PREMIS-style): a fixity check, an off-site copy,
    verification or restore, a destruction."""

    class Kind(models.TextChoices):
        FIXITY = "fixity", "固定性检查"
        OFFSITE_SYNC = "offsite_sync", "异地复制"
        OFFSITE_VERIFY = "offsite_verify", "异地核验"
        RESTORE = "restore", "从异地恢复"
        DESTRUCTION = "destruction", "销毁"

    class Outcome(models.TextChoices):
        OK = "ok", "正常"
        MISMATCH = "mismatch", "摘要不符"
        MISSING = "missing", "文件缺失"
        FAILED = "failed", "失败"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="preservation_events",
                             verbose_name="条目")
    item_file = models.ForeignKey(ItemFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                  verbose_name="电子文件")
    run = models.ForeignKey(FixityRun, null=True, blank=True, on_delete=models.CASCADE, related_name="events",
                            verbose_name="检查批次")
    kind = models.CharField("事件", max_length=16, choices=Kind.choices)
    outcome = models.CharField("结果", max_length=10, choices=Outcome.choices)
    storage_name = models.CharField("存储位置", max_length=100, blank=True)
    detail = models.CharField("说明", max_length=300, blank=True)
    at = models.DateTimeField("时间", default=timezone.now)

    scope = ScopeSpec(unit="item__fonds__unit", line="item__fonds__unit__line")
    objects = KeptEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "保管事件"
        verbose_name_plural = "保管事件"
        indexes = [models.Index(fields=["outcome", "kind"], name="presevent_outcome_kind")]

    def __str__(self):
        return f"{self.get_kind_display()}：{self.get_outcome_display()}"


class Appraisal(models.Model):
    """A retention appraisal (到期鉴定) of an expired item: keep it for a new period, or destroy.
    The latest appraisal of an item is the one in force."""

    class Decision(models.TextChoices):
        KEEP = "keep", "继续保存"
        DESTROY = "destroy", "拟销毁"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="appraisals", verbose_name="条目")
    decision = models.CharField("鉴定意见", max_length=8, choices=Decision.choices)
    new_retention = models.CharField("新保管期限", max_length=3, choices=Retention.choices, blank=True)
    review_year = models.PositiveSmallIntegerField("下次鉴定年度", null=True, blank=True)
    reason = models.CharField("理由", max_length=300)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name="鉴定人")
    decided_at = models.DateTimeField("鉴定时间", default=timezone.now)

    scope = ScopeSpec(unit="item__fonds__unit", line="item__fonds__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "到期鉴定"
        verbose_name_plural = "到期鉴定"

    def __str__(self):
        return f"{self.get_decision_display()}：{self.reason}"


class DestructionBatch(models.Model):
    """A destruction batch of one fonds with its 销毁清册: proposed by staff, approved (or
    rejected) by a leader who is not the proposer, then executed."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "待审批"
        APPROVED = "approved", "已批准"
        REJECTED = "rejected", "已驳回"
        EXECUTED = "executed", "已销毁"

    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="destruction_batches",
                              verbose_name="全宗")
    # who keeps the items: the fonds' unit, or the archives that accepted them in a transfer
    holder = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="保管单位")
    title = models.CharField("清册名称", max_length=100)
    reason = models.CharField("销毁理由", max_length=300)
    status = models.CharField("状态", max_length=8, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name="提出人")
    proposed_at = models.DateTimeField("提出时间", default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="审批人")
    decided_at = models.DateTimeField("审批时间", null=True, blank=True)
    decision_note = models.CharField("审批意见", max_length=300, blank=True)
    executed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name="执行人")
    executed_at = models.DateTimeField("销毁时间", null=True, blank=True)

    scope = ScopeSpec(unit="fonds__unit", line="fonds__unit__line")
    objects = DestructionQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "销毁清册"
        verbose_name_plural = "销毁清册"

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("records:destruction_detail", args=[self.pk])


class DestructionEntry(models.Model):
    """One item of a 销毁清册, with what its files were (kept after the bytes are gone)."""

    batch = models.ForeignKey(DestructionBatch, on_delete=models.CASCADE, related_name="entries",
                              verbose_name="销毁清册")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="destruction_entries",
                             verbose_name="条目")
    appraisal = models.ForeignKey(Appraisal, on_delete=models.PROTECT, related_name="+", verbose_name="鉴定")
    files = models.JSONField("电子文件", default=list, blank=True)

    scope = ScopeSpec(unit="batch__fonds__unit", line="batch__fonds__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["batch", "id"]
        constraints = [models.UniqueConstraint(fields=["batch", "item"], name="destruction_entry_uniq")]
        verbose_name = "销毁条目"
        verbose_name_plural = "销毁条目"

    def __str__(self):
        return str(self.item)
