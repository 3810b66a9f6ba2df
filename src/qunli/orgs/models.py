"""The organization tree: lines (条线), units (one materialized-path tree), leadership
teams (班子) with terms, base conditions (四缺) and venues (阵地) scored on checklists."""

import datetime as dt

from django.db import models
from django.urls import reverse
from django.utils import timezone
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from qunli.core.pinyin import phrase_key
from qunli.core.scoping import ScopedQuerySet, ScopeSpec


class Line(models.Model):
    """A line of mass-organization work (条线), or the party committee's 群团 office."""

    code = models.SlugField("代码", max_length=20, unique=True)
    name = models.CharField("名称", max_length=30, unique=True)
    chair_title = models.CharField("主要负责人职务", max_length=20, default="主席")
    is_party_office = models.BooleanField("党委统筹部门", default=False)
    order = models.PositiveSmallIntegerField("排序", default=100)
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = "条线"
        verbose_name_plural = "条线"

    def __str__(self):
        return self.name


class Level(models.TextChoices):
    PROVINCE = "province", "省"
    CITY = "city", "市"
    COUNTY = "county", "区县"
    TOWNSHIP = "township", "乡镇（街道）"
    VILLAGE = "village", "村（社区）"
    GROUP = "group", "小组"


LEVEL_ORDER = {v: i for i, v in enumerate(Level.values)}


class UnitKind(models.TextChoices):
    GEOGRAPHIC = "geo", "地域"
    ORGAN = "organ", "机关"
    SCHOOL = "school", "学校"
    ENTERPRISE = "enterprise", "企业"
    PARK = "park", "园区/区域联合"
    NEW_FIELD = "new", "新领域"


class UnitStatus(models.TextChoices):
    ACTIVE = "active", "正常"
    MERGED = "merged", "已合并"
    SPLIT = "split", "已拆分"
    DISSOLVED = "dissolved", "已撤销"


class UnitQuerySet(MP_NodeQuerySet, ScopedQuerySet):
    pass


class UnitManager(MP_NodeManager):
    def get_queryset(self):
        return UnitQuerySet(self.model, using=self._db).order_by("path")

    def visible_to(self, user, action="view"):
        return self.get_queryset().visible_to(user, action)


class Unit(MP_Node):
    """A unit of the tree. Region nodes (line empty) stand for the party committee of a
    place; line units (工会, 妇联 …) hang beneath them."""

    steplen = 4
    name = models.CharField("名称", max_length=100, db_index=True)
    # the list's 名称 order: pinyin (core.pinyin.phrase_key), kept by save()
    name_sort = models.CharField("名称排序", max_length=901, blank=True, default="", editable=False)
    short_name = models.CharField("简称", max_length=40, blank=True)
    level = models.CharField("层级", max_length=12, choices=Level.choices, db_index=True)
    line = models.ForeignKey(Line, null=True, blank=True, on_delete=models.PROTECT, related_name="units",
                             verbose_name="条线")
    kind = models.CharField("类别", max_length=12, choices=UnitKind.choices, default=UnitKind.GEOGRAPHIC,
                            db_index=True)
    division_code = models.CharField("行政区划代码", max_length=12, blank=True, db_index=True)
    uscc = models.CharField("统一社会信用代码", max_length=18, blank=True)
    address = models.CharField("地址", max_length=200, blank=True)
    status = models.CharField("状态", max_length=12, choices=UnitStatus.choices, default=UnitStatus.ACTIVE,
                              db_index=True)
    successor = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="predecessors", verbose_name="承继单位")
    established_on = models.DateField("成立日期", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    scope = ScopeSpec(unit="", line="line")
    objects = UnitManager()

    class Meta:
        verbose_name = "单位"
        verbose_name_plural = "单位"
        indexes = [models.Index(fields=["line", "level"]), models.Index(fields=["name_sort"], name="unit_name_sort")]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.name_sort = phrase_key(self.name)
        fields = kwargs.get("update_fields")
        if fields is not None and "name" in fields:
            kwargs["update_fields"] = {*fields, "name_sort"}
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.status == UnitStatus.ACTIVE

    def get_absolute_url(self):
        return reverse("orgs:unit_detail", args=[self.pk])

    def ancestors_and_self(self):
        paths = [self.path[: i * self.steplen] for i in range(1, self.depth + 1)]
        return Unit.objects.filter(path__in=paths).order_by("depth")


class UnitEvent(models.Model):
    """机构变动: creation, renaming, merger, split, dissolution, move. The old unit stays in
    the tree with its status, so everything recorded under it remains reachable."""

    class Kind(models.TextChoices):
        CREATED = "created", "设立"
        RENAMED = "renamed", "更名"
        MERGED = "merged", "合并"
        SPLIT = "split", "拆分"
        DISSOLVED = "dissolved", "撤销"
        MOVED = "moved", "调整隶属"

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="events", verbose_name="单位")
    kind = models.CharField("变动类型", max_length=12, choices=Kind.choices)
    on = models.DateField("变动日期", default=dt.date.today)
    related = models.ManyToManyField(Unit, blank=True, related_name="+", verbose_name="相关单位")
    note = models.CharField("说明", max_length=300, blank=True)
    document_no = models.CharField("批准文号", max_length=60, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-on", "-id"]
        verbose_name = "机构变动"
        verbose_name_plural = "机构变动"


class PositionTitle(models.TextChoices):
    CHAIR = "chair", "主要负责人"
    EXEC_VICE = "exec_vice", "常务副职"
    VICE = "vice", "副职"
    FULLTIME_VICE = "fulltime_vice", "专职副职"
    OFFICE_DIRECTOR = "office_director", "办公室主任"
    MEMBER = "member", "委员"


# Seats a complete leadership team must fill (班子健全): a chair, and a deputy of any kind
# (常务副职, 副职 or 专职副职 all fill the deputy seat).
REQUIRED_SEATS = {
    "主要负责人": (PositionTitle.CHAIR,),
    "副职": (PositionTitle.EXEC_VICE, PositionTitle.VICE, PositionTitle.FULLTIME_VICE),
}


def vacant_seats(held_titles) -> list[str]:
    held = set(held_titles)
    return [seat for seat, titles in REQUIRED_SEATS.items() if not held.intersection(titles)]


class Position(models.Model):
    """A seat in a unit's leadership team held by a person for a term."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="positions", verbose_name="单位")
    title = models.CharField("职务", max_length=20, choices=PositionTitle.choices)
    title_label = models.CharField("职务名称", max_length=30, blank=True, help_text="如：主席、书记、常务副主任")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="positions",
                               verbose_name="任职人")
    is_parttime = models.BooleanField("兼职", default=False)
    started_on = models.DateField("任职日期")
    term_ends_on = models.DateField("任期届满", null=True, blank=True)
    # no index of its own: most rows are NULL (current), so one would mislead the planner into
    # reading every current position of the database; (unit, ended_on) below serves look-ups
    ended_on = models.DateField("离任日期", null=True, blank=True)
    end_reason = models.CharField("离任原因", max_length=200, blank=True)
    ended_early = models.BooleanField("任期未满调动", default=False)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["unit", "title", "-started_on"]
        verbose_name = "班子成员"
        verbose_name_plural = "班子成员"
        # (unit, ended_on) look-ups; title and term_ends_on make the dashboard's team and term
        # counts over a subtree's current seats index-only
        indexes = [models.Index(fields=["unit", "ended_on", "title", "term_ends_on"], name="position_unit_ended_cover")]

    def __str__(self):
        return f"{self.unit} {self.display_title} {self.person}"

    def get_absolute_url(self):
        return reverse("orgs:unit_detail", args=[self.unit_id]) + "?tab=team"

    @property
    def display_title(self) -> str:
        return self.title_label or self.get_title_display()

    @property
    def is_current(self) -> bool:
        return self.ended_on is None

    def term_expired(self, today: dt.date | None = None) -> bool:
        today = today or dt.date.today()
        return self.is_current and self.term_ends_on is not None and self.term_ends_on < today


class BaseCondition(models.Model):
    """The four lacks (四缺) of a unit: staff, establishment, venue, funding."""

    unit = models.OneToOneField(Unit, on_delete=models.CASCADE, related_name="condition", verbose_name="单位")
    lacks_staff = models.BooleanField("缺人员", default=False)
    lacks_establishment = models.BooleanField("缺编制", default=False)
    lacks_venue = models.BooleanField("缺场所", default=False)
    lacks_funding = models.BooleanField("缺经费", default=False)
    staff_count = models.PositiveIntegerField("专兼职人数", default=0)
    annual_funding = models.DecimalField("年度经费（元）", max_digits=12, decimal_places=2, default=0)
    note = models.CharField("说明", max_length=300, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    LACKS = ("lacks_staff", "lacks_establishment", "lacks_venue", "lacks_funding")

    class Meta:
        verbose_name = "基础条件"
        verbose_name_plural = "基础条件"

    @property
    def lack_count(self) -> int:
        return sum(bool(getattr(self, f)) for f in self.LACKS)


class VenueKind(models.TextChoices):
    WORKERS_HOME = "workers_home", "职工之家"
    YOUTH_HOME = "youth_home", "青年之家"
    WOMENS_HOME = "womens_home", "妇女之家"
    CARE_STATION = "care_station", "关爱工作站"
    TUTORING = "tutoring", "校外辅导站"
    HOPE_ROOM = "hope_room", "希望小屋"
    LEIFENG_SCHOOL = "leifeng", "雷锋学校"
    ARCHIVE_ROOM = "archive_room", "档案室"
    SCIENCE = "science", "科普活动站"
    OTHER = "other", "其他"


class Checklist(models.Model):
    """A configurable inspection checklist such as 七有 or 五有一能."""

    name = models.CharField("名称", max_length=40, unique=True)
    description = models.CharField("说明", max_length=200, blank=True)
    venue_kinds = models.JSONField("适用阵地类型", default=list, blank=True)
    pass_score = models.PositiveSmallIntegerField("达标分", default=100)

    class Meta:
        verbose_name = "检查标准"
        verbose_name_plural = "检查标准"

    def __str__(self):
        return self.name

    @property
    def full_points(self) -> int:
        """Its items' points added up: the full marks a score is converted from (百分制)."""
        return sum(i.points for i in self.items.all())


class ChecklistItem(models.Model):
    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="items")
    order = models.PositiveSmallIntegerField(default=0)
    text = models.CharField("检查项", max_length=100)
    points = models.PositiveSmallIntegerField("分值", default=10)

    class Meta:
        ordering = ["checklist", "order"]


class Venue(models.Model):
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="venues", verbose_name="单位")
    name = models.CharField("名称", max_length=100)
    kind = models.CharField("类型", max_length=20, choices=VenueKind.choices)
    address = models.CharField("地址", max_length=200, blank=True)
    area_m2 = models.PositiveIntegerField("面积（㎡）", null=True, blank=True)
    opened_on = models.DateField("启用日期", null=True, blank=True)
    latest_score = models.PositiveSmallIntegerField("最近得分", null=True, blank=True)
    latest_passed = models.BooleanField("最近是否达标", null=True, blank=True)
    latest_inspected_on = models.DateField("最近检查日期", null=True, blank=True)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["unit", "name"]
        verbose_name = "阵地"
        verbose_name_plural = "阵地"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("orgs:venue_detail", args=[self.pk])


class Inspection(models.Model):
    venue = models.ForeignKey(Venue, on_delete=models.CASCADE, related_name="inspections")
    checklist = models.ForeignKey(Checklist, on_delete=models.PROTECT, related_name="inspections")
    on = models.DateField("检查日期")
    inspector = models.CharField("检查人", max_length=50)
    met_items = models.ManyToManyField(ChecklistItem, blank=True, related_name="+")
    score = models.PositiveSmallIntegerField("得分")
    passed = models.BooleanField("达标")
    findings = models.TextField("发现问题", blank=True)

    scope = ScopeSpec(unit="venue__unit", line="venue__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-on", "-id"]
        verbose_name = "阵地检查"
        verbose_name_plural = "阵地检查"
