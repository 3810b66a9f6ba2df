"""The casework dashboard (服务群众概览): requests by channel, type and status, the on-time
rate, satisfaction, pairing coverage against targets and wishes, for the subtree chosen with
the reports dashboard's unit selector. Counts only (``casework.queries.dashboard``): no
case is named or linked from this page."""

from django.views.generic import TemplateView

from qunli.core.generic import BusinessRequiredMixin
from qunli.reports.views import unit_selection

from . import queries


class CaseworkDashboardView(BusinessRequiredMixin, TemplateView):
    template_name = "casework/dashboard.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        sel = unit_selection(self.request)
        stats = queries.dashboard(self.request.user, sel["unit"], branches=sel["children"])
        w = stats["wishes"]
        chart = {
            "channel": [[r["label"], r["n"]] for r in stats["by_channel"]],
            "type": [[r["label"], r["n"]] for r in stats["by_type"]],
            "status": [[r["label"], r["n"]] for r in stats["by_status"]],
            "satisfaction": [[f"{r['score']}分", r["n"]] for r in stats["satisfaction"]],
            "coverage": [[r["label"], r["active"], r["target"] or 0] for r in stats["coverage"]],
            "wishes": [["已登记", w["collected"]], ["已发布", w["published"]], ["已认领", w["claimed"]],
                       ["已圆梦", w["fulfilled"]]],
        }
        ctx.update(title="服务群众概览", stats=stats, chart_data=chart, **sel)
        return ctx
