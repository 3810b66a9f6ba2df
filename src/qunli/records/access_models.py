"""Models of opening (开放鉴定) and use (利用): the appraisal-for-opening queue, use requests
with one line per item, reading events and certified copies (出具证明).

Imported by ``records.models`` so Django registers them; the verbs that write them live in
``records.opening`` and ``records.use``."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from qunli.core.scoping import EitherScopeQuerySet, ScopedQuerySet, ScopeSpec

# After an accepted transfer the archives holding an item appraises it for opening (档案馆
# 会同移交单位开放审核): a review is seen through the item's fonds and through its keeper.
KEEPER_SCOPE = ScopeSpec(unit="item__custody__unit", line="item__custody__unit__line")


class OpeningQuerySet(EitherScopeQuerySet):
    also = KEEPER_SCOPE


class OpeningReview(models.Model):
    """One item's appraisal for opening: queued when the item is due (25 years after its
    formation), then decided by the committee. At most one queued review per item."""

    class Decision(models.TextChoices):
        QUEUED = "queued", "待鉴定"
        OPEN = "open", "开放"
        CONTROLLED = "controlled", "控制使用"
        DEFERRED = "deferred", "延期开放"

    item = models.ForeignKey("records.Item", on_delete=models.CASCADE, related_name="opening_reviews",
                             verbose_name="档案条目")
    due_on = models.DateField("应开放日期")
    decision = models.CharField("鉴定结论", max_length=12, choices=Decision.choices, default=Decision.QUEUED)
    reason = models.CharField("理由", max_length=300, blank=True)
    defer_until = models.DateField("延期至", null=True, blank=True)
    batch = models.CharField("鉴定批次", max_length=32, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="鉴定人")
    decided_at = models.DateTimeField("鉴定时间", null=True, blank=True)
    created_at = models.DateTimeField("列入时间", default=timezone.now)

    scope = ScopeSpec(unit="item__fonds__unit", line="item__fonds__unit__line")
    objects = OpeningQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "id"]
        verbose_name = "开放鉴定"
        verbose_name_plural = "开放鉴定"
        constraints = [models.UniqueConstraint(fields=["item"], condition=Q(decision="queued"),
                                               name="opening_one_queued_per_item")]

    def __str__(self):
        return f"开放鉴定：{self.item}"

    def get_absolute_url(self):
        return reverse("records:opening_queue")


class Purpose(models.TextChoices):
    """利用目的; the 民生 purposes first (quick service)."""

    MARRIAGE = "marriage", "婚姻登记"
    LAND = "land", "土地承包"
    SOCIAL = "social_security", "社保"
    ZHIQING = "zhiqing", "知青"
    MODEL_WORKER = "model_worker", "劳模"
    WORK = "work", "工作查考"
    RESEARCH = "research", "学术研究"
    OTHER = "other", "其他"


class UseRequest(models.Model):
    """A use request (利用申请), registered at the desk or submitted online; the 利用登记
    register is the list of these. ``code`` is the reader's 利用单号 (with the phone's last
    four digits it opens the online reading room)."""

    class Channel(models.TextChoices):
        DESK = "desk", "窗口"
        ONLINE = "online", "网上"

    code = models.CharField("利用单号", max_length=16, unique=True)
    fonds = models.ForeignKey("records.Fonds", on_delete=models.PROTECT, related_name="use_requests",
                              verbose_name="全宗")
    # The unit that holds the items and provides them: the fonds' own unit, or — once a transfer
    # was accepted (``Custody``) — the archives that holds them. It scopes the request (the
    # archives registers and sees use of what it holds; the sender no longer does) and it is
    # the 出具单位 on certificates ("本单位保存有下列档案" must be true).
    holder = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="保管单位")
    channel = models.CharField("方式", max_length=8, choices=Channel.choices)
    reader_name = models.CharField("利用者", max_length=50)
    reader_phone_enc = models.TextField(blank=True, default="")
    reader_phone_hash = models.CharField(max_length=32, blank=True, default="", db_index=True)
    reader_phone_mask = models.CharField("联系电话", max_length=20, blank=True, default="")
    organization = models.CharField("工作单位", max_length=100, blank=True)
    purpose = models.CharField("利用目的", max_length=20, choices=Purpose.choices)
    description = models.CharField("需求说明", max_length=500, blank=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                      verbose_name="登记人")
    created_at = models.DateTimeField("登记时间", default=timezone.now, db_index=True)

    scope = ScopeSpec(unit="holder", line="holder__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "利用申请"
        verbose_name_plural = "利用登记"

    def __str__(self):
        return f"利用单 {self.code}"

    def save(self, *args, **kwargs):
        # records.use always names the holder; a row made without one (fixtures, imports) is
        # held by its fonds' unit, as every request was before custody existed
        if self.holder_id is None and self.fonds_id is not None:
            from .models import Fonds

            self.holder_id = Fonds.objects.values_list("unit_id", flat=True).get(pk=self.fonds_id)
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("records:use_detail", args=[self.pk])


class UseLine(models.Model):
    """One item of a use request and its approval: open items are approved on the spot,
    controlled ones wait for an archives leader, secret ones are never provided here."""

    class Status(models.TextChoices):
        PENDING = "pending", "待审批"
        APPROVED = "approved", "已批准"
        REJECTED = "rejected", "不予提供"

    class Rule(models.TextChoices):
        OPEN = "open", "开放档案（自动批准）"
        LEADER = "leader", "未开放档案（须档案部门领导审批）"

    request = models.ForeignKey(UseRequest, on_delete=models.CASCADE, related_name="lines", verbose_name="利用申请")
    item = models.ForeignKey("records.Item", on_delete=models.PROTECT, related_name="use_lines",
                             verbose_name="档案条目")
    rule = models.CharField("审批规则", max_length=8, choices=Rule.choices)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField("审批意见", max_length=300, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name="审批人")
    decided_at = models.DateTimeField("审批时间", null=True, blank=True)
    expires_on = models.DateField("阅览截止", null=True, blank=True)

    scope = ScopeSpec(unit="request__holder", line="request__holder__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["request", "id"]
        verbose_name = "利用条目"
        verbose_name_plural = "利用条目"
        constraints = [models.UniqueConstraint(fields=["request", "item"], name="useline_request_item_uniq")]

    def __str__(self):
        return f"{self.request.code} · {self.item}"

    def get_absolute_url(self):
        return reverse("records:use_detail", args=[self.request_id])


class ReadingEvent(models.Model):
    """One page shown to a reader (with the watermark it carried)."""

    line = models.ForeignKey(UseLine, on_delete=models.CASCADE, related_name="readings", verbose_name="利用条目")
    page = models.PositiveIntegerField("页码")
    reader_name = models.CharField("阅览人", max_length=50)
    watermark = models.CharField("水印", max_length=200)
    ip_hash = models.CharField(max_length=32, blank=True)
    at = models.DateTimeField("阅览时间", default=timezone.now, db_index=True)

    scope = ScopeSpec(unit="line__request__holder", line="line__request__holder__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "阅览记录"
        verbose_name_plural = "阅览记录"

    def __str__(self):
        return f"{self.reader_name} 阅览第{self.page}页"


class Certificate(models.Model):
    """A certified copy / 档案利用证明 issued for an approved line: a PDF stored once, its
    SHA-256, and a verification code anyone can check on the portal."""

    code = models.CharField("验证码", max_length=20, unique=True)
    line = models.ForeignKey(UseLine, on_delete=models.PROTECT, related_name="certificates", verbose_name="利用条目")
    archival_code = models.CharField("档号", max_length=60)
    reader_mask = models.CharField("利用者", max_length=20)
    unit_name = models.CharField("出具单位", max_length=100)
    storage_name = models.CharField("存储位置", max_length=100)
    sha256 = models.CharField("SHA-256", max_length=64)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name="出具人")
    issued_at = models.DateTimeField("出具时间", default=timezone.now)

    scope = ScopeSpec(unit="line__request__holder", line="line__request__holder__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = "利用证明"
        verbose_name_plural = "利用证明"

    def __str__(self):
        return f"利用证明 {self.code}"

    def get_absolute_url(self):
        return reverse("records:use_detail", args=[self.line.request_id])
