"""Pages for people (一人一档) and their roles: memberships, 五老 volunteers, teams.

Lists show masked identity fields only; the plaintext is shown after a POST to the reveal
view, which checks the right and writes the access log (people.actions.reveal_person)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from qunli.core.actions import ActionError
from qunli.core.generic import (
    ActionFormView,
    BusinessRequiredMixin,
    Column,
    ObjectDetailView,
    ObjectListView,
    form_action_error,
)
from qunli.core.params import parse_id
from qunli.core.scoping import CHANGE, can
from qunli.orgs.views import ObjectActionView, get_visible

from . import actions, queries
from .filters import MembershipFilterForm, PersonFilterForm, TeamFilterForm, VolunteerFilterForm
from .forms import (
    CadreForm,
    MembershipForm,
    MembershipStatusForm,
    MergeForm,
    PersonForm,
    PersonMoveForm,
    RecognitionForm,
    RemoveMemberForm,
    RevealForm,
    TeamForm,
    TeamMemberForm,
    TrainingForm,
    VolunteerForm,
)
from .models import CadreProfile, Membership, Person, Team, TeamMember, VolunteerProfile

DUPLICATE_HINT = "可能是同一人"


# --- people ---------------------------------------------------------------------------

class PersonListView(ObjectListView):
    model = Person
    title = "人员"
    add_url_name = "people:person_add"
    export_name = "人员"
    filter_form = PersonFilterForm
    select_related = ("unit",)
    search_placeholder = "姓名，或完整身份证号"
    default_sort = "-pk"
    lookup_line = "unit__line"
    columns = [
        Column("name", "姓名", sort="name_sort", link=True),
        Column("gender", "性别", sort="gender"),
        Column("birth_date", "出生日期", sort="birth_date"),
        Column("id_number_mask", "身份证号"),
        Column("phone_mask", "联系电话"),
        Column("political_status", "政治面貌", sort="political_status"),
        Column("unit", "登记单位", accessor="unit.name", sort="unit__path"),
    ]

    def base_queryset(self):
        return super().base_queryset().filter(merged_into__isnull=True)

    def apply_filters(self, qs, data):
        volunteer = data.pop("volunteer", "")
        qs = super().apply_filters(qs, data)
        if volunteer in ("0", "1"):
            qs = qs.filter(volunteer__isnull=volunteer == "0")
        return qs

    def filtered_queryset(self):
        qs, form = super().filtered_queryset()
        return queries.search_people(qs, self.request.GET.get("q", "")), form

    def get_context_data(self, **kwargs):
        kwargs["search_enabled"] = True
        return super().get_context_data(**kwargs)


PERSON_TABS = [("detail", "基本信息"), ("roles", "身份与任职"), ("history", "修改记录")]


class PersonDetailView(ObjectDetailView):
    model = Person
    template_name = "people/person_detail.html"
    select_related = ("unit", "unit__line", "merged_into")

    def extra_context_for(self, person) -> dict:
        user = self.request.user
        tab = self.request.GET.get("tab", "detail")
        ctx = {"title": person.name, "tabs": PERSON_TABS, "can_change": can(user, CHANGE, person),
               "can_reveal": actions.can_reveal(user, person), "reveal_form": RevealForm()}
        if tab == "roles":
            ctx.update(queries.roles_of(user, person))
            for m in ctx["memberships"]:
                m.can_change = can(user, CHANGE, m)
        return ctx


class PersonRevealView(BusinessRequiredMixin, View):
    """POST only: unmask the sensitive fields. Refused (403) without write reach."""

    def post(self, request, pk):
        person = get_visible(Person, request.user, pk, select_related=("unit", "unit__line"))
        form = RevealForm(request.POST)
        purpose = form.cleaned_data["purpose"] if form.is_valid() else ""
        try:
            values = actions.reveal_person(request.user, person, list(Person.SENSITIVE), purpose=purpose)
        except ActionError as e:
            ctx = {"object": person, "can_reveal": True, "reveal_error": "；".join(e.messages)}
            return render(request, "people/_sensitive.html" if request.htmx else "people/person_revealed.html",
                          {**ctx, "title": f"{person.name}：完整信息"})  # 200: htmx swaps only 2xx answers
        rows = [(label, values.get(field, "")) for field, label in Person.SENSITIVE.items()]
        ctx = {"object": person, "revealed": rows}
        if request.htmx:
            return render(request, "people/_revealed.html", ctx)
        return render(request, "people/person_revealed.html", {**ctx, "title": f"{person.name}：完整信息"})


class PersonFormMixin:
    form_class = PersonForm
    template_name = "people/person_form.html"

    def post(self, request, *args, **kwargs):
        form = self.get_form(request.POST)
        if form.is_valid():
            try:
                result = self.perform(form.cleaned_data)
            except ActionError as e:
                form_action_error(form, e)
                if any(DUPLICATE_HINT in m for m in e.messages):
                    form.show_allow_similar()
            else:
                messages.success(request, "已保存。")
                return redirect(self.success_url(result))
        return self.render_to_response(self.get_context_data(form=form, title=self.title))


class PersonAddView(PersonFormMixin, ActionFormView):
    title = "登记人员"

    def get_form(self, data=None):
        initial = {}
        unit = parse_id(self.request.GET.get("unit"))
        if unit is not None:
            initial["unit"] = unit
        return PersonForm(data, initial=initial, user=self.request.user)

    def perform(self, data):
        return actions.register_person(self.request.user, **data)


class PersonEditView(PersonFormMixin, ObjectActionView):
    model = Person
    select_related = ("unit", "unit__line")

    def get_title(self):
        return f"修改人员：{self.get_object().name}"

    def get_form(self, data=None):
        person = self.get_object()
        initial = {f: getattr(person, f) for f in actions.PLAIN_FIELDS}
        return PersonForm(data, initial=initial, person=person, user=self.request.user)

    def perform(self, data):
        data = dict(data)
        data.pop("allow_similar", None)
        cleared = {f for f in ("phone", "address") if data.pop(f"clear_{f}", False)}
        for field in ("id_number", "phone", "address"):
            if field in cleared:
                data[field] = ""  # 清除: emptied (ciphertext, blind index and mask)
            elif not data.get(field):
                data[field] = None  # blank means "leave as is"
        return actions.update_person(self.request.user, self.get_object(), **data)


class PersonMoveView(ObjectActionView):
    """调整登记单位: the person's registration moves; roles stay with their own units."""

    model = Person
    form_class = PersonMoveForm
    select_related = ("unit", "unit__line")
    template_name = "people/person_move.html"
    success_message = "已调整登记单位。"

    def get_title(self):
        return f"调整登记单位：{self.get_object().name}"

    def perform(self, data):
        return actions.move_person(self.request.user, self.get_object(), **data)


class PersonPickView(BusinessRequiredMixin, View):
    """The name search behind every person picker: at most 20 visible people."""

    def get(self, request):
        q = request.GET.get("q", "").strip()
        people = []
        if q:
            people = queries.search_people(queries.live_people(request.user), q).select_related("unit") \
                .order_by("name_sort", "pk")[:20]
        return render(request, "people/_person_pick_results.html", {"people": people, "q": q})


class PersonMergeView(ActionFormView):
    form_class = MergeForm
    template_name = "people/person_merge.html"
    title = "合并重复人员"

    def get_form(self, data=None):
        initial = {k: self.request.GET[k] for k in ("keep", "duplicate") if self.request.GET.get(k)}
        return MergeForm(data, initial=initial, user=self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["groups"] = queries.duplicate_worklist(self.request.user, actions.duplicate_groups(self.request.user))
        return ctx

    def perform(self, data):
        keep = actions.merge_persons(self.request.user, data["keep"], data["duplicate"], reason=data["reason"])
        messages.success(self.request, f"已将档案合并至“{keep.name}”。")
        return keep


class PersonCadreView(ObjectActionView):
    """Set (or change) a person's cadre profile (群团干部信息)."""

    model = Person
    form_class = CadreForm
    select_related = ("unit", "unit__line")
    success_message = "已保存干部信息。"

    def get_title(self):
        return f"干部信息：{self.get_object().name}"

    def get_form(self, data=None):
        person = self.get_object()
        profile = (CadreProfile.objects.visible_to(self.request.user).filter(person=person)
                   .select_related("unit").first())
        initial = {}
        if profile is not None:
            initial = {"unit": profile.unit, "post": profile.post, "source": profile.source,
                       "is_fulltime": profile.is_fulltime, "grassroots_years": profile.grassroots_years}
        return CadreForm(data, initial=initial, user=self.request.user)

    def perform(self, data):
        person = self.get_object()
        if person.merged_into_id:
            raise ActionError("该档案已合并，请在保留的档案上设置干部信息。")
        return actions.set_cadre_profile(self.request.user, person=person, **data)

    def success_url(self, result):
        return self.get_object().get_absolute_url() + "?tab=roles"


# --- memberships ----------------------------------------------------------------------

class MembershipListView(ObjectListView):
    model = Membership
    title = "会员（团员）"
    add_url_name = "people:membership_add"
    export_name = "会员"
    filter_form = MembershipFilterForm
    select_related = ("person", "line", "unit")
    search_fields = ("person__name__icontains", "number")
    search_placeholder = "姓名或会员编号"
    columns = [
        Column("person", "姓名", accessor="person.name", sort="person__name_sort", link=True),
        Column("id_number", "身份证号", accessor="person.id_number_mask"),
        Column("line", "条线", accessor="line.name", sort="line__order"),
        Column("unit", "所在组织", accessor="unit.name", sort="unit__path"),
        Column("number", "编号", sort="number"),
        Column("joined_on", "加入日期", sort="joined_on"),
        Column("status", "状态", sort="status"),
    ]


class MembershipAddView(ActionFormView):
    form_class = MembershipForm
    template_name = "people/picker_form.html"
    title = "登记会员（团员）"

    def get_form(self, data=None):
        initial = {k: self.request.GET[k] for k in ("person", "unit", "line") if self.request.GET.get(k)}
        return MembershipForm(data, initial=initial, user=self.request.user)

    def perform(self, data):
        return actions.add_membership(self.request.user, **data)


class MembershipStatusView(ObjectActionView):
    """Change a membership's status (在册 / 已转出 / 已退出)."""

    model = Membership
    form_class = MembershipStatusForm
    select_related = ("person", "line", "unit")
    success_message = "已变更会员状态。"

    def get_title(self):
        m = self.get_object()
        return f"变更会员状态：{m.person.name} · {m.line.name} · {m.unit.name}"

    def form_kwargs(self):
        return {"user": self.request.user, "membership": self.get_object()}

    def perform(self, data):
        return actions.set_membership_status(self.request.user, self.get_object(), data["status"])


# --- volunteers -----------------------------------------------------------------------

class VolunteerListView(ObjectListView):
    model = VolunteerProfile
    title = "五老志愿者"
    add_url_name = "people:volunteer_add"
    export_name = "五老志愿者"
    filter_form = VolunteerFilterForm
    select_related = ("person", "unit")
    search_fields = ("person__name__icontains", "skills__icontains", "certificate_no")
    search_placeholder = "姓名、特长或聘书编号"
    columns = [
        Column("person", "姓名", accessor="person.name", sort="person__name_sort", link=True),
        Column("category", "五老类别", sort="category"),
        Column("unit", "所属关工委", accessor="unit.name", sort="unit__path"),
        Column("skills", "特长"),
        Column("certificate_no", "聘书编号", sort="certificate_no"),
        Column("status", "状态", sort="status"),
        Column("registered_on", "登记日期", sort="registered_on"),
    ]


class VolunteerAddView(ActionFormView):
    form_class = VolunteerForm
    template_name = "people/picker_form.html"
    title = "登记五老志愿者"

    def get_form(self, data=None):
        initial = {k: self.request.GET[k] for k in ("person", "unit") if self.request.GET.get(k)}
        return VolunteerForm(data, initial=initial, user=self.request.user)

    def perform(self, data):
        return actions.register_volunteer(self.request.user, **data)


class VolunteerDetailView(ObjectDetailView):
    model = VolunteerProfile
    template_name = "people/volunteer_detail.html"
    select_related = ("person", "unit")

    def extra_context_for(self, v) -> dict:
        return {"title": f"五老志愿者：{v.person.name}", "tabs": [("detail", "概况"), ("history", "修改记录")],
                "trainings": v.trainings.order_by("-on"), "recognitions": v.recognitions.order_by("-on"),
                "can_change": can(self.request.user, CHANGE, v),
                "training_form": TrainingForm(prefix="t"), "recognition_form": RecognitionForm(prefix="r")}


class VolunteerRecordView(ObjectActionView):
    """Add a training or a recognition to a volunteer (the two share the page)."""

    model = VolunteerProfile
    select_related = ("person", "unit")
    kind = "training"

    def get_form(self, data=None):
        form_class, prefix = (TrainingForm, "t") if self.kind == "training" else (RecognitionForm, "r")
        self.get_object()
        return form_class(data, prefix=prefix, user=self.request.user)

    def get_title(self):
        what = "培训" if self.kind == "training" else "表彰"
        return f"添加{what}：{self.get_object().person.name}"

    def perform(self, data):
        fn = actions.add_training if self.kind == "training" else actions.add_recognition
        return fn(self.request.user, self.get_object(), **data)

    def success_url(self, result):
        return self.get_object().get_absolute_url()


# --- teams ----------------------------------------------------------------------------

class TeamListView(ObjectListView):
    model = Team
    title = "队伍"
    add_url_name = "people:team_add"
    export_name = "队伍"
    filter_form = TeamFilterForm
    select_related = ("unit", "leader")
    search_fields = ("name__icontains",)
    search_placeholder = "队伍名称"
    default_sort = "name"
    columns = [
        Column("name", "名称", sort="name", link=True),
        Column("kind", "类型", sort="kind"),
        Column("unit", "组建单位", accessor="unit.name", sort="unit__path"),
        Column("leader", "负责人", accessor="leader.name"),
        Column("founded_on", "成立日期", sort="founded_on"),
    ]


class TeamAddView(ActionFormView):
    form_class = TeamForm
    template_name = "people/picker_form.html"
    title = "组建队伍"

    def perform(self, data):
        return actions.create_team(self.request.user, **data)


class TeamDetailView(ObjectDetailView):
    model = Team
    template_name = "people/team_detail.html"
    select_related = ("unit", "leader")

    def extra_context_for(self, team) -> dict:
        members = (TeamMember.objects.visible_to(self.request.user).filter(team=team)
                   .select_related("person", "person__unit").order_by("person__name_sort"))
        return {"title": team.name, "tabs": [("detail", "成员"), ("history", "修改记录")], "members": members,
                "can_change": can(self.request.user, CHANGE, team),
                "member_form": TeamMemberForm(user=self.request.user)}


class TeamMemberAddView(ObjectActionView):
    model = Team
    select_related = ("unit",)
    form_class = TeamMemberForm
    template_name = "people/picker_form.html"
    success_message = "已加入队伍。"

    def get_title(self):
        return f"添加队员：{self.get_object().name}"

    def perform(self, data):
        return actions.add_team_member(self.request.user, self.get_object(), data["person"], role=data["role"],
                                       joined_on=data["joined_on"])

    def success_url(self, result):
        return self.get_object().get_absolute_url()


class TeamMemberRemoveView(BusinessRequiredMixin, View):
    def post(self, request, pk):
        team = get_visible(Team, request.user, pk, select_related=("unit",), action=CHANGE)
        form = RemoveMemberForm(request.POST, team=team)
        if not form.is_valid():
            messages.error(request, "请选择要移出的队员。")
        else:
            try:
                actions.remove_team_member(request.user, form.cleaned_data["member"])
            except ActionError as e:
                messages.error(request, "；".join(e.messages))
            except PermissionDenied:
                raise
            else:
                messages.success(request, "已移出队伍。")
        return redirect(reverse("people:team_detail", args=[team.pk]))
