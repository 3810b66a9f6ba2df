"""The dashboard (工作台概览): figures for the selected subtree, all from reports.queries."""

from django.http import Http404
from django.views.generic import TemplateView

from qunli.core.generic import BusinessRequiredMixin
from qunli.core.params import parse_id
from qunli.core.scoping import VIEW, grants_of
from qunli.orgs.models import Unit, UnitStatus

from . import queries

PICK_LIMIT = 20
CHILDREN_LIMIT = 100


class DashboardView(BusinessRequiredMixin, TemplateView):
    template_name = "reports/dashboard.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        sel = unit_selection(self.request)
        stats = queries.dashboard(self.request.user, sel["unit"])
        ctx.update(title="工作台概览", stats=stats, chart_data=_chart_data(stats), **sel)
        return ctx


def selected_unit(request):
    raw = request.GET.get("unit", "").strip()
    if not raw:
        return None
    pk = parse_id(raw)
    if pk is None:
        raise Http404("单位编号无效。")
    try:
        return Unit.objects.visible_to(request.user, VIEW).get(pk=pk)
    except Unit.DoesNotExist as e:
        raise Http404("单位不存在或不在您的数据范围内。") from e


def unit_selection(request) -> dict:
    """The subtree chooser shared by the dashboards (template ``reports/_unit_select.html``):
    the selected unit (``?unit=``, None = all the user's grants), the grant units, the
    children to drill into, the breadcrumbs and the name search (``?find=``)."""
    user = request.user
    unit = selected_unit(request)
    visible = Unit.objects.visible_to(user, VIEW)
    find = request.GET.get("find", "").strip()[:50]
    grant_unit_ids = sorted({g.unit_id for g in grants_of(user)})
    if unit is None:
        scope_units = list(Unit.objects.filter(pk__in=grant_unit_ids).only("id", "name", "path", "depth"))
        children = list(visible.filter(pk__in=grant_unit_ids).only("id", "name", "level", "line_id", "path")
                        if len(grant_unit_ids) > 1 else
                        visible.filter(path__startswith=scope_units[0].path if scope_units else "~",
                                       depth=(scope_units[0].depth + 1) if scope_units else 0,
                                       status=UnitStatus.ACTIVE)
                        .only("id", "name", "level", "line_id", "path")[:CHILDREN_LIMIT + 1])
        crumbs = []
    else:
        scope_units = [unit]
        children = list(visible.filter(path__startswith=unit.path, depth=unit.depth + 1, status=UnitStatus.ACTIVE)
                        .only("id", "name", "level", "line_id", "path")[:CHILDREN_LIMIT + 1])
        crumbs = [u for u in visible.filter(path__in=[unit.path[:i * Unit.steplen]
                                                      for i in range(1, unit.depth)]).only("id", "name", "path")]
    picks = list(visible.filter(name__icontains=find).only("id", "name", "level")[:PICK_LIMIT + 1]) if find else []
    # a cap is said, never silent: the rest are reached through the search
    return {"unit": unit, "scope_units": scope_units, "children": children[:CHILDREN_LIMIT],
            "children_more": len(children) > CHILDREN_LIMIT, "crumbs": crumbs, "find": find,
            "picks": picks[:PICK_LIMIT], "picks_more": len(picks) > PICK_LIMIT}


def _chart_data(stats: dict) -> dict:
    c = stats["conditions"]
    return {
        "level": [[r["label"], r["n"]] for r in stats["units_by_level"]],
        "line": [[r["label"], r["n"]] for r in stats["units_by_line"]],
        "members": [[r["label"], r["n"]] for r in stats["members_by_line"]],
        "volunteers": [{"name": r["label"], "value": r["n"]} for r in stats["volunteers_by_category"]],
        "lacks": [["缺人员", c["staff"]], ["缺编制", c["establishment"]], ["缺场所", c["venue"]],
                  ["缺经费", c["funding"]]],
        "venues": [[r["label"], r["passed"], r["inspected"] - r["passed"], r["n"] - r["inspected"]]
                   for r in stats["venues"]["by_kind"]],
        "teams": [["班子健全", stats["teams"]["complete"]], ["班子不健全", stats["teams"]["incomplete"]]],
    }
