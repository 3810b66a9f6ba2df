"""People recorded once (一人一档): the person record keyed by resident ID number, and the
roles linked to it — memberships, cadre and volunteer (五老) profiles, teams."""

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from qunli.core import crypto
from qunli.core.identifiers import age_on
from qunli.core.pinyin import sort_key
from qunli.core.scoping import ScopedQuerySet, ScopeSpec


class Gender(models.TextChoices):
    MALE = "M", "男"
    FEMALE = "F", "女"


class PoliticalStatus(models.TextChoices):
    CPC = "cpc", "中共党员"
    PROBATIONARY = "cpc_prob", "中共预备党员"
    LEAGUE = "league", "共青团员"
    DEMOCRATIC = "democratic", "民主党派"
    MASSES = "masses", "群众"


# A person with a resident ID number: the condition of the unique index on its blind index.
HAS_ID_NUMBER = ~Q(id_number_hash="")


class PersonQuerySet(ScopedQuerySet):
    def with_id_number_hash(self, *hashes: str):
        """The persons whose ID number has one of these blind indexes, found through the
        unique index. The query repeats the index's condition (``HAS_ID_NUMBER``): SQLite
        uses a partial index only when the query's WHERE contains the index's condition term
        for term — ``id_number_hash = ?`` alone does not prove the value is not ''."""
        return self.filter(HAS_ID_NUMBER, id_number_hash__in=hashes)


class Person(models.Model):
    # Indexes: each one costs every insert (a 1M-row import maintains all of them), so only
    # those a query needs. ``name`` is served by (name, phone_hash), the ``unit`` FK and a
    # unit's roster in name order by (unit, name_sort), a list sorted by 姓名 by (name_sort),
    # ``id_number_hash`` by the partial unique index (look-ups go through
    # ``with_id_number_hash``). ``phone_hash`` alone is searched by the API: a Meta index,
    # since ``db_index`` on a CharField also builds a LIKE-prefix index on PostgreSQL that no
    # hash look-up uses. ``merged_into`` is almost always NULL: a partial index serves the
    # reverse look-up (PROTECT on delete) and the merged count without growing on import.
    name = models.CharField("姓名", max_length=50)
    # the name in pinyin order (core.pinyin.sort_key), kept by save() and by the importers:
    # lists sort 姓名 on it
    name_sort = models.CharField("姓名排序", max_length=460, blank=True, default="", editable=False)
    gender = models.CharField("性别", max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField("出生日期", null=True, blank=True)
    ethnicity = models.CharField("民族", max_length=20, blank=True, default="汉族")
    political_status = models.CharField("政治面貌", max_length=12, choices=PoliticalStatus.choices,
                                        default=PoliticalStatus.MASSES, blank=True)
    education = models.CharField("学历", max_length=20, blank=True)
    workplace = models.CharField("工作单位及职务", max_length=100, blank=True)

    # Sensitive fields: ciphertext, keyed blind index for look-ups, and the display mask.
    id_number_enc = models.TextField(blank=True, default="")
    id_number_hash = models.CharField(max_length=32, blank=True, default="")
    id_number_mask = models.CharField("身份证号", max_length=18, blank=True, default="")
    phone_enc = models.TextField(blank=True, default="")
    phone_hash = models.CharField(max_length=32, blank=True, default="")
    phone_mask = models.CharField("联系电话", max_length=20, blank=True, default="")
    address_enc = models.TextField(blank=True, default="")
    address_mask = models.CharField("住址", max_length=20, blank=True, default="")

    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="persons",
                             verbose_name="登记单位", db_index=False)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, db_index=False,
                                    related_name="merged_from", verbose_name="已合并至")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # registered although someone with the same name and phone existed, after the registrar
    # confirmed they are different people: the merge tool's worklist leaves the pair out
    confirmed_distinct = models.BooleanField("已确认不是同一人", default=False, db_default=False)  # raw bulk inserts

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = PersonQuerySet.as_manager()

    SENSITIVE = {"id_number": "身份证号", "phone": "联系电话", "address": "住址"}

    class Meta:
        verbose_name = "人员"
        verbose_name_plural = "人员"
        constraints = [
            models.UniqueConstraint(fields=["id_number_hash"], condition=HAS_ID_NUMBER,
                                    name="person_unique_id_number"),
        ]
        indexes = [models.Index(fields=["unit", "name_sort"], name="person_unit_name_sort"),
                   models.Index(fields=["name_sort"], name="person_name_sort"),
                   models.Index(fields=["name", "phone_hash"]),
                   models.Index(fields=["phone_hash"], name="person_phone_hash"),
                   models.Index(fields=["merged_into"], condition=Q(merged_into__isnull=False),
                                name="person_merged_into_partial")]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.name_sort = sort_key(self.name)
        fields = kwargs.get("update_fields")
        if fields is not None and "name" in fields:
            kwargs["update_fields"] = {*fields, "name_sort"}
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("people:person_detail", args=[self.pk])

    def set_sensitive(self, field: str, value: str) -> None:
        """Store one sensitive field as ciphertext + blind index + mask."""
        value = (value or "").strip()
        for column, stored in crypto.seal(field, value).items():
            setattr(self, column, stored)

    def reveal(self, field: str) -> str:
        """Plaintext of a sensitive field. Call only through people.actions.reveal_person,
        which checks the permission and writes the access log."""
        return crypto.decrypt(getattr(self, f"{field}_enc"))

    @property
    def age(self) -> int | None:
        if not self.birth_date:
            return None
        return age_on(self.birth_date, timezone.localdate())


class MembershipStatus(models.TextChoices):
    ACTIVE = "active", "在册"
    TRANSFERRED = "transferred", "已转出"
    LAPSED = "lapsed", "已退出"


class Membership(models.Model):
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="memberships", verbose_name="人员")
    line = models.ForeignKey("orgs.Line", on_delete=models.PROTECT, related_name="memberships", verbose_name="条线")
    # indexed by membership_unit_status_line (unit first), which also serves FK look-ups
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="memberships",
                             verbose_name="所在组织", db_index=False)
    number = models.CharField("会员/团员编号", max_length=40, blank=True)
    joined_on = models.DateField("加入日期", null=True, blank=True)
    status = models.CharField("状态", max_length=12, choices=MembershipStatus.choices,
                              default=MembershipStatus.ACTIVE, db_index=True)

    scope = ScopeSpec(unit="unit", line="line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "会员（团员）"
        verbose_name_plural = "会员（团员）"
        constraints = [
            models.UniqueConstraint(fields=["person", "line", "unit"], name="membership_unique_person_line_unit"),
        ]
        # (unit, status, line) covers the dashboard's members-per-line count: an index-only
        # read per unit of the subtree instead of visiting every membership row.
        indexes = [models.Index(fields=["line", "status"]),
                   models.Index(fields=["unit", "status", "line"], name="membership_unit_status_line")]

    def __str__(self):
        return f"{self.person} · {self.line}"

    def get_absolute_url(self):
        return reverse("people:person_detail", args=[self.person_id]) + "?tab=roles"


class CadreProfile(models.Model):
    class Source(models.TextChoices):
        ELECTED = "elected", "选任"
        APPOINTED = "appointed", "委任"
        SECONDED = "seconded", "挂职"
        PARTTIME = "parttime", "兼职"

    person = models.OneToOneField(Person, on_delete=models.PROTECT, related_name="cadre", verbose_name="人员")
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="cadres", verbose_name="所在单位")
    post = models.CharField("职务", max_length=60)
    source = models.CharField("来源", max_length=12, choices=Source.choices, default=Source.APPOINTED)
    is_fulltime = models.BooleanField("专职", default=True)
    grassroots_years = models.PositiveSmallIntegerField("基层工作年限", default=0)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "群团干部"
        verbose_name_plural = "群团干部"


class VolunteerCategory(models.TextChoices):
    OFFICIAL = "official", "老干部"
    SOLDIER = "soldier", "老战士"
    EXPERT = "expert", "老专家"
    TEACHER = "teacher", "老教师"
    MODEL = "model", "老模范"
    POLICE = "police", "退休政法干警"
    DOCTOR = "doctor", "退休医务工作者"
    OTHER = "other", "其他"


class VolunteerProfile(models.Model):
    """A 五老 volunteer: category, skills, appointment certificate (聘书)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "在岗"
        PAUSED = "paused", "暂停"
        RETIRED = "retired", "退出"

    person = models.OneToOneField(Person, on_delete=models.PROTECT, related_name="volunteer", verbose_name="人员")
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="volunteers",
                             verbose_name="所属关工委")
    category = models.CharField("五老类别", max_length=12, choices=VolunteerCategory.choices, db_index=True)
    skills = models.CharField("特长", max_length=200, blank=True)
    certificate_no = models.CharField("聘书编号", max_length=40, blank=True)
    certificate_date = models.DateField("聘书日期", null=True, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.ACTIVE)
    registered_on = models.DateField("登记日期", default=timezone.localdate)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "五老志愿者"
        verbose_name_plural = "五老志愿者"
        # covers the dashboard's active-volunteers-per-category count (and unit look-ups)
        indexes = [models.Index(fields=["unit", "status", "category"], name="volunteer_unit_status_category")]

    def __str__(self):
        return f"{self.person}（{self.get_category_display()}）"

    def get_absolute_url(self):
        return reverse("people:volunteer_detail", args=[self.pk])


class Training(models.Model):
    volunteer = models.ForeignKey(VolunteerProfile, on_delete=models.CASCADE, related_name="trainings")
    on = models.DateField("培训日期")
    title = models.CharField("培训内容", max_length=100)
    hours = models.DecimalField("学时", max_digits=5, decimal_places=1, default=0)

    scope = ScopeSpec(unit="volunteer__unit", line="volunteer__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-on"]


class Recognition(models.Model):
    volunteer = models.ForeignKey(VolunteerProfile, on_delete=models.CASCADE, related_name="recognitions")
    on = models.DateField("表彰日期")
    title = models.CharField("荣誉名称", max_length=100)
    level = models.CharField("级别", max_length=20, blank=True)

    scope = ScopeSpec(unit="volunteer__unit", line="volunteer__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-on"]


class TeamKind(models.TextChoices):
    LECTURE = "lecture", "宣讲团"
    CARE_GUIDANCE = "care", "关爱指导团"
    TECH = "tech", "科技服务团"
    MENTORING = "mentoring", "帮教团"
    NETCAFE = "netcafe", "网吧义务监督员"
    PSYCH = "psych", "心理健康关爱团队"
    LAWYERS = "lawyers", "律师服务队"
    CORRESPONDENTS = "correspondents", "通讯员"
    OTHER = "other", "其他"


class Team(models.Model):
    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="teams", verbose_name="组建单位")
    name = models.CharField("名称", max_length=100)
    kind = models.CharField("类型", max_length=16, choices=TeamKind.choices)
    leader = models.ForeignKey(Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name="负责人")
    founded_on = models.DateField("成立日期", null=True, blank=True)
    members = models.ManyToManyField(Person, through="TeamMember", related_name="teams")

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["unit", "name"]
        verbose_name = "队伍"
        verbose_name_plural = "队伍"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("people:team_detail", args=[self.pk])


class TeamMember(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="team_memberships")
    role = models.CharField("队内职务", max_length=30, blank=True)
    joined_on = models.DateField("加入日期", null=True, blank=True)

    scope = ScopeSpec(unit="team__unit", line="team__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "person"], name="team_member_unique")]
