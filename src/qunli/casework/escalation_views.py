"""超期上报: the escalations the user may see (need-to-know: the case team, above all its
supervisor; the staff above a unit that left a case unassigned or a referral undecided).
By default only those whose matter is still undone (``still_late_q``); ``?all=1`` includes
the settled ones."""

from qunli.core.generic import Column, ObjectListView

from .escalation import CaseEscalation, still_late_q
from .forms import EscalationFilterForm


class EscalatedListView(ObjectListView):
    model = CaseEscalation
    title = "超期上报"
    export_name = "超期上报"
    default_sort = "-escalated_at"
    filter_form = EscalationFilterForm
    select_related = ("case", "case__request", "case__request__type", "case__unit", "supervisor", "caseworker")
    columns = [
        Column("code", "查询码", accessor="case.request.tracking_code", link=True),
        Column("stage", "超期事项", accessor="get_stage_display"),
        Column("type", "类型", accessor="case.request.type.name"),
        Column("unit", "承办单位", accessor="case.unit.name"),
        Column("caseworker", "个案社工", accessor="caseworker"),
        Column("supervisor", "督导", accessor="supervisor"),
        Column("due_date", "时限", sort="due_date"),
        Column("escalated_at", "上报时间", sort="escalated_at"),
        Column("overdue_days", "上报时超期天数"),
        Column("status", "个案状态", accessor="case.status"),
    ]

    def apply_filters(self, qs, data):
        data.pop("all", None)  # read by base_queryset
        return super().apply_filters(qs, data)

    def base_queryset(self):
        qs = super().base_queryset()
        if self.request.GET.get("all") != "1":
            qs = qs.filter(still_late_q())
        return qs
