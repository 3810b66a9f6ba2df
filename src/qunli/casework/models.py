"""Serving the masses (服务群众): people served, requests, cases with their timeline,
referrals between units, and the working-day calendar the time limits are counted on.

Need-to-know: a case, its request, its timeline and the served person's case data are
visible to the case's caseworker, supervisor and explicitly added members — not to everyone
with a grant on the unit (``NeedToKnowQuerySet``). Everything sensitive (notes, the
requester's name and phone, the description, the guardian's phone) is stored as ciphertext
with a display mask; plaintext only comes through ``casework.actions.reveal_case``."""

import secrets

from django.conf import settings
from django.db import connections, models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from qunli.core import crypto
from qunli.core.identifiers import age_on
from qunli.core.scoping import CHANGE, VIEW, ScopedQuerySet, ScopeSpec, scope_q

# --- configuration: calendar and request types ------------------------------------------------


class Holiday(models.Model):
    """A day that differs from the Monday-to-Friday rule: a public holiday (is_workday False)
    or a make-up working day on a weekend (调休上班, is_workday True)."""

    date = models.DateField("日期", unique=True)
    is_workday = models.BooleanField("调休上班", default=False)
    name = models.CharField("名称", max_length=30, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = "节假日"
        verbose_name_plural = "节假日"

    def __str__(self):
        return f"{self.date:%Y-%m-%d} {self.name}{'（调休上班）' if self.is_workday else ''}"


class RequestType(models.Model):
    """A configurable kind of request with its time limits in working days."""

    code = models.SlugField("代码", max_length=30, unique=True)
    name = models.CharField("名称", max_length=40)
    line = models.ForeignKey("orgs.Line", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name="主办条线")
    acknowledge_days = models.PositiveSmallIntegerField("受理时限（工作日）", default=1)
    resolve_days = models.PositiveSmallIntegerField("办结时限（工作日）", default=15)
    order = models.PositiveSmallIntegerField("排序", default=100)
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = "诉求类型"
        verbose_name_plural = "诉求类型"

    def __str__(self):
        return self.name


# --- need-to-know scoping ---------------------------------------------------------------------


def case_q(user, action: str = VIEW) -> Q | None:
    """The need-to-know rule for cases, or None when the user may see none.

    * the case team (caseworker, supervisor, explicitly added members) — while their grant
      still reaches the case's unit for ``action``;
    * staff with a CHANGE grant on the unit, for a new case nobody has been assigned yet
      (intake and assignment);
    * staff with a CHANGE grant on the receiving unit of a pending transfer or referral
      (to decide whether to accept it).
    A grant on the unit alone is not enough.

    Shape: ``pk IN (arm UNION arm …)``, one arm per way in, each served by its own index
    (caseworker, supervisor, member, unassigned intake, pending referral) and checked against
    its grant inside the arm. The same rule written as one ``WHERE`` OR-ing the conditions
    cannot use any of those indexes, so the database walks every case of the grant's
    subtree — at a province's million cases, hundreds of milliseconds per list (``qunli
    bench caseload`` measures both)."""
    arms = _case_arms(user, action)
    if not arms:
        return None
    return Q(pk__in=arms[0].union(*arms[1:], all=True))  # IN ignores duplicates: no dedup pass


def _case_arms(user, action: str) -> list:
    """``case_q``'s arms: one query of case ids per way in, each under its grant."""
    if not getattr(user, "is_authenticated", False):
        return []
    grant = scope_q(Case.scope, user, action)
    change = scope_q(Case.scope, user, CHANGE)
    cases = Case._base_manager.order_by()
    arms = []
    if grant is not None:
        arms += [cases.filter(grant, caseworker=user).values("pk"),
                 cases.filter(grant, supervisor=user).values("pk"),
                 cases.filter(grant, pk__in=CaseMember.objects.filter(user=user).values("case_id")).values("pk")]
    if change is not None:
        arms.append(cases.filter(change, caseworker__isnull=True, status=Case.Status.RECEIVED).values("pk"))
        to_q = scope_q(Referral.receiver_scope, user, CHANGE)
        if to_q is not None:
            arms.append(Referral._base_manager.filter(to_q, status=Referral.Status.PENDING).order_by().values("case_id"))
    return arms


class NeedToKnowQuerySet(models.QuerySet):
    """Same contract as ``core.scoping.ScopedQuerySet.visible_to``, with the need-to-know
    rule: rows hang off a case (``case_path`` is the lookup from the row to its Case, "" for
    Case itself) and are visible when their case is."""

    case_path = ""

    def visible_to(self, user, action: str = VIEW):
        q = case_q(user, action)
        if q is None:
            return self.none()
        if not self.case_path:
            return self.filter(q)
        cases = Case.objects.filter(q).values("pk")
        if self.case_path == "case":
            return self.filter(case__in=cases)
        # a to-many path (a person served with several cases): a subquery keeps rows unique
        return self.filter(pk__in=self.model._base_manager.filter(**{f"{self.case_path}__in": cases}).values("pk"))

    def visible_ids(self, user, action: str = VIEW, *, newest_first: bool = True, limit: int = 10_001) -> list[int]:
        """The ids of ``visible_to(user, action)`` (only on Case) in id order, at most
        ``limit``, read from ``case_q``'s arms alone: what an unfiltered list sorted by id
        needs, without ``visible_to``'s outer look-up of every visible case by its id (one
        index probe each: at 7,500 cases, about half of that list's time on PostgreSQL).
        ``test_visible_ids_equal_the_visible_cases_ids`` checks it."""
        assert not self.case_path
        arms = _case_arms(user, action)
        if not arms:
            return []
        sql, params = arms[0].union(*arms[1:]).query.sql_with_params()  # UNION: each case once
        # Sorted outside the union: with ORDER BY on the union itself SQLite merges the arms
        # in id order, read through the plain foreign-key indexes with a table look-up per
        # case for its unit (17 ms at 7,500 cases); sorted afterwards, each arm reads its
        # covering index (10 ms). PostgreSQL plans both alike (7 ms).
        order = "DESC" if newest_first else "ASC"
        with connections[self.db].cursor() as cur:
            cur.execute(f"SELECT * FROM ({sql}) AS visible ORDER BY 1 {order} LIMIT %s", (*params, limit))
            return [pk for (pk,) in cur.fetchall()]

    def in_team_of(self, user, role: str, action: str = VIEW):
        """Cases (only on Case) where ``user`` is the ``role`` — "supervisor", or "worker"
        (caseworker or added member) — and which ``visible_to(user, action)`` shows: the
        same rows as ``visible_to(user, action).filter(<role>)``, as a query the database
        answers from the role's own index in list order.

        Why it is the same: on rows where the user is in the team, ``case_q``'s team arms
        reduce to the grant alone; its intake arm lies inside the grant too (a CHANGE grant
        is also a VIEW grant), so what remains is ``role ∧ (grant ∨ pending referral to
        the user's units)``. ``test_in_team_of_equals_visible_to_filtered`` checks it."""
        assert not self.case_path and role in ("supervisor", "worker")
        if not getattr(user, "is_authenticated", False):
            return self.none()
        grant = scope_q(Case.scope, user, action)
        ways = [grant] if grant is not None else []
        to_q = scope_q(Referral.receiver_scope, user, CHANGE)
        if to_q is not None:
            ways.append(Q(pk__in=Referral._base_manager.filter(to_q, status=Referral.Status.PENDING)
                          .order_by().values("case_id")))
        if not ways:
            return self.none()
        visible = ways[0] if len(ways) == 1 else ways[0] | ways[1]
        if role == "supervisor":
            mine = Q(supervisor=user)
        else:
            # one IN over a union, not "caseworker = … OR pk IN (members)": PostgreSQL cannot
            # combine an index with a hashed subplan under OR and scans every case
            mine = Q(pk__in=Case._base_manager.filter(caseworker=user).order_by().values("pk").union(
                CaseMember.objects.filter(user=user).order_by().values("case_id"), all=True))
        return self.filter(mine & visible)


def _manager(case_path: str):
    qs_class = type(f"NeedToKnowQuerySet_{case_path or 'case'}", (NeedToKnowQuerySet,), {"case_path": case_path})
    return qs_class.as_manager()


# --- people served --------------------------------------------------------------------------


class Category(models.TextChoices):
    LEFT_BEHIND = "left_behind", "留守儿童"
    IN_DIFFICULTY = "in_difficulty", "困境儿童"
    ORPHAN = "orphan", "孤儿/事实孤儿"
    MIGRANT_CHILD = "migrant_child", "流动儿童"
    NEEDY_WORKER = "needy_worker", "困难职工"
    MIGRANT_WORKER = "migrant_worker", "农民工"
    AT_RISK_YOUTH = "at_risk_youth", "失足失范青少年"
    POOR_STUDENT = "poor_student", "贫困生"
    DISABLED = "disabled", "残疾人"


class RiskFlag(models.TextChoices):
    ABUSE = "abuse", "遭受暴力或虐待"
    NEGLECT = "neglect", "监护缺失"
    SELF_HARM = "self_harm", "自伤风险"
    DROPOUT = "dropout", "辍学风险"
    OFFENDING = "offending", "违法犯罪风险"


class ServedPerson(models.Model):
    """A person served, linked to the person record (一人一档). Visible with its cases."""

    person = models.OneToOneField("people.Person", on_delete=models.PROTECT, related_name="served",
                                  verbose_name="人员")
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="登记单位")
    categories = models.JSONField("服务对象类别", default=list, blank=True)
    guardian_name = models.CharField("监护人姓名", max_length=50, blank=True)
    guardian_relation = models.CharField("与本人关系", max_length=20, blank=True)
    guardian_phone_enc = models.TextField(blank=True, default="")
    guardian_phone_mask = models.CharField("监护人电话", max_length=20, blank=True, default="")
    school_or_employer = models.CharField("学校或工作单位", max_length=100, blank=True)
    risk_flags = models.JSONField("风险标记", default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = _manager("cases")

    class Meta:
        verbose_name = "服务对象"
        verbose_name_plural = "服务对象"

    def __str__(self):
        return f"服务对象#{self.pk}"

    def category_labels(self) -> str:
        labels = dict(Category.choices)
        return "、".join(labels.get(c, c) for c in self.categories)

    def risk_flag_labels(self) -> str:
        labels = dict(RiskFlag.choices)
        return "、".join(labels.get(f, f) for f in self.risk_flags)


class Consent(models.Model):
    """A consent record: when, by whom (the person or their guardian), for what."""

    served_person = models.ForeignKey(ServedPerson, verbose_name="服务对象", on_delete=models.CASCADE, related_name="consents")
    given_on = models.DateField("同意日期")
    given_by = models.CharField("同意人", max_length=50, help_text="本人或监护人姓名")
    scope_text = models.CharField("同意范围", max_length=200)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField("登记时间", default=timezone.now)

    scope = ScopeSpec(unit="served_person__unit", line="served_person__unit__line")
    objects = _manager("served_person__cases")

    class Meta:
        verbose_name = "知情同意"
        verbose_name_plural = "知情同意"
        ordering = ["-given_on", "-id"]


# --- requests and cases -----------------------------------------------------------------------

TRACKING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L


def new_tracking_code() -> str:
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(10))


class Channel(models.TextChoices):
    ONLINE = "online", "网上"
    HOTLINE_12351 = "12351", "12351"
    HOTLINE_12338 = "12338", "12338"
    HOTLINE_12355 = "12355", "12355"
    WALK_IN = "walk_in", "来访（关爱工作站）"
    REFERRAL = "referral", "转介"


class Request(models.Model):
    """A request as received (诉求). Its case carries the handling; it is visible with it."""

    channel = models.CharField("渠道", max_length=10, choices=Channel.choices)
    type = models.ForeignKey(RequestType, on_delete=models.PROTECT, related_name="requests", verbose_name="类型")
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="受理单位")
    requester_name_enc = models.TextField(blank=True, default="")
    requester_name_mask = models.CharField("诉求人", max_length=20, blank=True, default="")
    requester_phone_enc = models.TextField(blank=True, default="")
    requester_phone_hash = models.CharField(max_length=32, blank=True, default="", db_index=True)
    requester_phone_mask = models.CharField("联系电话", max_length=20, blank=True, default="")
    description_enc = models.TextField(blank=True, default="")
    tracking_code = models.CharField("查询码", max_length=10, unique=True, default=new_tracking_code)
    served_person = models.ForeignKey(ServedPerson, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="requests", verbose_name="服务对象")
    received_at = models.DateTimeField("受理时间", default=timezone.now)
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="受理人", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = _manager("case")

    class Meta:
        verbose_name = "诉求"
        verbose_name_plural = "诉求"

    def __str__(self):
        return f"诉求 {self.tracking_code}"


class RequestAttachment(models.Model):
    """A file a citizen attached to a request on the portal (a wage slip, a photo of an
    injury, a contract): JPG, PNG or PDF, checked by its leading bytes
    (``casework.attachments.check_attachment``). The bytes are stored once by their SM3 under
    ``requests/<sm3[:2]>/<sm3>`` of the default storage, which is never served as media; staff
    who may see the case download them through ``attachments.open_attachment``
    (access-logged). The file name is sealed: citizens name files after people.

    No ``scope``: an attachment is seen exactly when its case is (``_manager``), never on a
    unit grant."""

    request = models.ForeignKey(Request, on_delete=models.CASCADE, related_name="attachments", verbose_name="诉求")
    name_enc = models.TextField("文件名", blank=True, default="")
    storage_name = models.CharField("存储位置", max_length=200)
    sm3 = models.CharField("SM3摘要", max_length=64)
    mime = models.CharField("文件类型", max_length=40)
    size = models.PositiveIntegerField("大小（字节）")
    uploaded_at = models.DateTimeField("上传时间", default=timezone.now)

    objects = _manager("request__case")

    KIND_LABELS = {"image/jpeg": "JPG", "image/png": "PNG", "application/pdf": "PDF"}

    class Meta:
        ordering = ["id"]
        verbose_name = "诉求附件"
        verbose_name_plural = "诉求附件"

    def __str__(self):
        return f"诉求附件 #{self.pk}"

    @property
    def kind_label(self) -> str:
        return self.KIND_LABELS.get(self.mime, "文件")

    def reveal_name(self) -> str:
        """The citizen's file name: for the download (access-logged) and the citizen's own
        tracking page only."""
        return crypto.decrypt(self.name_enc) if self.name_enc else ""


def mask_name(v: str) -> str:
    v = (v or "").strip()
    if not v:
        return ""
    return v[0] + "*" * max(1, len(v) - 1)


class Case(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "受理"
        ASSIGNED = "assigned", "分派"
        ASSESSED = "assessed", "评估"
        PLANNED = "planned", "服务计划"
        IN_SERVICE = "in_service", "服务实施"
        FOLLOW_UP = "follow_up", "回访"
        CLOSED = "closed", "结案"

    request = models.OneToOneField(Request, on_delete=models.PROTECT, related_name="case", verbose_name="诉求")
    served_person = models.ForeignKey(ServedPerson, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="cases", verbose_name="服务对象")
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="承办单位",
                             db_index=False)
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.RECEIVED)
    caseworker = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="cases_handled", verbose_name="个案社工")
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="cases_supervised", verbose_name="督导")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="CaseMember", through_fields=("case", "user"),
                                     related_name="+")
    acknowledge_due = models.DateField("受理时限")
    resolve_due = models.DateField("办结时限")
    acknowledged_at = models.DateTimeField("分派时间", null=True, blank=True)
    plan_submitted_at = models.DateTimeField("服务计划提交时间", null=True, blank=True)
    plan_approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="服务计划审批人", null=True, blank=True, on_delete=models.PROTECT,
                                         related_name="+")
    plan_approved_at = models.DateTimeField("服务计划审批时间", null=True, blank=True)
    closed_at = models.DateTimeField("结案时间", null=True, blank=True)
    outcome = models.CharField("结案结果", max_length=200, blank=True)
    satisfaction = models.PositiveSmallIntegerField("满意度", null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField("重新开启次数", default=0)
    created_at = models.DateTimeField(default=timezone.now)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = _manager("")

    class Meta:
        verbose_name = "个案"
        verbose_name_plural = "个案"
        indexes = [models.Index(fields=["caseworker", "status", "resolve_due"], name="case_worker_status_due"),
                   models.Index(fields=["supervisor", "status", "resolve_due"], name="case_super_status_due"),
                   models.Index(fields=["unit", "status"], name="case_unit_status"),
                   # the need-to-know arms (case_q) and the caseworker's / supervisor's lists:
                   # cases of one user in list order (resolve date, then id) with the unit for
                   # the grant check, without touching the table. The id is spelled out:
                   # SQLite keeps it in every index anyway, PostgreSQL only when asked, and
                   # without it PostgreSQL reads one table page per case (4× slower at 7,500)
                   models.Index(fields=["caseworker", "resolve_due", "id", "unit"], name="case_worker_due_id"),
                   models.Index(fields=["supervisor", "resolve_due", "id", "unit"], name="case_super_due_id"),
                   # the same lists in 受理时间 order (newest requests first)
                   models.Index(fields=["caseworker", "created_at", "id", "unit"], name="case_worker_received_id"),
                   models.Index(fields=["supervisor", "created_at", "id", "unit"], name="case_super_received_id")]

    def __str__(self):
        return f"个案 {self.request.tracking_code}" if self.request_id else "个案"

    def get_absolute_url(self):
        return reverse("casework:case_detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.CLOSED

    def is_overdue(self, today=None) -> bool:
        today = today or timezone.localdate()
        if not self.is_open:
            return self.closed_at is not None and timezone.localdate(self.closed_at) > self.resolve_due
        if self.acknowledged_at is None and self.acknowledge_due < today:
            return True
        return self.resolve_due < today

    def in_team(self, user) -> bool:
        return user.pk in (self.caseworker_id, self.supervisor_id) or self.casemember_set.filter(user=user).exists()


class CaseMember(models.Model):
    case = models.ForeignKey(Case, verbose_name="个案", on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="成员", on_delete=models.PROTECT, related_name="case_memberships")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="增加人", on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField("增加时间", default=timezone.now)

    class Meta:
        verbose_name = "个案成员"
        verbose_name_plural = "个案成员"
        constraints = [models.UniqueConstraint(fields=["user", "case"], name="casemember_unique")]


class VisitType(models.TextChoices):
    HOME = "home", "入户"
    PHONE = "phone", "电话"
    ONLINE = "online", "线上"


class CaseEvent(models.Model):
    """One step on a case's timeline. The note is ciphertext."""

    case = models.ForeignKey(Case, verbose_name="个案", on_delete=models.CASCADE, related_name="events")
    step = models.CharField("环节", max_length=20)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField("时间", default=timezone.now)
    note_enc = models.TextField(blank=True, default="")
    visit_type = models.CharField("走访方式", max_length=8, choices=VisitType.choices, blank=True)

    scope = ScopeSpec(unit="case__unit", line="case__unit__line")
    objects = _manager("case")

    STEP_LABELS = {
        "receive": "受理", "assign": "分派", "assess": "评估", "submit_plan": "提交服务计划",
        "approve_plan": "批准服务计划", "return_plan": "退回服务计划", "service": "服务记录",
        "follow_up": "回访", "close": "结案", "reopen": "重新开启", "transfer": "转办", "refer": "转介",
        "accept_referral": "接收转办/转介", "decline_referral": "拒收转办/转介", "add_member": "增加成员",
        "withdraw_referral": "撤回转办/转介", "remove_member": "移出成员", "dismiss": "不予受理",
    }

    class Meta:
        verbose_name = "办理过程"
        verbose_name_plural = "办理过程"
        ordering = ["at", "id"]

    @property
    def step_label(self) -> str:
        return self.STEP_LABELS.get(self.step, self.step)

    @property
    def has_note(self) -> bool:
        return bool(self.note_enc)

    def reveal_note(self) -> str:
        """Plaintext; only through casework.actions.reveal_case (access-logged)."""
        return crypto.decrypt(self.note_enc)


class Referral(models.Model):
    """转办 (to another unit of the same line) or 转介 (to another line's unit). The receiver
    accepts (the case moves to its unit, awaiting assignment, with fresh time limits) or
    declines with a reason; until then the sender may withdraw it."""

    class Kind(models.TextChoices):
        TRANSFER = "transfer", "转办"
        REFERRAL = "referral", "转介"

    class Status(models.TextChoices):
        PENDING = "pending", "待接收"
        ACCEPTED = "accepted", "已接收"
        DECLINED = "declined", "已拒收"
        WITHDRAWN = "withdrawn", "已撤回"  # by the sending side, before the receiver decided

    case = models.ForeignKey(Case, verbose_name="个案", on_delete=models.CASCADE, related_name="referrals")
    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    from_unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="转出单位")
    to_unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="接收单位")
    reason = models.CharField("转出原因", max_length=300)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="发起人", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="决定人", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    decided_at = models.DateTimeField("决定时间", null=True, blank=True)
    decline_reason = models.CharField("拒收理由", max_length=300, blank=True)
    # the receiver accepts or declines within the request type's acknowledge limit (working
    # days, as at intake); past it the sweep reminds the receiving staff, then escalates
    decide_due = models.DateField("接收时限", null=True, blank=True)

    scope = ScopeSpec(unit="case__unit", line="case__unit__line")
    receiver_scope = ScopeSpec(unit="to_unit", line="to_unit__line")
    objects = _manager("case")

    class Meta:
        verbose_name = "转办/转介"
        verbose_name_plural = "转办/转介"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["to_unit", "status"], name="referral_to_status"),
                   # the need-to-know referral arm: the few pending ones, whatever the history
                   models.Index(fields=["status", "to_unit"], name="referral_status_to")]

    def __str__(self):
        return f"{self.get_kind_display()}：{self.from_unit} → {self.to_unit}"

    def is_late(self, today=None) -> bool:
        """Still undecided after its 接收时限."""
        today = today or timezone.localdate()
        return self.status == self.Status.PENDING and self.decide_due is not None and self.decide_due < today


# --- pairing (结对帮扶 / 结对帮教) ------------------------------------------------------------
#
# Scoping: pairings are scoped by the unit grant (not need-to-know), because the people who
# run a pairing programme (the county 关工委 or 妇联 staff) must see every pair in their
# subtree to find lapsed pairs and to count against targets. What makes a pairing sensitive —
# who the (often minor) served person is, and what happened on a visit — stays closed: lists
# and pages show a masked name only, visit notes are AES-GCM ciphertext and photos are served
# only through an access-logged view (``casework.pairing_actions.reveal_visits``).

class PairingKind(models.TextChoices):
    HELP = "help", "结对帮扶"
    EDUCATE = "educate", "结对帮教"


# Per kind: the default minimum visits per month and the window (days, a multiple of 30) the
# lapse rule looks back over. settings.QUNLI_PAIRING_RULES overrides any of them.
PAIRING_RULES = {
    PairingKind.HELP: {"min_visits_per_month": 1, "window_days": 30},
    PairingKind.EDUCATE: {"min_visits_per_month": 1, "window_days": 60},
}


def pairing_rule(kind: str) -> dict:
    rule = dict(PAIRING_RULES[kind])
    rule.update(getattr(settings, "QUNLI_PAIRING_RULES", {}).get(kind, {}))
    return rule


class PairingQuerySet(ScopedQuerySet):
    def with_lapse(self, today=None):
        """Annotate ``recent_visits`` (visits in the kind's window ending today),
        ``required_visits`` (min per month × window months) and ``lapsed``: an active
        pairing that already existed when the window began and has fewer visits in it than
        required. One correlated subquery, no Python loop: lists filter and sort on it."""
        import datetime as dt

        from django.db.models import (
            BooleanField,
            Count,
            DateField,
            IntegerField,
            OuterRef,
            Subquery,
            Value,
            When,
        )
        from django.db.models import Case as CaseExpr
        from django.db.models.functions import Coalesce

        today = today or timezone.localdate()
        starts, months = [], []
        for kind in PairingKind.values:
            rule = pairing_rule(kind)
            # the window is the last N days including today: (today - N, today]
            starts.append(When(kind=kind, then=Value(today - dt.timedelta(days=rule["window_days"] - 1))))
            months.append(When(kind=kind, then=Value(max(1, rule["window_days"] // 30))))
        recent = (Visit.objects.filter(pairing=OuterRef("pk"), on__gte=OuterRef("window_start"), on__lte=today)
                  .order_by().values("pairing").annotate(n=Count("pk")).values("n"))
        return self.annotate(
            window_start=CaseExpr(*starts, output_field=DateField()),
            required_visits=models.F("min_visits_per_month") * CaseExpr(*months, output_field=IntegerField()),
            recent_visits=Coalesce(Subquery(recent, output_field=IntegerField()), 0),
        ).annotate(lapsed=CaseExpr(
            When(Q(ended_on__isnull=True, started_on__lt=models.F("window_start"),
                   recent_visits__lt=models.F("required_visits")), then=Value(True)),
            default=Value(False), output_field=BooleanField()))


class Pairing(models.Model):
    """A helper (a 五老 volunteer or a cadre, as a people.Person) paired with a person served."""

    helper = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="pairings_as_helper",
                               verbose_name="帮扶人")
    served = models.ForeignKey(ServedPerson, on_delete=models.PROTECT, related_name="pairings",
                               verbose_name="服务对象")
    kind = models.CharField("结对类型", max_length=8, choices=PairingKind.choices)
    category = models.CharField("对象类别", max_length=20, choices=Category.choices)
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="负责单位",
                             db_index=False)
    started_on = models.DateField("结对日期")
    ended_on = models.DateField("结束日期", null=True, blank=True)
    end_reason = models.CharField("结束原因", max_length=200, blank=True)
    min_visits_per_month = models.PositiveSmallIntegerField("每月最少走访次数", default=1)
    served_name_mask = models.CharField("服务对象", max_length=20, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = PairingQuerySet.as_manager()

    class Meta:
        verbose_name = "结对"
        verbose_name_plural = "结对"
        constraints = [models.UniqueConstraint(fields=["helper", "served", "kind"], condition=Q(ended_on__isnull=True),
                                               name="pairing_active_unique")]
        indexes = [models.Index(fields=["unit", "kind", "category"], name="pairing_unit_kind_cat")]

    def __str__(self):
        return f"{self.get_kind_display()}：{self.helper.name} — {self.served_name_mask}"

    def get_absolute_url(self):
        return reverse("casework:pairing_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.ended_on is None


class Visit(models.Model):
    """One visit of a pairing. Notes are ciphertext; the photo is stored once by its SM3."""

    pairing = models.ForeignKey(Pairing, verbose_name="结对", on_delete=models.CASCADE, related_name="visits")
    on = models.DateField("走访日期")
    kind = models.CharField("走访方式", max_length=8, choices=VisitType.choices)
    notes_enc = models.TextField(blank=True, default="")
    photo_name = models.CharField(max_length=200, blank=True, default="")
    photo_sm3 = models.CharField(max_length=64, blank=True, default="")
    photo_mime = models.CharField(max_length=40, blank=True, default="")
    photo_size = models.PositiveIntegerField(default=0)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="记录人", null=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField("记录时间", default=timezone.now)

    scope = ScopeSpec(unit="pairing__unit", line="pairing__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "走访记录"
        verbose_name_plural = "走访记录"
        ordering = ["-on", "-id"]
        indexes = [models.Index(fields=["pairing", "on"], name="visit_pairing_on")]

    @property
    def has_notes(self) -> bool:
        return bool(self.notes_enc)


class PairingTarget(models.Model):
    """A unit's target for a year, e.g. 结对帮扶农村留守儿童1000名."""

    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="单位",
                             db_index=False)
    year = models.PositiveSmallIntegerField("年度")
    kind = models.CharField("结对类型", max_length=8, choices=PairingKind.choices)
    category = models.CharField("对象类别", max_length=20, choices=Category.choices)
    target = models.PositiveIntegerField("目标人数")
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="设定人", null=True, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField("设定时间", default=timezone.now)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "结对目标"
        verbose_name_plural = "结对目标"
        constraints = [models.UniqueConstraint(fields=["unit", "year", "kind", "category"], name="pairingtarget_unique")]

    def __str__(self):
        return f"{self.year}年{self.get_kind_display()}{self.get_category_display()}{self.target}名"


# --- wishes (微心愿) and the practical-projects list (我为群众办实事) ----------------------------
#
# Scoping: both are unit-grant scoped (plain ScopedQuerySet on the owning unit), like pairing:
# the staff who run a wish drive see every wish of their subtree. A wish names a person served,
# so what identifies them stays closed: pages and exports show ``served_name_mask`` only, the
# portal shows ``public_name`` (张*) and ``age_range`` computed when the wish is published, and
# the donor's phone is ciphertext opened only by ``wish_actions.reveal_donor`` (access-logged).

class WishCategory(models.TextChoices):
    SCHOOL = "school", "学习用品"
    DAILY = "daily", "生活用品"
    EDUCATION = "education", "助学"
    MEDICAL = "medical", "助医"
    OTHER = "other", "其他"


def age_range(birth_date, today=None) -> str:
    """A band wide enough not to single a child out: 3 years under 20 (…, 5–7, 8–10, 11–13 …),
    a decade from 20; "" when the birth date is unknown."""
    if not birth_date:
        return ""
    today = today or timezone.localdate()
    age = age_on(birth_date, today)
    if age < 2:
        return "2岁以下"
    if age < 20:
        low = 2 + (age - 2) // 3 * 3
        return f"{low}–{low + 2}岁"
    low = age // 10 * 10
    return f"{low}–{low + 9}岁"


def public_name(name: str) -> str:
    """张* / 欧阳* : the family name's first character only, one star."""
    name = (name or "").strip()
    return f"{name[0]}*" if name else "匿名"


class WishQuerySet(ScopedQuerySet):
    def on_wall(self):
        """What the portal may show: published (unclaimed), claimed and fulfilled wishes —
        never pending, rejected or approved-but-unpublished ones."""
        return self.filter(status__in=[Wish.Status.PUBLISHED, Wish.Status.CLAIMED, Wish.Status.FULFILLED])


class Wish(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "待审核"
        APPROVED = "approved", "已审核待发布"
        REJECTED = "rejected", "未通过"
        PUBLISHED = "published", "已发布待认领"
        CLAIMED = "claimed", "已认领"
        FULFILLED = "fulfilled", "已圆梦"

    served = models.ForeignKey(ServedPerson, on_delete=models.PROTECT, related_name="wishes", verbose_name="服务对象")
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="负责单位",
                             db_index=False)
    category = models.CharField("类别", max_length=10, choices=WishCategory.choices)
    text = models.CharField("心愿内容", max_length=200)
    amount = models.DecimalField("预计金额（元）", max_digits=10, decimal_places=2)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    served_name_mask = models.CharField("服务对象", max_length=20, blank=True, default="")
    public_name = models.CharField("公开称呼", max_length=10, blank=True, default="")
    age_range = models.CharField("年龄段", max_length=12, blank=True, default="")
    reject_reason = models.CharField("未通过原因", max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("登记时间", default=timezone.now)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    reviewed_at = models.DateTimeField("审核时间", null=True, blank=True)
    published_at = models.DateTimeField("发布时间", null=True, blank=True)
    donor_name = models.CharField("认领人", max_length=50, blank=True, default="")
    donor_org = models.CharField("认领人单位", max_length=100, blank=True, default="")
    donor_phone_enc = models.TextField(blank=True, default="")
    donor_phone_hash = models.CharField(max_length=32, blank=True, default="")
    donor_phone_mask = models.CharField("认领人电话", max_length=20, blank=True, default="")
    claimed_at = models.DateTimeField("认领时间", null=True, blank=True)
    fulfilled_at = models.DateTimeField("圆梦时间", null=True, blank=True)
    fulfilled_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="确认圆梦人", null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="+")
    # what the donor actually spent and how the wish came true, told at 圆梦 (the 预计金额 stays)
    fulfilled_amount = models.DecimalField("实际金额（元）", max_digits=10, decimal_places=2, null=True, blank=True)
    fulfil_note = models.CharField("圆梦说明", max_length=200, blank=True, default="")
    photo_name = models.CharField(max_length=200, blank=True, default="")
    photo_sm3 = models.CharField(max_length=64, blank=True, default="")
    photo_mime = models.CharField(max_length=40, blank=True, default="")
    photo_size = models.PositiveIntegerField(default=0)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = WishQuerySet.as_manager()

    class Meta:
        verbose_name = "微心愿"
        verbose_name_plural = "微心愿"
        indexes = [models.Index(fields=["unit", "status"], name="wish_unit_status"),
                   models.Index(fields=["status", "published_at"], name="wish_status_published")]

    def __str__(self):
        return f"微心愿#{self.pk}（{self.served_name_mask}）"

    def get_absolute_url(self):
        return reverse("casework:wish_detail", args=[self.pk])


class PracticalProject(models.Model):
    """One item of a unit's 我为群众办实事 list."""

    class Status(models.TextChoices):
        PLANNED = "planned", "计划"
        IN_PROGRESS = "in_progress", "推进中"
        COMPLETED = "completed", "已完成"
        DELAYED = "delayed", "已延期"

    title = models.CharField("项目名称", max_length=100)
    description = models.TextField("项目内容", max_length=2000)
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="责任单位",
                             db_index=False)
    deadline = models.DateField("完成时限")
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.PLANNED)
    result = models.TextField("完成情况", max_length=2000, blank=True)
    is_published = models.BooleanField("已公开", default=False)
    published_at = models.DateTimeField("公开时间", null=True, blank=True)
    completed_at = models.DateTimeField("完成时间", null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登记人", null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "办实事项目"
        verbose_name_plural = "办实事项目"
        indexes = [models.Index(fields=["unit", "status"], name="project_unit_status"),
                   models.Index(fields=["is_published", "deadline"], name="project_published")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("casework:project_detail", args=[self.pk])

    def is_overdue(self, today=None) -> bool:
        return self.status != self.Status.COMPLETED and self.deadline < (today or timezone.localdate())


from .escalation import CaseEscalation  # noqa: E402,F401
