"""Pages for pairing (结对帮扶 / 结对帮教): the pairing list (filters: unit subtree, kind,
category, lapsed, active), the lapsed list, the pairing form with its own person search
(namesakes told apart by role) and a warning of the served person's other active pairs, a
pairing's page with its visit log and visit form, ending a pairing, and the targets page (a
unit's target vs its active pairings, completion and ranking across the child units that
have a target or a pair, with a bar chart).

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

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the served person's other active pairs are shown under the form as soon as one is
        # entered or picked (a warning: see ``ServedPairingsView``)
        self.fields["served"].widget.attrs.update({
            "hx-get": reverse("casework:pairing_served_check"), "hx-trigger": "change",
            "hx-target": "#served-pairings", "hx-swap": "innerHTML"})


class VisitForm(UserForm):
    """Every field is checked here, the date against the pairing and the photo's type and
    size too, so one submission reports all its errors at once (``log_visit`` checks the
    same again before it writes)."""

    on = forms.DateField(label="走访日期", widget=DATE)
    kind = forms.ChoiceField(label="走访方式", choices=VisitType.choices)
    notes = forms.CharField(label="走访记录", widget=forms.Textarea(attrs={"rows": 4}), max_length=5000,
                            required=False, help_text="加密保存。")
    photo = forms.FileField(label="照片（可选）", required=False, help_text="JPG 或 PNG，不超过 5 MB。",
                            widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}))

    def __init__(self, *args, pairing: Pairing | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.pairing = pairing

    def clean_on(self):
        on = self.cleaned_data["on"]
        if on > timezone.localdate():
            raise forms.ValidationError("走访日期不能晚于今天。")
        if self.pairing is not None and on < self.pairing.started_on:
            raise forms.ValidationError(f"走访日期不能早于结对日期（{self.pairing.started_on:%Y-%m-%d}）。")
        return on

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        if photo:
            try:
                actions.check_photo(photo)
            except ActionError as e:
                raise forms.ValidationError(e.messages) from e
        return photo


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

    def get_context_data(self, **kwargs):
        # a form sent back (an error) still warns of the served person's other pairs
        form = kwargs.get("form")
        served = form.cleaned_data.get("served") if form is not None and hasattr(form, "cleaned_data") else None
        kwargs["served_pairings"] = active_pairings_of(self.request.user, served) if served else []
        return super().get_context_data(**kwargs)

    def perform(self, data):
        others = active_pairings_of(self.request.user, data["served"])
        p = actions.create_pairing(self.request.user, **{k: v for k, v in data.items() if v not in (None, "")})
        messages.success(self.request, f"已建立结对：{p}。")
        if others:  # a warning, not a refusal: a child may well have a 帮扶 and a 帮教 helper
            messages.warning(self.request, f"请注意：该服务对象另有 {len(others)} 个进行中的结对，请避免重复帮扶。")
        return p


def active_pairings_of(user, person) -> list[Pairing]:
    """The active pairings, among those ``user`` may see, of a person as the one served."""
    if person is None:
        return []
    return list(Pairing.objects.visible_to(user, VIEW).filter(served__person=person, ended_on__isnull=True)
                .select_related("helper", "unit").order_by("started_on", "pk"))


class ServedPairingsView(BusinessRequiredMixin, View):
    """The warning under the pairing form (HTMX, on a change of 服务对象): the person's
    active pairings the user may see. A warning only: ``create_pairing`` refuses just a
    second active pairing of the same helper, person and kind."""

    def get(self, request):
        field = PersonRefField(required=False)
        field.user = request.user
        try:
            person = field.clean(request.GET.get("served", ""))
        except forms.ValidationError:
            person = None
        return render(request, "casework/_served_pairings.html",
                      {"served_pairings": active_pairings_of(request.user, person)})


class PairingPersonPickView(BusinessRequiredMixin, View):
    """The name search of the pairing form: like ``people:person_pick`` (at most 20 visible
    people), each found person told apart by what matters here — 五老志愿者 or 群团干部 (who may
    be a helper), 服务对象 with its category and active pairs — and by unit, age and the
    masked ID number. Every hint comes through its own ``visible_to``."""

    def get(self, request):
        from qunli.people import queries as people_queries
        from qunli.people.models import CadreProfile, VolunteerProfile

        from .models import ServedPerson

        user, q = request.user, request.GET.get("q", "").strip()
        people = []
        if q:
            people = list(people_queries.search_people(people_queries.live_people(user), q)
                          .select_related("unit").order_by("name_sort", "pk")[:20])
        ids = [p.pk for p in people]
        volunteers = {v.person_id: v for v in VolunteerProfile.objects.visible_to(user, VIEW).filter(person_id__in=ids)}
        cadres = {c.person_id: c for c in CadreProfile.objects.visible_to(user, VIEW).filter(person_id__in=ids)
                  .select_related("unit")}
        served_categories: dict[int, set] = {}
        for pid, cats in ServedPerson.objects.visible_to(user, VIEW).filter(person_id__in=ids) \
                .values_list("person_id", "categories"):
            served_categories.setdefault(pid, set()).update(cats or [])
        paired: dict[int, int] = {}
        for pid, cat, ended in Pairing.objects.visible_to(user, VIEW).filter(served__person_id__in=ids) \
                .values_list("served__person_id", "category", "ended_on"):
            served_categories.setdefault(pid, set()).add(cat)
            if ended is None:
                paired[pid] = paired.get(pid, 0) + 1
        labels = dict(Category.choices)
        for p in people:
            v, c = volunteers.get(p.pk), cadres.get(p.pk)
            p.hints = []
            if v is not None:  # green only for one who may be a helper (``is_helper``)
                active = v.status == VolunteerProfile.Status.ACTIVE
                p.hints.append(("success" if active else "secondary", f"五老志愿者·{v.get_category_display()}"
                                + ("" if active else f"（{v.get_status_display()}）")))
            if c is not None:
                p.hints.append(("success", f"群团干部·{c.unit.name}{c.post}"))
            if p.pk in served_categories:
                cats = "、".join(labels.get(x, x) for x in sorted(served_categories[p.pk]))
                p.hints.append(("info", f"服务对象·{cats}" if cats else "服务对象"))
            if paired.get(p.pk):
                p.hints.append(("warning", f"已有 {paired[p.pk]} 个进行中的结对"))
        return render(request, "casework/_pairing_pick_results.html", {"people": people, "q": q})


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
                "visit_form": VisitForm(user=self.request.user, pairing=p, initial={"on": timezone.localdate()})
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
                               pairing=self.pairing(), initial={"on": timezone.localdate()})

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
    """The unit's target and active count, and per visible child unit with a target or a
    pair (the others are only counted, ``left_out``): target, active pairings (distinct
    persons served, pairings active on the reference date in the child's subtree), completion % and rank (by completion, then count). The counts are one
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
    # a county has dozens of child units (its bureaus, schools, townships) that run no pairing
    # programme: a unit with neither a target nor a pair is left out of the ranking and chart
    # (counted in ``left_out``), so the units that do are not lost among rows of 0
    rows = [r for r in rows if r["target"] is not None or r["active"]]
    for r in rows:
        r["pct"] = pct(r["active"], r["target"])
    ranked = sorted(rows, key=lambda r: (r["pct"] is None, -(r["pct"] or 0), -r["active"], r["unit"].path))
    for i, r in enumerate(ranked, 1):
        r["rank"] = i
    total = sum(counts.values())
    return {"unit": unit, "year": year, "kind": kind, "category": category, "reference_date": ref,
            "target": targets.get(unit.pk), "active": total, "pct": pct(total, targets.get(unit.pk)),
            "own": counts.get(unit.path, 0), "rows": ranked, "left_out": len(children) - len(ranked)}


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
            "chart_height": 60 + 44 * max(len(chart), 2),  # two bars a unit, one unit a band
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

