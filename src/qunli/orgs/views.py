"""Pages for the organization tree: the tree browser, units, leadership teams, base
conditions, venues, and the system administrator's lines and checklists.

Reads go through ``visible_to`` (an object outside the grant is a 404); writes call
``orgs.actions`` (a refusal is a form error, a missing right a 403)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import TemplateView

from qunli.core.actions import ActionError
from qunli.core.admin_views import KindRequiredMixin
from qunli.core.generic import (
    ActionFormView,
    BusinessRequiredMixin,
    Column,
    ObjectDetailView,
    ObjectListView,
    form_action_error,
)
from qunli.core.models import User
from qunli.core.params import parse_id
from qunli.core.scoping import CHANGE, VIEW, can, may_restructure

from . import actions, queries, widgets
from .filters import PositionFilterForm, UnitFilterForm, VenueFilterForm
from .forms import (
    SPLIT_MAX_ROWS,
    AppointForm,
    ChecklistForm,
    ConditionsForm,
    DissolveUnitForm,
    EndPositionForm,
    InspectionForm,
    LineForm,
    MergeUnitForm,
    MoveUnitForm,
    SplitPartFormSet,
    SplitUnitForm,
    UnitForm,
    VenueForm,
)
from .models import BaseCondition, Checklist, Inspection, Line, Position, Unit, Venue


def get_visible(model, user, pk, *, select_related=(), action=VIEW):
    """One object the user may see, or 404 (the same answer whether it is absent or out of reach)."""
    qs = model.objects.visible_to(user, VIEW)
    if select_related:
        qs = qs.select_related(*select_related)
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise Http404("对象不存在或不在您的数据范围内。")
    if action == CHANGE and not can(user, CHANGE, obj):
        raise PermissionDenied("您没有修改该对象的权限。")
    return obj


class ObjectActionView(ActionFormView):
    """A form about one object the user may change: 404 outside the grant, 403 when the
    grant is read-only. Subclasses set ``model`` and implement ``perform``."""

    model = None
    select_related: tuple[str, ...] = ()
    template_name = "orgs/action_form.html"
    success_message = "已保存。"

    def get_object(self):
        if not hasattr(self, "_object"):
            self._object = get_visible(self.model, self.request.user, self.kwargs["pk"],
                                       select_related=self.select_related, action=CHANGE)
        return self._object

    def form_kwargs(self) -> dict:
        self.get_object()
        return {"user": self.request.user}

    def get_title(self) -> str:
        return self.title

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["object"] = self.get_object()
        ctx["title"] = self.get_title()
        ctx["cancel_url"] = self.get_object().get_absolute_url()
        return ctx

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if response.status_code == 302 and self.success_message:
            messages.success(request, self.success_message)
        return response


# --- tree ---------------------------------------------------------------------------

TREE_SEARCH_LIMIT = 50


class TreeView(BusinessRequiredMixin, TemplateView):
    template_name = "orgs/tree.html"

    def get(self, request, *args, **kwargs):
        q = request.GET.get("q", "").strip()
        ctx = {"title": "组织树", "q": q}
        if q:
            results = list(queries.search_units(request.user, q, limit=TREE_SEARCH_LIMIT + 1))
            ctx["results"] = widgets.with_full_names(request.user, results[:TREE_SEARCH_LIMIT])
            ctx["more"] = len(results) > TREE_SEARCH_LIMIT  # said, never silent: the unit list has them all
        if request.htmx and not request.htmx.boosted and "q" in request.GET:
            return render(request, "orgs/_tree_search.html", ctx)
        ctx["roots"] = queries.tree_roots(request.user)
        return self.render_to_response(self.get_context_data(**ctx))


class TreeChildrenView(BusinessRequiredMixin, View):
    """The children of one node, loaded when the node is expanded."""

    def get(self, request, pk):
        unit = get_visible(Unit, request.user, pk)
        return render(request, "orgs/_tree_nodes.html", {"nodes": queries.children_of(request.user, unit)})


# --- the unit picker ----------------------------------------------------------------------

class UnitPickerView(BusinessRequiredMixin, View):
    """Behind every unit picker (``orgs.widgets``). ``?<name>_q=…`` answers at most twenty
    matching units as buttons; ``?pick=<id>`` answers the whole widget with that unit
    chosen (or none, when the id is empty or outside the picker's units). Candidates are
    ``unit_scope``: what the user may change (or see), narrowed by the picker's filters."""

    def get(self, request):
        name, html_id = request.GET.get("name", "unit"), request.GET.get("id", "")
        html_id = html_id or f"id_{name}"
        if not (widgets.valid_name(name) and widgets.valid_name(html_id)):
            return HttpResponseBadRequest("参数无效。")
        params = {k: request.GET[k] for k in widgets.FILTER_KEYS if k in request.GET}
        scope = widgets.unit_scope(request.user, params)
        if "pick" in request.GET:
            pick = parse_id(request.GET["pick"])
            unit = scope.filter(pk=pick).first() if pick is not None else None
            return HttpResponse(widgets.render_picker(request, name=name, html_id=html_id, params=params, unit=unit))
        q = (request.GET.get(f"{name}_q") or request.GET.get("q") or "").strip()
        units = widgets.with_full_names(request.user, widgets.search(scope, q))
        for u in units:
            u.pick_url = widgets.picker_url(name, html_id, params, pick=u.pk)
        return render(request, "orgs/_unit_picker_results.html",
                      {"units": units, "q": q, "html_id": html_id, "limit": widgets.PICKER_LIMIT})


# --- units ----------------------------------------------------------------------------

class UnitListView(ObjectListView):
    model = Unit
    title = "单位"
    add_url_name = "orgs:unit_add"
    export_name = "单位"
    filter_form = UnitFilterForm
    select_related = ("line",)
    search_fields = ("name__icontains", "division_code__startswith")
    search_placeholder = "名称或行政区划代码"
    default_sort = "path"
    under_path = "path"
    columns = [
        Column("name", "名称", sort="name_sort", link=True),
        Column("parent_name", "上级单位"),
        Column("level", "层级", sort="level"),
        Column("line", "条线", accessor="line.name", sort="line__order"),
        Column("kind", "类别", sort="kind"),
        Column("division_code", "行政区划代码", sort="division_code"),
        Column("status", "状态", sort="status"),
    ]

    def base_queryset(self):
        # two 中林村妇联 in two townships are told apart by the unit above each
        return queries.with_parent_name(super().base_queryset())

    def apply_filters(self, qs, data):
        team, lacks = data.pop("team", ""), data.pop("lacks", "")
        qs = super().apply_filters(qs, data)
        if team:
            qs = queries.with_team_state(qs, complete=team == "complete")
        if lacks:
            qs = qs.filter(queries.lacks_q(lacks))
        return qs


UNIT_TABS = [("detail", "概况"), ("children", "下级单位"), ("team", "班子"), ("conditions", "四缺"),
             ("venues", "阵地"), ("events", "机构变动"), ("history", "修改记录")]


class UnitDetailView(ObjectDetailView):
    model = Unit
    template_name = "orgs/unit_detail.html"
    select_related = ("line", "successor")

    # the unit's own team, base conditions, venues, volunteers and teams are part of its
    # history: each is scoped by the unit (and its line), so whoever sees the unit sees them.
    # Not memberships (scoped by their own line: a village's 妇联 members are not the union's
    # to read), cases (need-to-know) or archives rows stamped with the unit's path.
    HISTORY_TYPES = ("orgs.position", "orgs.basecondition", "orgs.venue", "orgs.inspection",
                     "people.volunteerprofile", "people.cadreprofile", "people.team")

    def history(self, obj):
        from qunli.core.models import ChangeLog

        return (ChangeLog.objects.filter(Q(object_type="orgs.unit", object_id=str(obj.pk))
                                         | Q(unit_path=obj.path, object_type__in=self.HISTORY_TYPES))
                .select_related("actor").order_by("-seq")[:100])

    def extra_context_for(self, unit) -> dict:
        user = self.request.user
        tab = self.request.GET.get("tab", "detail")
        ctx = {"title": unit.name, "tabs": UNIT_TABS, "ancestors": queries.visible_ancestors(user, unit),
               "can_change": can(user, CHANGE, unit), "can_restructure": may_restructure(user, unit)}
        if tab == "detail":
            ctx["team"] = queries.review_team(queries.current_positions(user, unit))
            ctx["condition"] = queries.condition_of(user, unit)
            ctx["child_count"] = queries.visible_children(user, unit).count()
        elif tab == "children":
            ctx["children"] = queries.children_of(user, unit)
        elif tab == "team":
            ctx["team"] = queries.review_team(queries.current_positions(user, unit))
            ctx["past_positions"] = queries.past_positions(user, unit)
        elif tab == "conditions":
            ctx["condition"] = queries.condition_of(user, unit)
        elif tab == "venues":
            ctx["venues"] = queries.venues_of(user, unit)
        elif tab == "events":
            ctx["events"] = queries.events_of(user, unit)
        return ctx


class UnitAddView(ActionFormView):
    form_class = UnitForm
    template_name = "orgs/action_form.html"
    title = "新增下级单位"

    def parent(self):
        if not hasattr(self, "_parent"):
            # Only ?parent= fixes the parent; a parent chosen in the form goes through the
            # picker field, which turns an id outside the grant into a form error.
            pk = parse_id(self.request.GET.get("parent"))
            self._parent = get_visible(Unit, self.request.user, pk, action=CHANGE) if pk is not None else None
        return self._parent

    def form_kwargs(self):
        return {"user": self.request.user, "parent": self.parent()}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        parent = self.parent()
        if parent:
            ctx["title"] = f"在“{parent.name}”下新增单位"
            ctx["cancel_url"] = parent.get_absolute_url()
        return ctx

    def perform(self, data):
        data = dict(data)
        parent = data.pop("parent")
        return actions.create_unit(self.request.user, parent=parent, **data)


class UnitEditView(ObjectActionView):
    model = Unit
    form_class = UnitForm
    select_related = ("line",)

    def get_title(self):
        return f"修改单位：{self.get_object().name}"

    def get_form(self, data=None):
        unit = self.get_object()
        initial = {f: getattr(unit, f) for f in actions.UNIT_FIELDS}
        initial["line"] = unit.line_id
        return UnitForm(data, initial=initial, unit=unit, user=self.request.user)

    def perform(self, data):
        return actions.update_unit(self.request.user, self.get_object(), **data)


class UnitMergeView(ObjectActionView):
    model = Unit
    form_class = MergeUnitForm
    success_message = "已合并。"

    def get_title(self):
        return f"合并单位：{self.get_object().name}"

    def form_kwargs(self):
        return {"user": self.request.user, "unit": self.get_object()}

    def perform(self, data):
        return actions.merge_unit(self.request.user, self.get_object(), data["into"], on=data["on"],
                                  note=data["note"], document_no=data["document_no"])

    def success_url(self, result):
        return self.get_object().get_absolute_url() + "?tab=events"


class UnitDissolveView(UnitMergeView):
    form_class = DissolveUnitForm
    success_message = "已撤销。"

    def get_title(self):
        return f"撤销单位：{self.get_object().name}"

    def perform(self, data):
        return actions.dissolve_unit(self.request.user, self.get_object(), on=data["on"], note=data["note"],
                                     document_no=data["document_no"])


class UnitMoveView(ObjectActionView):
    """调整隶属: move a unit (with its subtree) under another parent."""

    model = Unit
    form_class = MoveUnitForm
    select_related = ("line",)
    success_message = "已调整隶属。"

    def get_title(self):
        return f"调整隶属：{self.get_object().name}"

    def form_kwargs(self):
        return {"user": self.request.user, "unit": self.get_object()}

    def perform(self, data):
        return actions.move_unit(self.request.user, self.get_object(), data["new_parent"])

    def success_url(self, result):
        return result.get_absolute_url() + "?tab=events"


class UnitSplitView(ObjectActionView):
    """拆分: two or more new sibling units replace this one, which is closed as 已拆分."""

    model = Unit
    form_class = SplitUnitForm
    select_related = ("line",)
    template_name = "orgs/unit_split.html"
    success_message = "已拆分。"
    default_rows = 3

    def get_title(self):
        return f"拆分单位：{self.get_object().name}"

    def form_kwargs(self):
        return {"user": self.request.user, "unit": self.get_object()}

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["max_rows"] = SPLIT_MAX_ROWS
        return ctx

    def get_formset(self, data=None, rows: int | None = None, initial=None):
        unit = self.get_object()
        if initial is None:
            initial = [{"level": unit.level}] * (rows or self.default_rows)
        return SplitPartFormSet(data, prefix="parts", initial=initial)

    def get(self, request, *args, **kwargs):
        rows = request.GET.get("rows", "")
        rows = min(max(int(rows), 2), SPLIT_MAX_ROWS) if rows.isdecimal() else self.default_rows
        return self.render_to_response(self.get_context_data(form=self.get_form(), formset=self.get_formset(rows=rows)))

    def post(self, request, *args, **kwargs):
        unit = self.get_object()
        if "add_row" in request.POST:  # keep what was typed, add one empty row (no JavaScript needed)
            posted = self.get_formset(request.POST)
            initial = [{"name": f["name"].value() or "", "short_name": f["short_name"].value() or "",
                        "level": f["level"].value() or unit.level} for f in posted.forms]
            initial = (initial + [{"level": unit.level}])[:SPLIT_MAX_ROWS]
            form = self.form_class(initial={k: request.POST.get(k) for k in ("on", "document_no")},
                                   **self.form_kwargs())
            return self.render_to_response(self.get_context_data(form=form, formset=self.get_formset(initial=initial)))
        form, formset = self.get_form(request.POST), self.get_formset(request.POST)
        if form.is_valid() and formset.is_valid():
            parts = [{"name": f.cleaned_data["name"].strip(), "short_name": f.cleaned_data.get("short_name") or "",
                      "level": f.cleaned_data["level"], "line": unit.line, "kind": unit.kind}
                     for f in formset.forms if (f.cleaned_data.get("name") or "").strip()]
            try:
                actions.split_unit(request.user, unit, parts, on=form.cleaned_data["on"],
                                   document_no=form.cleaned_data["document_no"])
            except ActionError as e:
                form_action_error(form, e)
            else:
                messages.success(request, self.success_message)
                return redirect(unit.get_absolute_url() + "?tab=events")
        return self.render_to_response(self.get_context_data(form=form, formset=formset))


class ConditionsEditView(ObjectActionView):
    model = Unit
    form_class = ConditionsForm

    def get_title(self):
        return f"基础条件（四缺）：{self.get_object().name}"

    def get_form(self, data=None):
        cond = queries.condition_of(self.request.user, self.get_object())
        initial = {}
        if cond is not None:
            initial = {f: getattr(cond, f) for f in (*BaseCondition.LACKS, "staff_count", "annual_funding", "note")}
        return ConditionsForm(data, initial=initial, user=self.request.user)

    def perform(self, data):
        return actions.set_conditions(self.request.user, self.get_object(), **data)

    def success_url(self, result):
        return self.get_object().get_absolute_url() + "?tab=conditions"


class VenueAddView(ObjectActionView):
    model = Unit
    form_class = VenueForm

    def get_title(self):
        return f"新增阵地：{self.get_object().name}"

    def perform(self, data):
        return actions.create_venue(self.request.user, unit=self.get_object(), **data)


# --- leadership teams ---------------------------------------------------------------

class PositionListView(ObjectListView):
    model = Position
    title = "班子成员（在任）"
    export_name = "班子成员"
    filter_form = PositionFilterForm
    select_related = ("unit", "unit__line", "person")
    search_fields = ("person__name__icontains", "unit__name__icontains")
    search_placeholder = "姓名或单位名称"
    default_sort = "unit__path"
    lookup_line = "unit__line"
    columns = [
        Column("unit", "单位", accessor="unit.name", sort="unit__path", link=True),
        Column("line", "条线", accessor="unit.line.name"),
        Column("title", "职务", accessor="display_title", sort="title"),
        Column("person", "姓名", accessor="person.name", sort="person__name_sort"),
        Column("is_parttime", "兼职"),
        Column("started_on", "任职日期", sort="started_on"),
        Column("term_ends_on", "任期届满", sort="term_ends_on"),
    ]

    def base_queryset(self):
        return super().base_queryset().filter(ended_on__isnull=True)

    def apply_filters(self, qs, data):
        import datetime as dt

        expired = data.pop("expired", "")
        qs = super().apply_filters(qs, data)
        today = dt.date.today()
        if expired == "1":
            qs = qs.filter(term_ends_on__lt=today)
        elif expired == "0":
            qs = qs.filter(Q(term_ends_on__gte=today) | Q(term_ends_on__isnull=True))
        return qs


class AppointView(ObjectActionView):
    model = Unit
    form_class = AppointForm
    template_name = "orgs/appoint_form.html"
    success_message = "已任职。"

    def get_title(self):
        return f"任职：{self.get_object().name}"

    def perform(self, data):
        return actions.appoint(self.request.user, unit=self.get_object(), **data)


class EndPositionView(ObjectActionView):
    model = Position
    form_class = EndPositionForm
    select_related = ("unit", "unit__line", "person")
    template_name = "orgs/end_position.html"
    success_message = "已办理离任。"

    def get_title(self):
        p = self.get_object()
        return f"离任：{p.unit.name} {p.display_title} {p.person.name}"

    def form_kwargs(self):
        return {"user": self.request.user, "position": self.get_object()}

    def get_context_data(self, **kwargs):
        import datetime as dt

        ctx = super().get_context_data(**kwargs)
        form = ctx.get("form")
        on = (form.cleaned_data.get("on") if form is not None and form.is_bound and hasattr(form, "cleaned_data")
              else None) or dt.date.today()
        ctx["warning"] = actions.early_departure_warning(self.get_object(), on)
        return ctx

    def perform(self, data):
        return actions.end_position(self.request.user, self.get_object(), on=data["on"], reason=data["reason"],
                                    confirm_early=data["confirm_early"])


# --- venues ---------------------------------------------------------------------------

class VenueListView(ObjectListView):
    model = Venue
    title = "阵地"
    export_name = "阵地"
    filter_form = VenueFilterForm
    select_related = ("unit", "unit__line")
    search_fields = ("name__icontains", "unit__name__icontains")
    search_placeholder = "阵地或单位名称"
    default_sort = "unit__path"
    lookup_line = "unit__line"
    columns = [
        Column("name", "名称", sort="name", link=True),
        Column("kind", "类型", sort="kind"),
        Column("unit", "单位", accessor="unit.name", sort="unit__path"),
        Column("area_m2", "面积（㎡）", sort="area_m2"),
        Column("latest_score", "最近得分", sort="latest_score"),
        Column("latest_passed", "最近是否达标"),
        Column("latest_inspected_on", "最近检查日期", sort="latest_inspected_on"),
    ]

    def apply_filters(self, qs, data):
        passed = data.pop("passed", "")
        qs = super().apply_filters(qs, data)
        if passed == "none":
            qs = qs.filter(latest_passed__isnull=True)
        elif passed in ("0", "1"):
            qs = qs.filter(latest_passed=passed == "1")
        return qs


def checklists_for(venue: Venue) -> list[Checklist]:
    return [c for c in Checklist.objects.order_by("name") if not c.venue_kinds or venue.kind in c.venue_kinds]


class VenueDetailView(ObjectDetailView):
    model = Venue
    template_name = "orgs/venue_detail.html"
    select_related = ("unit", "unit__line")

    def extra_context_for(self, venue) -> dict:
        user = self.request.user
        return {
            "title": venue.name,
            "tabs": [("detail", "概况"), ("history", "修改记录")],
            "inspections": (Inspection.objects.visible_to(user).filter(venue=venue).select_related("checklist")
                            .order_by("-on", "-id")[:50]),
            "checklists": checklists_for(venue),
            "can_change": can(user, CHANGE, venue),
        }

    def history(self, obj):
        from qunli.core.models import ChangeLog

        ids = [str(i) for i in Inspection.objects.filter(venue=obj).values_list("pk", flat=True)]
        return (ChangeLog.objects.filter(Q(object_type="orgs.venue", object_id=str(obj.pk))
                                         | Q(object_type="orgs.inspection", object_id__in=ids))
                .select_related("actor").order_by("-seq")[:100])


class InspectionView(ObjectActionView):
    model = Venue
    select_related = ("unit", "unit__line")
    template_name = "orgs/inspection_form.html"
    success_message = "已记录检查结果。"

    def checklist(self):
        pk = self.request.POST.get("checklist") or self.request.GET.get("checklist")
        options = checklists_for(self.get_object())
        chosen = next((c for c in options if str(c.pk) == str(pk)), None)
        if chosen is None and options:
            chosen = options[0]
        if chosen is None:
            raise Http404("没有适用于该阵地的检查标准。")
        return chosen, options

    def get_title(self):
        return f"阵地检查：{self.get_object().name}"

    def get_form(self, data=None):
        checklist, _ = self.checklist()
        return InspectionForm(data, checklist=checklist, user=self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["checklist"], ctx["checklists"] = self.checklist()
        return ctx

    def perform(self, data):
        return actions.record_inspection(self.request.user, self.get_object(), checklist=data["checklist"],
                                         on=data["on"], inspector=data["inspector"],
                                         met_item_ids=[int(i) for i in data["met_items"]],
                                         findings=data["findings"])

    def success_url(self, result):
        return self.get_object().get_absolute_url()


# --- system administrator: lines and checklists ----------------------------------------

class LineListView(KindRequiredMixin, View):
    """Lines are configuration, not business data: for the system administrator."""

    kinds = (User.Kind.SYSADMIN,)

    def get(self, request, form=None):
        return render(request, "orgs/line_list.html", {"title": "条线", "lines": Line.objects.order_by("order", "id"),
                                                       "form": form or LineForm()})

    def post(self, request):
        form = LineForm(request.POST)
        if form.is_valid():
            try:
                line = actions.create_line(request.user, **form.cleaned_data)
            except ActionError as e:
                form_action_error(form, e)
            else:
                messages.success(request, f"已新增条线“{line.name}”。")
                return redirect("orgs:line_list")
        return self.get(request, form=form)


class ChecklistEditView(KindRequiredMixin, View):
    """新增/修改检查标准 (七有, 五有一能, a 希望小屋 standard …): configuration, for the system
    administrator; every venue kind can then be inspected against a standard of its own."""

    kinds = (User.Kind.SYSADMIN,)

    def _checklist(self, pk):
        return get_object_or_404(Checklist, pk=pk) if pk else None

    def get(self, request, pk=None, form=None):
        checklist = self._checklist(pk)
        if form is None:
            initial = {}
            if checklist:
                initial = {"name": checklist.name, "description": checklist.description,
                           "venue_kinds": checklist.venue_kinds, "pass_score": checklist.pass_score,
                           "items_text": "\n".join(f"{i.text}|{i.points}" for i in checklist.items.all())}
            form = ChecklistForm(initial=initial)
        title = f"修改检查标准：{checklist.name}" if checklist else "新增检查标准"
        return render(request, "core/object_form.html", {"form": form, "title": title})

    def post(self, request, pk=None):
        checklist = self._checklist(pk)
        form = ChecklistForm(request.POST)
        if form.is_valid():
            try:
                saved = actions.save_checklist(request.user, checklist, **form.cleaned_data)
            except ActionError as e:
                form_action_error(form, e)
            else:
                messages.success(request, f"已保存检查标准“{saved.name}”。")
                return redirect("orgs:checklist_list")
        return self.get(request, pk, form=form)


class ChecklistListView(KindRequiredMixin, View):
    kinds = (User.Kind.SYSADMIN,)

    def get(self, request):
        from .models import VenueKind

        checklists = Checklist.objects.order_by("name").prefetch_related("items")
        kinds = dict(VenueKind.choices)
        rows = [(c, [kinds.get(k, k) for k in c.venue_kinds]) for c in checklists]
        covered = {k for c in checklists for k in c.venue_kinds} if all(c.venue_kinds for c in checklists) else set(kinds)
        uncovered = [label for k, label in kinds.items() if k not in covered]
        return render(request, "orgs/checklist_list.html", {"title": "检查标准", "rows": rows, "uncovered": uncovered})

