"""Forms for the people pages. They only collect and shape input; the actions in
``people.actions`` validate, check permissions and write."""

from django import forms

from qunli.core.crypto import blind_index
from qunli.core.forms import BootstrapFormMixin
from qunli.core.identifiers import normalize_id_number
from qunli.core.scoping import CHANGE, ROLE_ACTIONS, VIEW, grants_of
from qunli.orgs.models import Line
from qunli.orgs.widgets import UnitPickerField

from .models import (
    CadreProfile,
    Gender,
    MembershipStatus,
    Person,
    PoliticalStatus,
    TeamKind,
    TeamMember,
    VolunteerCategory,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class UserForm(BootstrapFormMixin, forms.Form):
    """A form that knows the signed-in user, to scope its choices: every unit picker is
    bound to the user (its candidates and accepted ids are ``visible_to`` the user)."""

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, UnitPickerField):
                field.bind(user)


class PersonRefField(forms.CharField):
    """Pick a person by record number (编号) or resident ID number, among the people the
    user may see. Scales to any number of people, unlike a drop-down; the page offers a
    name search (people:person_pick) that fills the number in."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label", "人员")
        kwargs.setdefault("help_text", "填写人员编号或身份证号；可按姓名搜索后点选。")
        super().__init__(*args, **kwargs)
        self.user = None
        self.widget.attrs.update({"data-person-ref": "1", "autocomplete": "off"})

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        qs = Person.objects.visible_to(self.user, VIEW).filter(merged_into__isnull=True).select_related("unit")
        value = value.strip()
        if value.isdecimal() and len(value) < 15:
            person = qs.filter(pk=int(value)).first()
        else:
            person = qs.with_id_number_hash(blind_index(normalize_id_number(value))).first()
        if person is None:
            raise forms.ValidationError("找不到该人员，或不在您的数据范围内。")
        return person


class PersonRefMixin:
    """Give every PersonRefField the user to scope its look-up."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            if isinstance(f, PersonRefField):
                f.user = self.user


# --- person -----------------------------------------------------------------------

class PersonForm(UserForm):
    unit = UnitPickerField(label="登记单位")
    name = forms.CharField(label="姓名", max_length=50)
    id_number = forms.CharField(label="身份证号", max_length=18, required=False)
    phone = forms.CharField(label="联系电话", max_length=20, required=False)
    address = forms.CharField(label="住址", max_length=200, required=False)
    gender = forms.ChoiceField(label="性别", choices=[("", "—"), *Gender.choices], required=False,
                               help_text="填写身份证号时按身份证号自动确定。")
    birth_date = forms.DateField(label="出生日期", required=False, widget=DATE)
    ethnicity = forms.CharField(label="民族", max_length=20, required=False, initial="汉族")
    political_status = forms.ChoiceField(label="政治面貌", choices=PoliticalStatus.choices, required=False,
                                         initial=PoliticalStatus.MASSES)
    education = forms.CharField(label="学历", max_length=20, required=False)
    workplace = forms.CharField(label="工作单位及职务", max_length=100, required=False)
    allow_similar = forms.BooleanField(label="确认不是同一人", required=False, widget=forms.HiddenInput)

    def __init__(self, *args, person: Person | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.person = person
        if person is not None:
            del self.fields["unit"]
            for name in ("id_number", "phone", "address"):
                self.fields[name].help_text = f"留空则不修改（当前：{getattr(person, name + '_mask') or '未填写'}）。"
            for name, label in (("phone", "联系电话"), ("address", "住址")):
                if getattr(person, f"{name}_mask"):  # a number or address that is wrong or no longer theirs
                    self.fields[f"clear_{name}"] = forms.BooleanField(label=f"清除{label}", required=False)

    def show_allow_similar(self):
        field = self.fields["allow_similar"]
        field.widget = forms.CheckboxInput(attrs={"class": "form-check-input"})
        field.help_text = "系统发现同名且电话相同的人员。核实后如确认不是同一人，请勾选后再次保存。"


class PersonMoveForm(UserForm):
    unit = UnitPickerField(label="调入单位", help_text="该人员今后登记在哪个单位。输入单位名称或行政区划代码查找，再点选。")
    reason = forms.CharField(label="调整原因", max_length=200, help_text="如：迁居、转学、调动工作。记入修改记录。")


class RevealForm(forms.Form):
    purpose = forms.CharField(label="查看用途", max_length=200, required=False)


class MergeForm(PersonRefMixin, UserForm):
    keep = PersonRefField(label="保留的档案")
    duplicate = PersonRefField(label="并入的档案（将被合并）")
    reason = forms.CharField(label="合并原因", max_length=200)
    confirm = forms.BooleanField(label="已核实两份档案为同一人", required=True)

    def clean(self):
        data = super().clean()
        if data.get("keep") and data.get("duplicate") and data["keep"].pk == data["duplicate"].pk:
            raise forms.ValidationError("请选择两份不同的档案。")
        return data


# --- roles ------------------------------------------------------------------------

class MembershipForm(PersonRefMixin, UserForm):
    person = PersonRefField()
    line = forms.ModelChoiceField(label="条线", queryset=Line.objects.filter(is_active=True))
    unit = UnitPickerField(label="所在组织", line="any")
    number = forms.CharField(label="会员/团员编号", max_length=40, required=False)
    joined_on = forms.DateField(label="加入日期", required=False, widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.user is not None:  # the lines the user registers members for (a union's staff: 工会)
            grants = [g for g in grants_of(self.user) if CHANGE in ROLE_ACTIONS.get(g.role, set())]
            if not any(g.all_lines for g in grants):
                ids = {pk for g in grants for pk in g.line_ids}
                self.fields["line"].queryset = Line.objects.filter(is_active=True, pk__in=ids)
                if len(ids) == 1:
                    self.fields["line"].initial = next(iter(ids))


class MembershipStatusForm(UserForm):
    status = forms.ChoiceField(label="状态", choices=MembershipStatus.choices)

    def __init__(self, *args, membership=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.membership = membership
        if membership is not None:
            self.fields["status"].initial = membership.status

    def clean_status(self):
        status = self.cleaned_data["status"]
        if self.membership is not None and status == self.membership.status:
            raise forms.ValidationError(f"状态未改变（当前已是“{self.membership.get_status_display()}”）。")
        return status


class CadreForm(UserForm):
    unit = UnitPickerField(label="所在单位")
    post = forms.CharField(label="职务", max_length=60, help_text="如：县妇联副主席、乡镇团委书记。")
    source = forms.ChoiceField(label="来源", choices=CadreProfile.Source.choices,
                               initial=CadreProfile.Source.APPOINTED)
    is_fulltime = forms.BooleanField(label="专职", required=False, initial=True)
    grassroots_years = forms.IntegerField(label="基层工作年限", min_value=0, max_value=80, initial=0)


class VolunteerForm(PersonRefMixin, UserForm):
    person = PersonRefField()
    unit = UnitPickerField(label="所属关工委")
    category = forms.ChoiceField(label="五老类别", choices=VolunteerCategory.choices)
    skills = forms.CharField(label="特长", max_length=200, required=False)
    certificate_no = forms.CharField(label="聘书编号", max_length=40, required=False)
    certificate_date = forms.DateField(label="聘书日期", required=False, widget=DATE)


class TrainingForm(UserForm):
    on = forms.DateField(label="培训日期", widget=DATE)
    title = forms.CharField(label="培训内容", max_length=100)
    hours = forms.DecimalField(label="学时", max_digits=5, decimal_places=1, min_value=0, initial=0)


class RecognitionForm(UserForm):
    on = forms.DateField(label="表彰日期", widget=DATE)
    title = forms.CharField(label="荣誉名称", max_length=100)
    level = forms.CharField(label="级别", max_length=20, required=False, help_text="如：县级、市级、省级")


class TeamForm(PersonRefMixin, UserForm):
    unit = UnitPickerField(label="组建单位")
    name = forms.CharField(label="名称", max_length=100)
    kind = forms.ChoiceField(label="类型", choices=TeamKind.choices)
    leader = PersonRefField(label="负责人", required=False)
    founded_on = forms.DateField(label="成立日期", required=False, widget=DATE)


class TeamMemberForm(PersonRefMixin, UserForm):
    person = PersonRefField()
    role = forms.CharField(label="队内职务", max_length=30, required=False)
    joined_on = forms.DateField(label="加入日期", required=False, widget=DATE)


class RemoveMemberForm(forms.Form):
    member = forms.ModelChoiceField(queryset=TeamMember.objects.none())

    def __init__(self, *args, team=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = TeamMember.objects.filter(team=team).select_related("person", "team__unit")
