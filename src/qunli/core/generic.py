"""Generic views, as NetBox's: a list (table, filters, search, sort, pagination, bulk
export), a detail page with a history tab, and a form that calls an action. Every queryset
comes from ``Model.objects.visible_to(user)``; an object outside the grant is a 404."""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect
from django.utils.functional import cached_property
from django.views.generic import TemplateView

from .exports import stream_xlsx
from .models import ChangeLog
from .params import parse_ids
from .scoping import VIEW, writes_anywhere


def form_action_error(form, error, field: str | None = None) -> None:
    """An action's refusal shown on the form that asked for it (the form is re-rendered)."""
    for msg in error.messages:
        form.add_error(field, msg)


def message_action_error(request, error) -> None:
    """An action's refusal as messages, for a button that redirects back."""
    for msg in error.messages:
        messages.error(request, msg)


@dataclass
class Column:
    name: str
    label: str
    accessor: str = ""  # dotted path on the object; defaults to name
    sort: str | None = None  # ORM ordering key; None = not sortable
    link: bool = False  # render as a link to the object's detail page
    display: bool = True  # use get_<name>_display when present
    wrap: bool = False  # long free text (题名, 理由): wraps instead of widening the table past the page

    def value(self, obj) -> Any:
        target = obj
        parts = (self.accessor or self.name).split(".")
        for i, part in enumerate(parts):
            if target is None:
                return ""
            if i == len(parts) - 1 and self.display and hasattr(target, f"get_{part}_display"):
                return getattr(target, f"get_{part}_display")()
            target = getattr(target, part, None)
            if callable(target):
                target = target()
        if target is None:
            return ""
        if isinstance(target, bool):
            return "是" if target else "否"
        return target


class CappedPaginator(Paginator):
    """Counts at most CAP + 1 rows: an exact COUNT(*) over a province's millions of people
    costs more than the page itself, and nobody pages past 10,000 rows — they filter."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        # order_by(): the order changes no count, and sorting every candidate row before
        # counting them is most of the cost of counting
        return self.object_list.order_by()[: self.CAP + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.CAP


class IdsFirstPaginator(CappedPaginator):
    """For lists whose visible rows are a bounded set that is costly to find (the
    need-to-know case lists: a union of the team's cases): one query finds and sorts the
    ids of at most CAP + 1 rows — the count and the page's slice both come from it — and a
    second loads the page's rows with their related rows, by primary key. Sorting thousands
    of narrow rows instead of thousands of joined ones, and finding the set once instead of
    twice (count and page)."""

    def __init__(self, object_list, per_page, select_related=(), ids: list | None = None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.select_related = select_related
        if ids is not None:  # found by the view some cheaper way (``ObjectListView.sorted_ids``)
            self.ids = ids[: self.CAP + 1]

    @cached_property
    def ids(self) -> list:
        return list(self.object_list.values_list("pk", flat=True)[: self.CAP + 1])

    @cached_property
    def count(self) -> int:
        return len(self.ids)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = self.ids[bottom:bottom + self.per_page]
        # the ids came from the scoped query: load them as they are, without scoping again
        rows = self.object_list.model._base_manager.select_related(*self.select_related).in_bulk(ids)
        return self._get_page([rows[i] for i in ids if i in rows], number, self)


class BusinessRequiredMixin(LoginRequiredMixin):
    """Business data is for business accounts only (三员分立: administrators see none)."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not request.user.is_business:
            raise PermissionDenied("三员账户不能查看业务数据。")
        return super().dispatch(request, *args, **kwargs)


class ObjectListView(BusinessRequiredMixin, TemplateView):
    template_name = "core/object_list.html"
    model = None
    columns: list[Column] = []
    filter_form = None  # a Form whose cleaned data ``apply_filters`` turns into lookups
    search_fields: tuple[str, ...] = ()
    search_placeholder = "搜索"
    default_sort = "-pk"
    paginate_by = 50
    title = ""
    add_url_name = ""
    import_kind = ""
    export_name = "export"
    select_related: tuple[str, ...] = ()
    paginator_class = CappedPaginator  # IdsFirstPaginator: see there
    # A filter form's ``under`` field (a unit picker, "单位（含下级）") keeps the rows whose unit
    # lies in that subtree: the path of the row's unit through this lookup.
    under_path = "unit__path"

    def base_queryset(self):
        qs = self.model.objects.visible_to(self.request.user, VIEW)
        return qs.select_related(*self.select_related) if self.select_related else qs

    def apply_filters(self, qs, data: dict):
        """Default: each non-empty form field is an exact lookup of the same name."""
        under = data.pop("under", None)
        if under is not None:
            qs = qs.filter(**{f"{self.under_path}__startswith": under.path})
        for key, value in data.items():
            if value not in (None, "", [], False):
                qs = qs.filter(**{getattr(self, f"lookup_{key}", key): value})
        return qs

    def get_filter_form(self):
        return self.filter_form(self.request.GET or None, user=self.request.user) if self.filter_form else None

    def filtered_queryset(self):
        qs = self.base_queryset()
        form = self.get_filter_form()
        if form is not None:
            # a first visit (no query string) filters by the form's defaults as the choice of
            # its blank options would: a view's apply_filters may give blank a meaning
            # (到期与超期: overdue or due soon), and the shown form stays unbound (no errors)
            bound = form if form.is_bound else self.filter_form({}, user=self.request.user)
            if bound.is_valid():
                qs = self.apply_filters(qs, bound.cleaned_data)
        q = self.request.GET.get("q", "").strip()
        if q and self.search_fields:
            cond = Q()
            for f in self.search_fields:
                cond |= Q(**{f: q})
            qs = qs.filter(cond)
        selected = self.request.GET.getlist("pk")
        if selected:
            qs = qs.filter(pk__in=parse_ids(selected))
        return qs, form

    def sorted_ids(self, sort: str) -> list | None:
        """With ``IdsFirstPaginator``: the list's ids in ``sort`` order (at most
        ``CappedPaginator.CAP + 1``) when the view can find them more cheaply than the
        filtered queryset would; None to let the paginator ask the queryset."""
        return None

    def sort_key(self) -> str:
        wanted = self.request.GET.get("sort", "")
        allowed = {c.sort for c in self.columns if c.sort}
        bare = wanted.lstrip("-")
        return wanted if bare in allowed else self.default_sort

    def get(self, request, *args, **kwargs):
        qs, form = self.filtered_queryset()
        sort = self.sort_key()
        qs = qs.order_by(sort, "pk") if sort.lstrip("-") != "pk" else qs.order_by(sort)
        if request.GET.get("export") == "xlsx":
            return stream_xlsx(self.export_name, [c.label for c in self.columns],
                               ([c.value(o) for c in self.columns] for o in qs.iterator(chunk_size=2000)))
        paginator = (IdsFirstPaginator(qs, self.paginate_by, self.select_related, ids=self.sorted_ids(sort))
                     if self.paginator_class is IdsFirstPaginator else self.paginator_class(qs, self.paginate_by))
        page = paginator.get_page(request.GET.get("page"))
        context = self.get_context_data(page=page, filter_form=form, sort=sort, columns=self.columns,
                                        rows=[(o, [c.value(o) for c in self.columns]) for o in page.object_list],
                                        title=self.title, q=request.GET.get("q", ""),
                                        search_enabled=bool(self.search_fields),
                                        search_placeholder=self.search_placeholder,
                                        add_url_name=self.add_url_name, import_kind=self.import_kind,
                                        querystring=self._querystring())
        if request.htmx and not request.htmx.boosted:
            self.template_name = "core/_object_table.html"
        return self.render_to_response(context)

    def _querystring(self) -> str:
        params = self.request.GET.copy()
        for k in ("page", "sort", "export"):
            params.pop(k, None)
        return params.urlencode()


class ObjectDetailView(BusinessRequiredMixin, TemplateView):
    model = None
    template_name = ""
    select_related: tuple[str, ...] = ()

    def get_object(self):
        qs = self.model.objects.visible_to(self.request.user, VIEW)
        if self.select_related:
            qs = qs.select_related(*self.select_related)
        try:
            return qs.get(pk=self.kwargs["pk"])
        except self.model.DoesNotExist as e:
            raise Http404("对象不存在或不在您的数据范围内。") from e

    def history(self, obj):
        return ChangeLog.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk)) \
            .select_related("actor").order_by("-seq")[:100]

    def get(self, request, *args, **kwargs):
        obj = self.get_object()
        tab = request.GET.get("tab", "detail")
        ctx = self.get_context_data(object=obj, tab=tab, **self.extra_context_for(obj))
        if tab == "history":
            ctx["history"] = self.history(obj)
        return self.render_to_response(ctx)

    def extra_context_for(self, obj) -> dict:
        return {}


class ActionFormView(BusinessRequiredMixin, TemplateView):
    """Show a form; on POST call ``perform`` (which calls an action). An ActionError or
    PermissionDenied from the action becomes a form error; nothing is half-written because
    the action runs in one transaction."""

    template_name = "core/object_form.html"
    form_class = None
    title = ""

    def dispatch(self, request, *args, **kwargs):
        # a read-only account (领导) is told so before it fills a form it cannot submit,
        # rather than refused later with a message about the unit
        if request.user.is_authenticated and request.user.is_business and not writes_anywhere(request.user):
            raise PermissionDenied("您的账户只有查看权限，不能登记或修改数据。")
        return super().dispatch(request, *args, **kwargs)

    def get_form(self, data=None):
        return self.form_class(data, **self.form_kwargs())

    def form_kwargs(self) -> dict:
        return {"user": self.request.user}

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=self.get_form(), title=self.title))

    def post(self, request, *args, **kwargs):
        from .actions import ActionError

        form = self.get_form(request.POST)
        if form.is_valid():
            try:
                result = self.perform(form.cleaned_data)
            except ActionError as e:
                form_action_error(form, e)
            else:
                return redirect(self.success_url(result))
        return self.render_to_response(self.get_context_data(form=form, title=self.title), status=422 if request.htmx else 200)

    def perform(self, data):  # pragma: no cover - every subclass implements it
        raise NotImplementedError

    def success_url(self, result) -> str:
        return result.get_absolute_url()
