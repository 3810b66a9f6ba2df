"""Forms for casework pages. They collect input; ``casework.actions`` checks and writes."""

from django import forms
from django.utils import timezone

from qunli.core.models import User
from qunli.core.scoping import CHANGE, VIEW, can
from qunli.orgs.filters import _blank, _FilterForm
from qunli.orgs.models import Line
from qunli.orgs.widgets import UnitPickerField
from qunli.people.forms import PersonRefField, PersonRefMixin, UserForm

from .escalation import CaseEscalation
from .models import Case, Category, Channel, RequestType, RiskFlag, VisitType

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TEXT = forms.Textarea(attrs={"rows": 4})


class IntakeForm(PersonRefMixin, UserForm):
    unit = UnitPickerField(label="受理单位")
    type = forms.ModelChoiceField(label="诉求类型", queryset=RequestType.objects.filter(is_active=True))
    channel = forms.ChoiceField(label="受理渠道", choices=_blank(Channel.choices, "请选择"))
    requester_name = forms.CharField(label="诉求人姓名", max_length=50)
    requester_phone = forms.CharField(label="联系电话", max_length=20, required=False,
                                      help_text="加密保存，列表中只显示脱敏号码。")
    description = forms.CharField(label="诉求内容", widget=TEXT, max_length=5000, help_text="加密保存。")
    person = PersonRefField(label="服务对象（可选）", required=False,
                            help_text="已建档人员：填写人员编号或身份证号；可按姓名搜索后点选。")
    categories = forms.MultipleChoiceField(label="服务对象类别", choices=Category.choices, required=False,
                                           widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}))


class NoteForm(UserForm):
    note = forms.CharField(label="记录", widget=TEXT, max_length=5000, help_text="加密保存，只有本案团队可见。")


class ServiceForm(NoteForm):
    visit_type = forms.ChoiceField(label="服务方式", choices=VisitType.choices)
    field_order = ["visit_type", "note"]


class ApproveForm(UserForm):
    decision = forms.ChoiceField(label="审批结果", choices=[("approve", "批准"), ("return", "退回修改")],
                                 widget=forms.RadioSelect(attrs={"class": "form-check-input"}))
    note = forms.CharField(label="审批意见", widget=TEXT, max_length=2000, required=False)


class CloseForm(UserForm):
    outcome = forms.CharField(label="结案结果", max_length=200,
                              help_text="诉求人在网上群团查询进度时可以看到结案结果，请勿填写个人信息。")
    # blank = 未评价 (the requester could not be reached): no score rather than a guessed one
    satisfaction = forms.TypedChoiceField(label="满意度", coerce=int, required=False, empty_value=None,
                                          choices=[(5, "5 非常满意"), (4, "4 满意"), (3, "3 一般"), (2, "2 不满意"),
                                                   (1, "1 非常不满意"), ("", "未评价（无法联系诉求人）")])
    note = forms.CharField(label="结案说明", widget=TEXT, max_length=2000, required=False)


class ReasonForm(UserForm):
    reason = forms.CharField(label="理由", widget=forms.Textarea(attrs={"rows": 3}), max_length=300)


class DismissForm(UserForm):
    reason = forms.CharField(label="不予受理理由", widget=forms.Textarea(attrs={"rows": 3}), max_length=195,
                             help_text="诉求人在网上群团查询进度时可以看到该理由，请勿填写个人信息。")


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return str(obj)


def staff_for(case: Case, action: str = CHANGE):
    """Business accounts whose grant reaches the case's unit (candidates for the team)."""
    from qunli.core.models import Grant

    ancestors = [case.unit.path[:i] for i in range(4, len(case.unit.path) + 1, 4)]
    ids = (Grant.objects.filter(unit__path__in=ancestors).values_list("user_id", flat=True))
    users = User.objects.filter(pk__in=ids, is_active=True, kind=User.Kind.BUSINESS).order_by("username")
    return [u for u in users if can(u, action, case.unit)]


class AssignForm(UserForm):
    caseworker = StaffChoiceField(label="个案社工", queryset=User.objects.none())
    supervisor = StaffChoiceField(label="督导", queryset=User.objects.none())

    def __init__(self, *args, case=None, **kwargs):
        super().__init__(*args, **kwargs)
        ids = [u.pk for u in staff_for(case)]
        for name in ("caseworker", "supervisor"):
            self.fields[name].queryset = User.objects.filter(pk__in=ids).order_by("username")


class MemberForm(UserForm):
    user_to_add = StaffChoiceField(label="成员", queryset=User.objects.none())

    def __init__(self, *args, case=None, **kwargs):
        super().__init__(*args, **kwargs)
        ids = [u.pk for u in staff_for(case)]  # write reach: the action refuses read-only accounts
        self.fields["user_to_add"].queryset = User.objects.filter(pk__in=ids).order_by("username")


class SendForm(UserForm):
    to_unit = UnitPickerField(label="接收单位")
    reason = forms.CharField(label="原因", widget=forms.Textarea(attrs={"rows": 3}), max_length=300)

    def __init__(self, *args, case=None, same_line=True, **kwargs):
        super().__init__(*args, **kwargs)
        # a county has a thousand such units, most outside the sender's grants: a picker bound
        # to the case (``referral_target_units``), not a select of them all
        kind = "case_transfer" if same_line else "case_referral"
        # says exactly what ``actions.referral_targets`` offers, so a search that finds nothing
        # is not mistaken for a fault
        self.fields["to_unit"].help_text = (
            "输入单位名称查找，再点选：承办单位所在县（区）内本条线的其他单位，含县级单位（如乡镇妇联转县妇联）。"
            if same_line else "输入单位名称查找，再点选：承办单位所在县（区）内其他条线的单位（如县总工会、团县委）。")
        self.fields["to_unit"].bind(self.user, source=f"{kind}:{case.pk}")


def referral_target_units(user, case_id: int, *, same_line: bool):
    """The 转办 (same line) or 转介 (other lines) targets of a case, for the unit picker: only
    to whoever acts for the case's own unit (its caseworker or supervisor, or its intake staff
    while nobody is assigned); nobody else learns them through the picker."""
    from qunli.orgs.models import Unit

    from .actions import referral_targets
    from .queries import sending_side

    case = Case.objects.visible_to(user, VIEW).select_related("unit").filter(pk=case_id).first()
    if case is None or not sending_side(user, case):
        return Unit.objects.none()
    qs = referral_targets(case)
    return qs.filter(line_id=case.unit.line_id) if same_line else qs.exclude(line_id=case.unit.line_id)


class ServedPersonForm(UserForm):
    categories = forms.MultipleChoiceField(label="服务对象类别", choices=Category.choices, required=False,
                                           widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}))
    guardian_name = forms.CharField(label="监护人姓名", max_length=50, required=False)
    guardian_relation = forms.CharField(label="与本人关系", max_length=20, required=False)
    guardian_phone = forms.CharField(label="监护人电话", max_length=20, required=False,
                                     help_text="加密保存；留空表示不修改。")
    school_or_employer = forms.CharField(label="学校或工作单位", max_length=100, required=False)
    risk_flags = forms.MultipleChoiceField(label="风险标记", choices=RiskFlag.choices, required=False,
                                           widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}))


class ConsentForm(UserForm):
    given_on = forms.DateField(label="同意日期", widget=DATE)
    given_by = forms.CharField(label="同意人", max_length=50, help_text="本人或监护人姓名")
    scope_text = forms.CharField(label="同意范围", max_length=200, help_text="如：同意将个案信息转介法律援助机构")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["given_on"].widget.attrs["max"] = timezone.localdate().isoformat()

    def clean_given_on(self):
        day = self.cleaned_data["given_on"]
        if day > timezone.localdate():
            raise forms.ValidationError("同意日期不能晚于今天。")
        return day


class CaseFilterForm(_FilterForm):
    status = forms.ChoiceField(label="状态", choices=_blank(Case.Status.choices))
    type = forms.ModelChoiceField(label="类型", queryset=RequestType.objects.all(), empty_label="全部")
    channel = forms.ChoiceField(label="渠道", choices=_blank(Channel.choices))


ALL_STATUSES = "all"


class TeamCaseFilterForm(CaseFilterForm):
    """我的个案 / 督导个案: a work list, so blank means the cases still open (``apply_filters``);
    closed ones are one choice away."""

    status = forms.ChoiceField(label="状态", choices=[("", "办理中（未结案）"), (ALL_STATUSES, "全部（含已结案）"),
                                                    *Case.Status.choices])


class DueFilterForm(_FilterForm):
    due = forms.ChoiceField(label="时限", choices=[("", "超期与即将到期"), ("overdue", "已超期"), ("soon", "3个工作日内到期")])


class EscalationFilterForm(_FilterForm):
    stage = forms.ChoiceField(label="超期事项", choices=[("", "全部超期事项"), *CaseEscalation.Stage.choices])
    all = forms.ChoiceField(label="范围", choices=[("", "仍未处理的"), ("1", "全部（含已处理的）")])


class HolidayForm(forms.Form):
    date = forms.DateField(label="日期", widget=DATE)
    is_workday = forms.BooleanField(label="调休上班（周末上班）", required=False)
    name = forms.CharField(label="名称", max_length=30, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.widget.attrs.setdefault("class", "form-check-input" if isinstance(f.widget, forms.CheckboxInput)
                                      else "form-control")


class RequestTypeForm(forms.Form):
    code = forms.SlugField(label="代码", max_length=30)
    name = forms.CharField(label="名称", max_length=40)
    line = forms.ModelChoiceField(label="主办条线", queryset=Line.objects.filter(is_active=True), required=False)
    acknowledge_days = forms.IntegerField(label="受理时限（工作日）", min_value=0, max_value=60, initial=1)
    resolve_days = forms.IntegerField(label="办结时限（工作日）", min_value=1, max_value=365, initial=15)
    is_active = forms.BooleanField(label="启用", required=False, initial=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            w = f.widget
            w.attrs.setdefault("class", "form-check-input" if isinstance(w, forms.CheckboxInput)
                               else "form-select" if isinstance(w, forms.Select) else "form-control")

