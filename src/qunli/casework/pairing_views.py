"""Pages for pairing (结对帮扶 / 结对帮教): the pairing list (filters: unit subtree, kind,
category, lapsed, active), the lapsed list, a pairing's page with its visit log and visit
form, ending a pairing, and the targets page (a unit's target vs its active pairings,
completion and ranking across its child units, with a bar chart).

Every read goes through ``visible_to`` (unit-grant scoping, see ARCHITECTURE.md): a pairing
outside the grant is a 404. The served person is shown by the masked name only; visit notes
and photos come through the access-logged ``pairing_actions.reveal_visits`` / ``open_photo``."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.db.models.functions import Substr
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from qunli.core.actions import ActionError
from qunli.core.api import get_visible
from qunli.core.generic import ActionFormView, BusinessRequiredMixin, Column, ObjectDetailView, ObjectListView
from qunli.core.scoping import CHANGE, VIEW, can, grants_of
from qunli.orgs.filters import _blank, _FilterForm
from qunli.orgs.models import Unit
from qunli.orgs.widgets import UnitPickerField
from qunli.people.forms import PersonRefField, PersonRefMixin, UserForm

from . import pairing_actions as actions
from .models import Category, Pairing, PairingKind, PairingTarget, Visit, VisitType
from .views import ReadableHistoryMixin

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


# --- forms ---------------------------------------------------------------------------------------

class PairingFilterForm(_FilterForm):
    unit = UnitPickerField(label="单位（含下级）", action=VIEW, active=False)
    kind = forms.ChoiceField(label="结对类型", choices=_blank(PairingKind.choices))
    category = forms.ChoiceField(label="对象类别", choices=_blank(Category.choices))
    lapsed = forms.ChoiceField(label="走访不足", choices=[("", "全部"), ("1", "是"), ("0", "否")])
    active = forms.ChoiceField(label="状态", choices=[("", "全部"), ("1", "进行中"), ("0", "已结束")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].bind(self.user)


class PairingForm(PersonRefMixin, UserForm):
    unit = UnitPickerField(label="负责单位")
    kind = forms.ChoiceField(label="结对类型", choices=PairingKind.choices)
    category = forms.ChoiceField(label="服务对象类别", choices=_blank(Category.choices, "请选择"))
    helper = PersonRefField(label="帮扶人（五老志愿者或群团干部）")
    served = PersonRefField(label="服务对象", help_text="填写人员编号或身份证号；列表中只显示脱敏姓名。")
    started_on = forms.DateField(label="结对日期", widget=DATE, required=False)
    min_visits_per_month = forms.IntegerField(label="每月最少走访次数", min_value=1, max_value=31, required=False,
                                              help_text="留空按结对类型的默认值。")


class VisitForm(UserForm):
    on = forms.DateField(label="走访日期", widget=DATE)
    kind = forms.ChoiceField(label="走访方式", choices=VisitType.choices)
    notes = forms.CharField(label="走访记录", widget=forms.Textarea(attrs={"rows": 4}), max_length=5000,
                            required=False, help_text="加密保存。")
    photo = forms.FileField(label="照片（可选）", required=False, help_text="JPG 或 PNG，不超过 5 MB。",
                            widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}))


class EndForm(UserForm):
    ended_on = forms.DateField(label="结束日期", widget=DATE, required=False)
    reason = forms.CharField(label="结束原因", max_length=200)


class TargetFilterForm(_FilterForm):
    unit = UnitPickerField(label="单位", action=VIEW, active=False)
    year = forms.IntegerField(label="年度", min_value=2000, max_value=2100)
    kind = forms.ChoiceField(label="结对类型", choices=PairingKind.choices)
    category = forms.ChoiceField(label="对象类别", choices=Category.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].bind(self.user)


class TargetForm(UserForm):
    unit = UnitPickerField(label="单位")
    year = forms.IntegerField(label="年度", min_value=2000, max_value=2100)
    kind = forms.ChoiceField(label="结对类型", choices=PairingKind.choices)
    category = forms.ChoiceField(label="对象类别", choices=Category.choices)
    target = forms.IntegerField(label="目标人数", min_value=1, error_messages={"min_value": "目标人数须至少为1人。"})


# --- lists -----------------------------------------------------------------------------------------

class PairingListView(ObjectListView):
    model = Pairing
    title = "结对帮扶"
    export_name = "结对"
    filter_form = PairingFilterForm
    add_url_name = "casework:pairing_add"
    select_related = ("helper", "unit")
    default_sort = "-pk"
    columns = [
        Column("helper", "帮扶人", accessor="helper.name", link=True),
        Column("served", "服务对象", accessor="served_name_mask"),
        Column("kind", "结对类型", sort="kind"),
        Column("category", "对象类别", sort="category"),
        Column("unit", "负责单位", accessor="unit.name", sort="unit__path"),
        Column("started_on", "结对日期", sort="started_on"),
        Column("min_visits_per_month", "每月最少走访"),
        Column("recent_visits", "近期走访", sort="recent_visits"),
        Column("lapsed", "走访不足", sort="lapsed"),
        Column("ended_on", "结束日期", sort="ended_on"),
    ]

    def base_queryset(self):
        return super().base_queryset().with_lapse()

    def apply_filters(self, qs, data):
        unit, lapsed, active = data.pop("unit", None), data.pop("lapsed", ""), data.pop("active", "")
        if unit is not None:
            qs = qs.filter(unit__path__startswith=unit.path)
        if lapsed in ("0", "1"):
            qs = qs.filter(lapsed=lapsed == "1")
        if active in ("0", "1"):
            qs = qs.filter(ended_on__isnull=active == "1")
        return super().apply_filters(qs, data)


class LapsedListView(PairingListView):
    title = "走访不足的结对"
    export_name = "走访不足的结对"
    default_sort = "started_on"

    def base_queryset(self):
        return super().base_queryset().filter(lapsed=True)


class PairingCreateView(ActionFormView):
    form_class = PairingForm
    template_name = "casework/pairing_form.html"
    title = "建立结对"

    def perform(self, data):
        p = actions.create_pairing(self.request.user, **{k: v for k, v in data.items() if v not in (None, "")})
        messages.success(self.request, f"已建立结对：{p}。")
        return p


# --- one pairing -------------------------------------------------------------------------------------

def visible_pairing(user, pk, act=VIEW) -> Pairing:
    return get_visible(Pairing.objects.with_lapse().select_related("helper", "unit", "unit__line", "served"),
                       user, pk, act)


class PairingDetailView(ReadableHistoryMixin, ObjectDetailView):
    model = Pairing
    template_name = "casework/pairing_detail.html"

    def get_object(self):
        return visible_pairing(self.request.user, self.kwargs["pk"])

    def extra_context_for(self, p) -> dict:
        can_change = can(self.request.user, CHANGE, p)
        return {"title": str(p), "tabs": [("detail", "结对"), ("history", "修改记录")],
                "visits": list(p.visits.select_related("recorded_by")), "can_change": can_change,
                "visit_form": VisitForm(user=self.request.user, initial={"on": timezone.localdate()})
                if can_change and p.is_active else None}


class PairingVisitView(ActionFormView):
    form_class = VisitForm
    template_name = "casework/pairing_form.html"
    title = "登记走访"

    def pairing(self) -> Pairing:
        if not hasattr(self, "_pairing"):
            self._pairing = visible_pairing(self.request.user, self.kwargs["pk"], CHANGE)
        return self._pairing

    def get(self, request, *args, **kwargs):
        self.pairing()
        return super().get(request, *args, **kwargs)

    def get_form(self, data=None):
        self.pairing()
        return self.form_class(data, self.request.FILES if data is not None else None, **self.form_kwargs(),
                               initial={"on": timezone.localdate()})

    def get_context_data(self, **kwargs):
        p = self.pairing()
        return super().get_context_data(object=p, cancel_url=p.get_absolute_url(), multipart=True, **kwargs)

    def perform(self, d):
        actions.log_visit(self.request.user, self.pairing(), on=d["on"], kind=d["kind"], notes=d["notes"],
                          photo=d.get("photo"))
        messages.success(self.request, "已登记走访。")
        return self.pairing()


class PairingEndView(PairingVisitView):
    form_class = EndForm
    title = "结束结对"

    def get_form(self, data=None):
        return self.form_class(data, **self.form_kwargs())

    def perform(self, d):
        p = actions.end_pairing(self.request.user, self.pairing(), reason=d["reason"], ended_on=d.get("ended_on"))
        messages.success(self.request, "结对已结束。")
        return p


class PairingRevealView(BusinessRequiredMixin, View):
    """POST only: the visit notes of one pairing, written to the access log first."""

    def post(self, request, pk):
        p = visible_pairing(request.user, pk, CHANGE)
        notes = actions.reveal_visits(request.user, p, purpose=(request.POST.get("purpose") or "").strip()[:200])
        visits = list(p.visits.all())
        for v in visits:
            v.revealed = notes.get(v.pk, "")
        return render(request, "casework/pairing_revealed.html", {"object": p, "visits": visits,
                                                                    "title": f"{p}：走访记录"})


class VisitPhotoView(BusinessRequiredMixin, View):
    def get(self, request, pk):
        v = Visit.objects.visible_to(request.user, CHANGE).select_related("pairing", "pairing__unit") \
            .filter(pk=pk).first()
        if v is None or not v.photo_name:
            raise Http404("照片不存在或不在您的数据范围内。")
        try:
            fh = actions.open_photo(request.user, v)
        except (ActionError, FileNotFoundError) as e:
            raise Http404("照片不存在。") from e
        resp = FileResponse(fh, content_type=v.photo_mime)
        resp["Cache-Control"] = "private, no-store"
        resp["X-Content-Type-Options"] = "nosniff"
        return resp


# --- targets, completion and ranking ------------------------------------------------------------------

def reference_date(year: int, today: dt.date | None = None) -> dt.date:
    """Live for the current year (today); the year's last day for a past year."""
    today = today or timezone.localdate()
    return min(today, dt.date(year, 12, 31))


def target_progress(user, unit: Unit, *, year: int, kind: str, category: str, today=None) -> dict:
    """The unit's target and active count, and per visible child unit: target, active
    pairings (distinct persons served, pairings active on the reference date in the child's
    subtree), completion % and rank (by completion, then count). The counts are one
    aggregate query grouped by the child's path prefix, read through ``visible_to``."""
    ref = reference_date(year, today)
    children = list(Unit.objects.visible_to(user, VIEW).filter(path__startswith=unit.path, depth=unit.depth + 1)
                    .order_by("path"))
    targets = dict(PairingTarget.objects.visible_to(user, VIEW)
                   .filter(unit__in=[unit, *children], year=year, kind=kind, category=category)
                   .values_list("unit_id", "target"))
    width = len(unit.path) + Unit.steplen
    counts = dict(Pairing.objects.visible_to(user, VIEW)
                  .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=ref), unit__path__startswith=unit.path,
                          kind=kind, category=category, started_on__lte=ref)
                  .annotate(branch=Substr("unit__path", 1, width)).order_by().values("branch")
                  .annotate(n=Count("served", distinct=True)).values_list("branch", "n"))

    def pct(n, t):
        return round(100 * n / t, 1) if t else None

    rows = [{"unit": c, "target": targets.get(c.pk), "active": counts.get(c.path, 0)} for c in children]
    for r in rows:
        r["pct"] = pct(r["active"], r["target"])
    ranked = sorted(rows, key=lambda r: (r["pct"] is None, -(r["pct"] or 0), -r["active"], r["unit"].path))
    for i, r in enumerate(ranked, 1):
        r["rank"] = i
    total = sum(counts.values())
    return {"unit": unit, "year": year, "kind": kind, "category": category, "reference_date": ref,
            "target": targets.get(unit.pk), "active": total, "pct": pct(total, targets.get(unit.pk)),
            "own": counts.get(unit.path, 0), "rows": ranked}


def default_unit(user) -> Unit | None:
    for g in grants_of(user):
        u = Unit.objects.visible_to(user, VIEW).filter(pk=g.unit_id).first()
        if u is not None:
            return u
    return None


class TargetsView(BusinessRequiredMixin, View):
    def get(self, request):
        today = timezone.localdate()
        form = TargetFilterForm(request.GET or None, user=request.user,
                                initial={"year": today.year, "kind": PairingKind.HELP, "category": Category.LEFT_BEHIND})
        data = form.cleaned_data if form.is_bound and form.is_valid() else {}
        unit = data.get("unit") or default_unit(request.user)
        progress = None
        if unit is not None:
            progress = target_progress(request.user, unit, year=data.get("year") or today.year,
                                       kind=data.get("kind") or PairingKind.HELP,
                                       category=data.get("category") or Category.LEFT_BEHIND)
        chart = [[r["unit"].name, r["active"], r["target"] or 0] for r in progress["rows"]] if progress else []
        return render(request, "casework/pairing_targets.html", {
            "title": "结对目标与完成情况", "filter_form": form, "progress": progress, "chart": chart,
            "kind_label": PairingKind(progress["kind"]).label if progress else "",
            "category_label": Category(progress["category"]).label if progress else "",
            "can_set": progress is not None and can(request.user, CHANGE, unit)})


class TargetSetView(ActionFormView):
    form_class = TargetForm
    title = "设定结对目标"

    def perform(self, d):
        t = actions.set_target(self.request.user, **d)
        messages.success(self.request, f"已设定：{t.unit.name} {t}。")
        return t

    def success_url(self, t) -> str:
        return (f"{reverse('casework:pairing_targets')}?unit={t.unit_id}&year={t.year}&kind={t.kind}"
                f"&category={t.category}")

