"""Accounts (三员分立), grants, and the append-only audit trails."""

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A person who signs in. ``kind`` separates the three administrators (三员分立) from
    business users, whose reach comes only from their grants."""

    class Kind(models.TextChoices):
        BUSINESS = "business", "业务用户"
        SYSADMIN = "sysadmin", "系统管理员"
        SECADMIN = "secadmin", "安全管理员"
        AUDITOR = "auditor", "安全审计员"

    kind = models.CharField("账户类型", max_length=16, choices=Kind.choices, default=Kind.BUSINESS)
    display_name = models.CharField("姓名", max_length=50, blank=True)
    must_change_password = models.BooleanField("首次登录须改密", default=True)
    password_changed_at = models.DateTimeField("密码修改时间", null=True, blank=True)
    # Unread inbox messages, kept equal to the COUNT by ``core.notifications`` in the same
    # transaction as the rows it counts: the bell in the shell costs no query.
    unread_notifications = models.PositiveIntegerField("未读通知", default=0)

    objects = UserManager()

    class Meta:
        verbose_name = "账户"
        verbose_name_plural = "账户"

    def __str__(self):
        return self.display_name or self.username

    @property
    def is_business(self) -> bool:
        return self.kind == self.Kind.BUSINESS

    @property
    def is_sysadmin(self) -> bool:
        return self.kind == self.Kind.SYSADMIN

    @property
    def is_secadmin(self) -> bool:
        return self.kind == self.Kind.SECADMIN

    @property
    def is_auditor(self) -> bool:
        return self.kind == self.Kind.AUDITOR


class Grant(models.Model):
    """Role × unit subtree × lines: the only source of a business user's reach."""

    class Role(models.TextChoices):
        LEADER = "leader", "领导（查看本级及下级）"
        STAFF = "staff", "工作人员（管理本级及下级）"
        CLERK = "clerk", "基层填报员（仅本单位）"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grants",
                             verbose_name="账户")
    role = models.CharField("角色", max_length=16, choices=Role.choices)
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="grants", verbose_name="单位")
    all_lines = models.BooleanField("全部条线", default=False,
                                    help_text="党委群团办等统筹部门可见本区域所有条线。")
    lines = models.ManyToManyField("orgs.Line", blank=True, verbose_name="条线")
    created_at = models.DateTimeField("授权时间", default=timezone.now)

    class Meta:
        verbose_name = "授权"
        verbose_name_plural = "授权"

    def __str__(self):
        return f"{self.user} · {self.get_role_display()} · {self.unit}"


class ApiToken(models.Model):
    """A bearer token for integrations; only its SHA-256 digest is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField("用途", max_length=100)
    key_digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        verbose_name = "接口令牌"
        verbose_name_plural = "接口令牌"


class AuditHead(models.Model):
    """The last digest of each audit chain; locked while a row is appended so the chain
    stays linear even with concurrent writers."""

    chain = models.CharField(max_length=16, primary_key=True)
    digest = models.CharField(max_length=64)
    count = models.BigIntegerField(default=0)


class AuditEntry(models.Model):
    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    actor_name = models.CharField(max_length=150)
    request_id = models.CharField(max_length=36, blank=True, db_index=True)
    object_type = models.CharField(max_length=60, db_index=True)
    object_id = models.CharField(max_length=40, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    prev_digest = models.CharField(max_length=64)
    digest = models.CharField(max_length=64)

    class Meta:
        abstract = True
        ordering = ["-seq"]
        indexes = [models.Index(fields=["object_type", "object_id"])]


class ChangeLog(AuditEntry):
    """One row per business write: who, when, which request, before and after."""

    CHAIN = "change"
    action = models.CharField("操作", max_length=60, db_index=True)
    unit_path = models.CharField(max_length=255, blank=True, db_index=True)
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)

    class Meta(AuditEntry.Meta):
        verbose_name = "变更日志"
        verbose_name_plural = "变更日志"


class AccessLog(AuditEntry):
    """One row per read of sensitive personal data (unmasking)."""

    CHAIN = "access"
    fields = models.CharField("字段", max_length=200)
    purpose = models.CharField("用途", max_length=200, blank=True)

    class Meta(AuditEntry.Meta):
        verbose_name = "敏感信息访问日志"
        verbose_name_plural = "敏感信息访问日志"


class LoginEvent(models.Model):
    """Login log (登录日志): successes, failures, lockouts and logouts."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", "登录成功"
        FAILURE = "failure", "密码错误"
        LOCKED = "locked", "账户锁定"
        LOGOUT = "logout", "退出"
        TIMEOUT = "timeout", "超时退出"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    username = models.CharField(max_length=150, db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    ip = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = "登录日志"
        verbose_name_plural = "登录日志"


class ImportJob(models.Model):
    """One upload through the import engine: its dry run, its errors and its commit."""

    class Status(models.TextChoices):
        VALIDATED = "validated", "校验通过，待导入"
        FAILED = "failed", "校验未通过"
        RUNNING = "running", "导入中"
        DONE = "done", "已导入"
        ERROR = "error", "导入出错"
        INTERRUPTED = "interrupted", "已中断"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField("导入类型", max_length=30)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField("文件名", max_length=255)
    file_path = models.CharField(max_length=500)
    file_sm3 = models.CharField(max_length=64)
    status = models.CharField("状态", max_length=16, choices=Status.choices)
    total_rows = models.IntegerField("行数", default=0)
    error_rows = models.IntegerField("错误行数", default=0)
    created_rows = models.IntegerField("新增", default=0)
    updated_rows = models.IntegerField("更新", default=0)
    processed_rows = models.IntegerField("已处理", default=0)
    message = models.TextField("说明", blank=True)
    errors = models.JSONField("错误明细", default=list)
    preview = models.JSONField("预览", default=list)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # background job (core/jobs.py): which pass is queued or running, the task id of the queue,
    # and the worker process that claimed it ("host:pid:start"; empty = waiting in the queue)
    commit = models.BooleanField("正式导入", default=False)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.IntegerField("执行次数", default=0)
    queued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "导入任务"
        verbose_name_plural = "导入任务"


from .notification_models import Notification, NotifyContact, OutboundMessage  # noqa: E402,F401


class ExportJob(models.Model):
    """One export run by a background worker (core/export_jobs.py): a scoped xlsx in the import
    template's columns, or a file another app renders (a ``FileKind``: records' 归档文件目录 and
    归档章 PDFs, with their selection in ``params``), written under DATA_DIR/exports/ and
    downloaded by its owner only."""

    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "导出中"
        DONE = "done", "已完成"
        ERROR = "error", "导出失败"
        INTERRUPTED = "interrupted", "已中断"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField("导出类型", max_length=30)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    unmasked = models.BooleanField("含完整敏感信息", default=False)
    purpose = models.CharField("用途", max_length=200, blank=True)
    params = models.JSONField("参数", default=dict, blank=True)  # a FileKind's selection (e.g. 全宗, 年度)
    status = models.CharField("状态", max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows = models.IntegerField("行数", default=0)
    file_path = models.CharField(max_length=500, blank=True)
    message = models.TextField("说明", blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.IntegerField("执行次数", default=0)
    queued_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "导出任务"
        verbose_name_plural = "导出任务"

    def __str__(self):
        return f"导出任务 {self.pk}"
