"""Models of 四性检测 runs and of transfer (移交/接收): ``CheckRun`` (one run of the DA/T 70
check engine with its per-item results), ``TransferBatch`` (a batch sent by a unit's records
office to an archives, online or as an offline package), ``TransferItem`` (its members) and
``Custody`` (which unit holds an item after a transfer was accepted: the receiver's 馆藏).

A batch is seen by both sides: the sender through ``sender_unit`` (its ``scope``) and the
receiver through ``receiver`` (``RECEIVER_SCOPE``); ``visible_to`` is the OR of the two."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from qunli.core.scoping import VIEW, EitherScopeQuerySet, ScopedQuerySet, ScopeSpec, scope_q


class CheckRunQuerySet(ScopedQuerySet):
    def visible_to(self, user, action: str = VIEW):
        """A run is seen by its unit, and — for a transfer's runs — by both sides of the batch
        (the sender reads the receiver's report of a returned batch)."""
        own = scope_q(self.model.scope, user, action)
        batches = TransferBatch.objects.visible_to(user, action).values("pk")
        q = models.Q(batch__in=batches) if own is None else own | models.Q(batch__in=batches)
        return self.filter(q)


class CheckRun(models.Model):
    class Phase(models.TextChoices):
        FILING = "filing", "归档"
        TRANSFER = "transfer", "移交"
        RECEIPT = "receipt", "接收"
        STORAGE = "storage", "长期保存"

    phase = models.CharField("检测环节", max_length=10, choices=Phase.choices)
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="单位")
    fonds = models.ForeignKey("records.Fonds", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name="全宗")
    batch = models.ForeignKey("records.TransferBatch", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="check_runs", verbose_name="移交批次")
    subject = models.CharField("检测对象", max_length=200)
    started_at = models.DateTimeField("开始时间", default=timezone.now)
    seconds = models.FloatField("耗时（秒）", default=0)
    item_count = models.PositiveIntegerField("件数", default=0)
    file_count = models.PositiveIntegerField("文件数", default=0)
    total_bytes = models.PositiveBigIntegerField("字节数", default=0)
    passed = models.BooleanField("通过", default=False)
    failed_items = models.PositiveSmallIntegerField("不通过项", default=0)
    warning_items = models.PositiveSmallIntegerField("警告项", default=0)
    not_performed_items = models.PositiveSmallIntegerField("未执行项", default=0)
    results = models.JSONField("检测结果", default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = CheckRunQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "四性检测"
        verbose_name_plural = "四性检测"

    def __str__(self):
        return f"四性检测（{self.get_phase_display()}）{self.subject}"

    def get_absolute_url(self):
        return reverse("records:check_run", args=[self.pk])

    @property
    def verdict(self) -> str:
        """“通过”, “不通过”, or with the items not performed named: “通过（1 项未执行：病毒检测）”."""
        from .checks import verdict

        if not self.not_performed_items:  # the common case needs no look at the results
            return "通过" if self.passed else "不通过"
        return verdict(self.passed, self.results)


RECEIVER_SCOPE = ScopeSpec(unit="receiver", line="receiver__line")


class TransferQuerySet(EitherScopeQuerySet):
    also = RECEIVER_SCOPE


class TransferBatch(models.Model):
    class Status(models.TextChoices):
        PREPARED = "prepared", "已组包"
        SENT = "sent", "待接收"
        ACCEPTED = "accepted", "已接收"
        RETURNED = "returned", "已退回"
        WITHDRAWN = "withdrawn", "已撤回"

    class Mode(models.TextChoices):
        ONLINE = "online", "在线移交"
        OFFLINE = "offline", "离线接收"

    number = models.CharField("批次号", max_length=40, unique=True)
    title = models.CharField("批次名称", max_length=200)
    mode = models.CharField("方式", max_length=8, choices=Mode.choices, default=Mode.ONLINE)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PREPARED)
    fonds = models.ForeignKey("records.Fonds", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                              verbose_name="全宗")
    fonds_code = models.CharField("全宗号", max_length=20)
    fonds_name = models.CharField("全宗名称", max_length=100, blank=True)
    sender_unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="移交单位")
    sender_name = models.CharField("移交单位名称", max_length=100)
    receiver = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="接收单位")
    item_count = models.PositiveIntegerField("件数", default=0)
    file_count = models.PositiveIntegerField("文件数", default=0)
    total_bytes = models.PositiveBigIntegerField("字节数", default=0)
    package_name = models.CharField("数据包", max_length=200, blank=True)
    package_size = models.PositiveBigIntegerField("数据包大小", default=0)
    package_sm3 = models.CharField("数据包 SM3", max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("组包时间", default=timezone.now)
    sent_at = models.DateTimeField("移交时间", null=True, blank=True)
    decided_at = models.DateTimeField("处理时间", null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    return_reason = models.TextField("退回原因", blank=True)

    scope = ScopeSpec(unit="sender_unit", line="sender_unit__line")
    objects = TransferQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "移交批次"
        verbose_name_plural = "移交批次"

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("records:transfer_detail", args=[self.pk])


class TransferItem(models.Model):
    """An item of a batch (online: the sender's item; offline: the item created on acceptance)."""

    batch = models.ForeignKey(TransferBatch, on_delete=models.CASCADE, related_name="members")
    item = models.ForeignKey("records.Item", null=True, on_delete=models.PROTECT, related_name="transfers")
    archival_code = models.CharField("档号", max_length=60)

    class Meta:
        ordering = ["batch", "archival_code"]
        constraints = [models.UniqueConstraint(fields=["batch", "archival_code"], name="transfer_item_code_uniq")]


class Custody(models.Model):
    """Who holds an item since an accepted transfer (馆藏). The item keeps its fonds (全宗 and
    档号 do not change on transfer); the receiver sees it in its holdings through this row."""

    item = models.OneToOneField("records.Item", on_delete=models.CASCADE, related_name="custody")
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="保管单位")
    batch = models.ForeignKey(TransferBatch, on_delete=models.PROTECT, related_name="+", verbose_name="接收批次")
    since = models.DateTimeField("接收时间", default=timezone.now)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "馆藏保管"
        verbose_name_plural = "馆藏保管"

    def __str__(self):
        return f"{self.item} → {self.unit}"
