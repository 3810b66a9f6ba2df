"""Staff notifications: the in-app inbox (``Notification``), where a staff member may also be
reached outside the platform (``NotifyContact``: a mobile number for SMS, a WeChat openid for
template messages), and the outbound log (``OutboundMessage``: every SMS / WeChat message or
logged stand-in, with its delivery status). The service functions are in ``core.notifications``
and the transports in ``core.notify_backends``."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class NotificationKind(models.TextChoices):
    ASSIGNED = "assigned", "新分派个案"
    DUE_SOON = "due_soon", "个案即将到期"
    OVERDUE = "overdue", "个案已超期"
    ESCALATED = "escalated", "超期个案上报督导"
    REFERRAL_RECEIVED = "referral_received", "收到转办/转介"
    REFERRAL_ACCEPTED = "referral_accepted", "转办/转介已接收"
    REFERRAL_DECLINED = "referral_declined", "转办/转介被拒收"
    REFERRAL_WITHDRAWN = "referral_withdrawn", "转办/转介已撤回"
    PLAN_SUBMITTED = "plan_submitted", "服务计划待审批"
    PLAN_APPROVED = "plan_approved", "服务计划已批准"
    PLAN_RETURNED = "plan_returned", "服务计划被退回"
    NEW_REQUEST = "new_request", "新诉求待分派"
    WISH_CLAIMED = "wish_claimed", "心愿已被认领"
    TRANSFER_SENT = "transfer_sent", "收到档案移交"
    TRANSFER_RETURNED = "transfer_returned", "档案移交被退回"
    TRANSFER_ACCEPTED = "transfer_accepted", "档案移交已接收"
    USE_PENDING = "use_pending", "档案利用待审批"
    DESTRUCTION_PENDING = "destruction_pending", "销毁清册待审批"
    DESTRUCTION_DECIDED = "destruction_decided", "销毁清册已审批"


class Notification(models.Model):
    """One message in one staff member's inbox. ``title`` never carries sensitive personal
    data (a tracking code and a type name at most); the link leads to the object, whose own
    page applies scoping and need-to-know again. ``dedupe_key`` makes repeated emits (the
    due-date sweep running twice) insert nothing new. ``dispatched_at`` is set when the
    outbound task claims the row (``core.notifications.dispatch_outbound``): a row is handed
    to the SMS / WeChat backends once, however often its task runs."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                                  verbose_name="接收人")
    kind = models.CharField("类型", max_length=24, choices=NotificationKind.choices)
    title = models.CharField("内容", max_length=200)
    url = models.CharField("链接", max_length=300, blank=True)
    obj_type = models.CharField(max_length=60, blank=True)
    obj_id = models.CharField(max_length=40, blank=True)
    dedupe_key = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField("时间", default=timezone.now)
    read_at = models.DateTimeField("已读时间", null=True, blank=True)
    dispatched_at = models.DateTimeField("外发时间", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "通知"
        verbose_name_plural = "通知"
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notif_recipient_created"),
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notif_unread"),
            models.Index(fields=["dedupe_key", "kind"], condition=~Q(dedupe_key=""), name="notif_dedupe_key"),
        ]
        constraints = [models.UniqueConstraint(fields=["recipient", "kind", "dedupe_key"],
                                               condition=~Q(dedupe_key=""), name="notif_dedupe")]

    def __str__(self):
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotifyContact(models.Model):
    """How a staff member is reached outside the platform; set by the member themself. The
    mobile number is sealed (ciphertext + mask)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_contact")
    phone_enc = models.TextField(blank=True, default="")
    phone_mask = models.CharField("手机号码", max_length=20, blank=True, default="")
    wechat_openid = models.CharField("微信OpenID", max_length=64, blank=True, default="")
    sms_enabled = models.BooleanField("接收短信", default=False)
    wechat_enabled = models.BooleanField("接收微信模板消息", default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "通知联系方式"
        verbose_name_plural = "通知联系方式"


class OutboundMessage(models.Model):
    """One message handed to a backend (or only logged). The address is sealed; lists show
    its mask. The text is generic ("您有新的个案分派，请登录群力查看"): no case data leaves
    the platform by SMS or WeChat."""

    class Channel(models.TextChoices):
        LOG = "log", "仅记录"
        SMS = "sms", "短信"
        WECHAT = "wechat", "微信模板消息"

    class Status(models.TextChoices):
        LOGGED = "logged", "已记录（未发送）"
        SENT = "sent", "已发送"
        FAILED = "failed", "发送失败"

    channel = models.CharField("渠道", max_length=8, choices=Channel.choices)
    backend = models.CharField("发送通道", max_length=40)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                                  verbose_name="接收人")
    notification = models.ForeignKey(Notification, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="outbound", verbose_name="通知")
    to_enc = models.TextField(blank=True, default="")
    to_mask = models.CharField("接收号码", max_length=40, blank=True, default="")
    kind = models.CharField("类型", max_length=24, choices=NotificationKind.choices)
    text = models.CharField("内容", max_length=300)
    status = models.CharField("状态", max_length=8, choices=Status.choices)
    error = models.CharField("错误", max_length=300, blank=True)
    provider_ref = models.CharField("回执编号", max_length=100, blank=True)
    created_at = models.DateTimeField("时间", default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "外发消息"
        verbose_name_plural = "外发消息"
