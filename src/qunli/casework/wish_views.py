"""Staff pages for wishes (微心愿) and the practical-projects list (我为群众办实事): lists
with filters and masked xlsx export, detail pages with their history, and one form or POST
per verb of ``wish_actions``.

Unit-grant scoped (``visible_to`` on the owning unit): an object outside the grant is a 404.
The person served is shown by the masked name only, the donor's phone by its mask; the
phone comes through the access-logged ``reveal_donor`` and the photo through
``open_wish_photo``."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html
from django.views import View

from qunli.core.actions import ActionError
from qunli.core.api import get_visible
from qunli.core.generic import ActionFormView, BusinessRequiredMixin, Column, ObjectDetailView, ObjectListView
from qunli.core.scoping import CHANGE, VIEW, can
from qunli.orgs.filters import _blank, _FilterForm
from qunli.orgs.widgets import UnitPickerField
from qunli.people.forms import PersonRefField, PersonRefMixin, UserForm

from . import wish_actions as actions
from .models import PracticalProject, Wish, WishCategory
from .pairing_actions import check_photo
from .queries import with_overdue
from .views import ReadableHistoryMixin

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


# --- forms ---------------------------------------------------------------------------------------

class WishFilterForm(_FilterForm):
    unit = UnitPickerField(label="单位（含下级）", action=VIEW, active=False)
    status = forms.ChoiceField(label="状态", choices=_blank(Wish.Status.choices))
    category = forms.ChoiceField(label="类别", choices=_blank(WishCategory.choices))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].bind(self.user)


class WishEditForm(UserForm):
    category = forms.ChoiceField(label="心愿类别", choices=_blank(WishCategory.choices, "请选择"))
    text = forms.CharField(label="心愿内容", max_length=200, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="将公开在网上群团心愿墙，请勿填写姓名、学校、电话、住址等可识别信息。")
    amount = forms.DecimalField(label="预计金额（元）", min_value=0, max_digits=10, decimal_places=2)


class WishForm(PersonRefMixin, WishEditForm):
    field_order = ["unit", "served", "category", "text", "amount"]
    unit = UnitPickerField(label="负责单位")
    served = PersonRefField(label="服务对象", help_text="填写人员编号或身份证号；列表和网上只显示脱敏姓名。")


class ReasonForm(UserForm):
    reason = forms.CharField(label="原因", max_length=200)


class ClaimForm(UserForm):
    name = forms.CharField(label="认领人姓名", max_length=50)
    phone = forms.CharField(label="联系电话", max_length=20, help_text="加密保存，列表只显示脱敏号码。")
    org = forms.CharField(label="单位或组织", max_length=100, required=False)


class PhotoForm(UserForm):
    photo = forms.FileField(label="圆梦照片", help_text="JPG 或 PNG，不超过 5 MB。",
                            error_messages={"required": "请上传圆梦照片。"},
                            widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png"}))
    amount = forms.DecimalField(label="实际金额（元）", required=False, max_digits=10, decimal_places=2, min_value=0.01,
                                help_text="爱心人士实际花费；留空则按预计金额统计。")
    note = forms.CharField(label="圆梦说明", required=False, max_length=200,
                           help_text="如：已送达书包一个、文具一套（不要写服务对象的姓名、住址）。")

    def clean_photo(self):
        # the type and size are told with any other error, before ``fulfil_wish`` stores it
        photo = self.cleaned_data["photo"]
        try:
            check_photo(photo)
        except ActionError as e:
            raise forms.ValidationError(e.messages) from e
        return photo


class ProjectFilterForm(_FilterForm):
    unit = UnitPickerField(label="单位（含下级）", action=VIEW, active=False)
    status = forms.ChoiceField(label="状态", choices=_blank(PracticalProject.Status.choices))
    overdue = forms.ChoiceField(label="逾期", choices=[("", "全部"), ("1", "已逾期"), ("0", "未逾期")])
    is_published = forms.ChoiceField(label="公开", choices=[("", "全部"), ("1", "已公开"), ("0", "未公开")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].bind(self.user)


class ProjectForm(UserForm):
    unit = UnitPickerField(label="责任单位")
    title = forms.CharField(label="项目名称", max_length=100)
    description = forms.CharField(label="项目内容", max_length=2000, widget=forms.Textarea(attrs={"rows": 4}),
                                  help_text="公开后向公众展示，请勿填写个人信息。")
    deadline = forms.DateField(label="完成时限", widget=DATE)


class ProjectStatusForm(UserForm):
    status = forms.ChoiceField(label="状态", choices=[(v, lbl) for v, lbl in PracticalProject.Status.choices
                                                      if v != PracticalProject.Status.COMPLETED])
    deadline = forms.DateField(label="新的完成时限（延期时填写）", widget=DATE, required=False,
                               help_text="延期须晚于原完成时限和今天；已延期的项目可以再次延期。")
    reason = forms.CharField(label="原因（延期时请说明）", max_length=200, required=False)


class ProjectCompleteForm(UserForm):
    result = forms.CharField(label="完成情况", max_length=2000, widget=forms.Textarea(attrs={"rows": 4}),
                             help_text="公开后向公众展示。")


# --- wishes ----------------------------------------------------------------------------------------

class WishListView(ObjectListView):
    model = Wish
    title = "微心愿"
    export_name = "微心愿"
    filter_form = WishFilterForm
    add_url_name = "casework:wish_add"
    select_related = ("unit",)
    default_sort = "-pk"
    columns = [
        Column("pk", "编号", link=True, sort="pk"),
        Column("served", "服务对象", accessor="served_name_mask"),
        Column("category", "类别", sort="category"),
        Column("text", "心愿内容"),
        Column("amount", "预计金额（元）", sort="amount"),
        Column("unit", "负责单位", accessor="unit.name", sort="unit__path"),
        Column("status", "状态", sort="status"),
        Column("donor_name", "认领人"),
        Column("donor_phone_mask", "认领人电话"),
        Column("created_at", "登记时间", sort="created_at"),
    ]

    def apply_filters(self, qs, data):
        unit = data.pop("unit", None)
        if unit is not None:
            qs = qs.filter(unit__path__startswith=unit.path)
        return super().apply_filters(qs, data)

    # On the page (not in the export, which keeps every value whole) the table must fit the
    # content area of a 1366 px screen: list tables never wrap (qunli.css), so the wish's text
    # is cut to one line (whole in its tooltip and on the wish's page), the unit and the donor
    # wrap, and the time of registration is a short date and time.
    DISPLAY = {
        "text": lambda v: format_html('<span class="d-inline-block text-truncate align-bottom" style="max-width: 10em" '
                                      'title="{}">{}</span>', v, v),
        "unit": lambda v: format_html('<span class="d-inline-block text-wrap" style="min-width: 8em; max-width: 10em">'
                                      '{}</span>', v),
        "donor_name": lambda v: format_html('<span class="d-inline-block text-wrap" style="max-width: 7em">{}</span>',
                                            v) if v else v,
        "created_at": lambda v: timezone.localtime(v).strftime("%Y-%m-%d %H:%M") if v else v,
    }

    def get_context_data(self, **kwargs):
        if "rows" in kwargs:
            shown = [self.DISPLAY.get(c.name) for c in self.columns]
            kwargs["rows"] = [(o, [f(v) if f else v for f, v in zip(shown, values, strict=True)])
                              for o, values in kwargs["rows"]]
        return super().get_context_data(**kwargs)


class WishCreateView(ActionFormView):
    form_class = WishForm
    template_name = "casework/wish_form.html"
    title = "登记微心愿"

    def perform(self, d):
        w = actions.collect_wish(self.request.user, served=d["served"], unit=d["unit"], category=d["category"],
                                 text=d["text"], amount=d["amount"])
        messages.success(self.request, f"已登记{w}，待审核。")
        return w


def visible_wish(user, pk, act=VIEW) -> Wish:
    return get_visible(Wish.objects.select_related("unit", "unit__line"), user, pk, act)


class WishDetailView(ReadableHistoryMixin, ObjectDetailView):
    model = Wish
    template_name = "casework/wish_detail.html"

    def get_object(self):
        return visible_wish(self.request.user, self.kwargs["pk"])

    def extra_context_for(self, w) -> dict:
        return {"title": str(w), "tabs": [("detail", "微心愿"), ("history", "处理记录")],
                "can_change": can(self.request.user, CHANGE, w), "S": Wish.Status,
                "editable": w.status in actions.EDITABLE,
                "is_author": w.status == Wish.Status.PENDING and actions.is_author(w, self.request.user)}


# POST-only verbs without input
WISH_VERBS = {"approve": (actions.approve_wish, "已审核通过。"), "publish": (actions.publish_wish, "已发布到网上心愿墙。"),
              "unpublish": (actions.unpublish_wish, "已从心愿墙撤回。")}


class WishVerbView(BusinessRequiredMixin, View):
    verb = ""

    def post(self, request, pk):
        w = visible_wish(request.user, pk, CHANGE)
        fn, done = WISH_VERBS[self.verb]
        try:
            fn(request.user, w)
        except (ActionError, PermissionDenied) as e:
            messages.error(request, "；".join(getattr(e, "messages", [str(e)])))
        else:
            messages.success(request, done)
        return redirect(w.get_absolute_url())


class WishFormVerbView(ActionFormView):
    """reject / cancel_claim (a reason), claim (a donor who came forward off the portal) and
    fulfil (a photo)."""

    template_name = "casework/wish_form.html"
    verb = ""
    titles = {"reject": "审核不通过", "cancel_claim": "取消认领", "claim": "登记认领", "fulfil": "确认圆梦"}

    def wish(self) -> Wish:
        if not hasattr(self, "_wish"):
            self._wish = visible_wish(self.request.user, self.kwargs["pk"], CHANGE)
        return self._wish

    def get(self, request, *args, **kwargs):
        self.wish()
        return super().get(request, *args, **kwargs)

    def get_form(self, data=None):
        self.wish()
        if self.verb == "fulfil":
            return PhotoForm(data, self.request.FILES if data is not None else None, **self.form_kwargs())
        if self.verb == "claim":
            return ClaimForm(data, **self.form_kwargs())
        return ReasonForm(data, **self.form_kwargs())

    def get_context_data(self, **kwargs):
        kwargs["title"] = self.titles[self.verb]
        if self.verb == "claim":
            kwargs["intro"] = ("爱心人士通过电话、来访或单位结对方式认领时在此登记；网上心愿墙的认领会自动登记。"
                               "认领后心愿从心愿墙上显示为已认领，不能再被他人认领。")
        w = self.wish()
        return super().get_context_data(object=w, cancel_url=w.get_absolute_url(), multipart=self.verb == "fulfil",
                                        **kwargs)

    def perform(self, d):
        w, user = self.wish(), self.request.user
        if self.verb == "reject":
            w = actions.reject_wish(user, w, reason=d["reason"])
        elif self.verb == "cancel_claim":
            w = actions.cancel_claim(user, w, reason=d["reason"])
        elif self.verb == "claim":
            w = actions.record_claim(user, w, name=d["name"], phone=d["phone"], org=d["org"])
        else:
            w = actions.fulfil_wish(user, w, photo=d["photo"], amount=d["amount"], note=d["note"])
        messages.success(self.request, f"{self.titles[self.verb]}：已完成。")
        return w


class WishEditView(ActionFormView):
    template_name = "casework/wish_form.html"
    title = "修改微心愿"

    def wish(self) -> Wish:
        if not hasattr(self, "_wish"):
            self._wish = visible_wish(self.request.user, self.kwargs["pk"], CHANGE)
        return self._wish

    def get_form(self, data=None):
        w = self.wish()
        return WishEditForm(data, initial={"category": w.category, "text": w.text, "amount": w.amount},
                            **self.form_kwargs())

    def get_context_data(self, **kwargs):
        w = self.wish()
        kwargs["intro"] = "修改后心愿回到“待审核”，须由登记人和修改人以外的工作人员重新审核。"
        return super().get_context_data(object=w, cancel_url=w.get_absolute_url(), **kwargs)

    def perform(self, d):
        w = actions.edit_wish(self.request.user, self.wish(), category=d["category"], text=d["text"],
                              amount=d["amount"])
        messages.success(self.request, "已修改，待重新审核。")
        return w


class WishRevealView(BusinessRequiredMixin, View):
    """POST only: the donor's phone, written to the access log first."""

    def post(self, request, pk):
        w = visible_wish(request.user, pk, CHANGE)
        try:
            phone = actions.reveal_donor(request.user, w, purpose=(request.POST.get("purpose") or "").strip()[:200])
        except ActionError as e:
            messages.error(request, "；".join(e.messages))
            return redirect(w.get_absolute_url())
        resp = render(request, "casework/wish_revealed.html", {"object": w, "phone": phone,
                                                               "title": f"{w}：认领人电话"})
        resp["Cache-Control"] = "private, no-store"
        return resp


class WishPhotoView(BusinessRequiredMixin, View):
    def get(self, request, pk):
        w = Wish.objects.visible_to(request.user, CHANGE).select_related("unit").filter(pk=pk).first()
        if w is None or not w.photo_name:
            raise Http404("照片不存在或不在您的数据范围内。")
        try:
            fh = actions.open_wish_photo(request.user, w)
        except (ActionError, FileNotFoundError) as e:
            raise Http404("照片不存在。") from e
        resp = FileResponse(fh, content_type=w.photo_mime)
        resp["Cache-Control"] = "private, no-store"
        resp["X-Content-Type-Options"] = "nosniff"
        return resp


# --- practical projects ------------------------------------------------------------------------------

class ProjectListView(ObjectListView):
    model = PracticalProject
    title = "我为群众办实事"
    export_name = "办实事项目"
    filter_form = ProjectFilterForm
    add_url_name = "casework:project_add"
    select_related = ("unit",)
    search_fields = ("title__icontains",)
    search_placeholder = "项目名称"
    default_sort = "deadline"
    columns = [
        Column("title", "项目名称", link=True, sort="title"),
        Column("unit", "责任单位", accessor="unit.name", sort="unit__path"),
        Column("deadline", "完成时限", sort="deadline"),
        Column("status", "状态", sort="status"),
        Column("overdue", "逾期", sort="overdue"),
        Column("is_published", "已公开", sort="is_published"),
    ]

    def base_queryset(self):
        return with_overdue(super().base_queryset())

    def apply_filters(self, qs, data):
        unit, overdue, published = data.pop("unit", None), data.pop("overdue", ""), data.pop("is_published", "")
        if unit is not None:
            qs = qs.filter(unit__path__startswith=unit.path)
        if overdue in ("0", "1"):
            qs = qs.filter(overdue=overdue == "1")
        if published in ("0", "1"):
            qs = qs.filter(is_published=published == "1")
        return super().apply_filters(qs, data)


class ProjectCreateView(ActionFormView):
    form_class = ProjectForm
    title = "新建办实事项目"

    def perform(self, d):
        p = actions.create_project(self.request.user, **d)
        messages.success(self.request, "已保存（尚未公开）。")
        return p


def visible_project(user, pk, act=VIEW) -> PracticalProject:
    return get_visible(with_overdue(PracticalProject.objects.select_related("unit")), user, pk, act)


class ProjectDetailView(ReadableHistoryMixin, ObjectDetailView):
    model = PracticalProject
    template_name = "casework/project_detail.html"

    def get_object(self):
        return visible_project(self.request.user, self.kwargs["pk"])

    def extra_context_for(self, p) -> dict:
        return {"title": str(p), "tabs": [("detail", "项目"), ("history", "修改记录")],
                "can_change": can(self.request.user, CHANGE, p)}


class ProjectFormVerbView(ActionFormView):
    template_name = "casework/wish_form.html"
    verb = ""
    titles = {"status": "更新项目状态", "complete": "完成项目"}

    def project(self) -> PracticalProject:
        if not hasattr(self, "_project"):
            self._project = visible_project(self.request.user, self.kwargs["pk"], CHANGE)
        return self._project

    def get(self, request, *args, **kwargs):
        self.project()
        return super().get(request, *args, **kwargs)

    def get_form(self, data=None):
        self.project()
        cls = ProjectStatusForm if self.verb == "status" else ProjectCompleteForm
        return cls(data, **self.form_kwargs())

    def get_context_data(self, **kwargs):
        kwargs["title"] = self.titles[self.verb]
        p = self.project()
        return super().get_context_data(object=p, cancel_url=p.get_absolute_url(), **kwargs)

    def perform(self, d):
        if self.verb == "status":
            p = actions.set_project_status(self.request.user, self.project(), status=d["status"],
                                           deadline=d.get("deadline"), reason=d.get("reason", ""))
        else:
            p = actions.complete_project(self.request.user, self.project(), result=d["result"])
        messages.success(self.request, "已保存。")
        return p


class ProjectEditView(ProjectFormVerbView):
    """编辑: the fields of creation, filled in from the project."""

    verb = "edit"
    titles = {"edit": "编辑办实事项目"}

    def get_form(self, data=None):
        p = self.project()
        initial = {"unit": p.unit_id, "title": p.title, "description": p.description, "deadline": p.deadline}
        return ProjectForm(data, initial=initial, **self.form_kwargs())

    def get_context_data(self, **kwargs):
        if self.project().status != PracticalProject.Status.PLANNED:
            kwargs["intro"] = "项目已开始推进：推迟完成时限请在“更新状态”中选择“已延期”并说明原因。"
        return super().get_context_data(**kwargs)

    def perform(self, d):
        p = actions.edit_project(self.request.user, self.project(), unit=d["unit"], title=d["title"],
                                 description=d["description"], deadline=d["deadline"])
        messages.success(self.request, "已保存。")
        return p


class ProjectPublishView(BusinessRequiredMixin, View):
    publish = True

    def post(self, request, pk):
        p = visible_project(request.user, pk, CHANGE)
        try:
            actions.publish_project(request.user, p, publish=self.publish)
        except ActionError as e:
            messages.error(request, "；".join(e.messages))
        else:
            messages.success(request, "已公开，公众可在网上群团看到。" if self.publish else "已撤回公开。")
        return redirect(p.get_absolute_url())
