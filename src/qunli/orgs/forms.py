"""Forms for the organization pages. They collect input; ``orgs.actions`` validates,
checks permissions and writes."""

import datetime as dt

from django import forms

from qunli.core.forms import BootstrapFormMixin
from qunli.core.scoping import may_place_in_line
from qunli.people.forms import DATE, PersonRefField, PersonRefMixin, UserForm

from .models import LEVEL_ORDER, Checklist, Level, Line, PositionTitle, Unit, UnitKind, VenueKind
from .widgets import UnitPickerField, UnitPickerWidget

__all__ = ["UnitPickerField", "UnitPickerWidget"]  # the picker lives in .widgets; re-exported here


class UnitForm(UserForm):
    parent = UnitPickerField(label="上级单位")
    name = forms.CharField(label="名称", max_length=100)
    short_name = forms.CharField(label="简称", max_length=40, required=False)
    level = forms.ChoiceField(label="层级", choices=Level.choices)
    line = forms.ModelChoiceField(label="条线", queryset=Line.objects.filter(is_active=True), required=False,
                                  empty_label="（无，属地党委节点）")
    kind = forms.ChoiceField(label="类别", choices=UnitKind.choices, initial=UnitKind.GEOGRAPHIC)
    division_code = forms.CharField(label="行政区划代码", max_length=12, required=False)
    uscc = forms.CharField(label="统一社会信用代码", max_length=18, required=False)
    address = forms.CharField(label="地址", max_length=200, required=False)
    established_on = forms.DateField(label="成立日期", required=False, widget=DATE)

    def __init__(self, *args, unit: Unit | None = None, parent: Unit | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._offer_placeable_lines(unit or parent, keep=unit)
        if unit is not None:
            del self.fields["parent"]
        elif parent is not None:
            # a child sits one level below its parent (a village's 小组), not at 省 as the list starts
            below = [lv for lv, order in sorted(LEVEL_ORDER.items(), key=lambda kv: kv[1])
                     if order > LEVEL_ORDER[parent.level]]
            self.fields["level"].initial = below[0] if below else parent.level
            self.fields["parent"].queryset = Unit.objects.filter(pk=parent.pk)
            self.fields["parent"].initial = parent.pk
            self.fields["parent"].widget = forms.HiddenInput()

    def _offer_placeable_lines(self, where: Unit | None, keep: Unit | None) -> None:
        """Only the lines the user may put a unit in here (``orgs.actions._require_line``);
        an edited unit's current line (``keep``) stays listed so an unrelated edit keeps it."""
        if where is None or self.user is None:
            return  # a new unit whose parent is still to be picked: the action checks
        field = self.fields["line"]
        ok = {ln.pk for ln in Line.objects.filter(is_active=True) if may_place_in_line(self.user, where, ln.pk)}
        if keep is not None and keep.line_id:
            ok.add(keep.line_id)
        field.queryset = Line.objects.filter(pk__in=ok)
        if not may_place_in_line(self.user, where, None) and not (keep is not None and keep.line_id is None):
            field.required = True
            field.empty_label = "请选择"

    def clean(self):
        data = super().clean()
        for key in ("short_name", "division_code", "uscc", "address"):
            data[key] = data.get(key) or ""
        return data


def _warn_wind_up(form, unit: Unit | None, after: str) -> None:
    """The confirm box says what ending the unit changes (``actions._wind_up``)."""
    from .actions import wind_up_summary

    if unit is None:
        return
    n = wind_up_summary(unit)
    parts = []
    if n["positions"]:
        parts.append(f"在任班子成员 {n['positions']} 人将于变动日期离任")
    if n["members"]:
        parts.append(f"在册会员 {n['members']} 人{after}")
    if n["persons"] and "并入" in after:
        parts.append(f"登记在本单位的 {n['persons']} 名人员改登记到并入单位")
    if parts:
        form.fields["confirm"].help_text = "；".join(parts) + "。"


class MergeUnitForm(UserForm):
    into = UnitPickerField(label="并入单位", help_text="只能选择同一条线、同一层级、您有权管理的正常单位。")
    on = forms.DateField(label="变动日期", widget=DATE, initial=dt.date.today)
    document_no = forms.CharField(label="批准文号", max_length=60, required=False)
    note = forms.CharField(label="说明", max_length=300, required=False)
    confirm = forms.BooleanField(label="确认合并（合并后本单位状态为“已合并”，记录仍保留）")

    def __init__(self, *args, unit: Unit, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["into"].bind(self.user, level=unit.level, line=str(unit.line_id or "none"), exclude=str(unit.pk))
        _warn_wind_up(self, unit, "转入并入单位")


class MoveUnitForm(UserForm):
    new_parent = UnitPickerField(label="新的上级单位",
                                 help_text="输入单位名称或行政区划代码查找；本单位及其下级不能作为新的上级。")

    def __init__(self, *args, unit: Unit, **kwargs):
        super().__init__(*args, **kwargs)
        self.unit = unit
        self.fields["new_parent"].bind(self.user, not_under=unit.path)

    def clean_new_parent(self):
        parent = self.cleaned_data["new_parent"]
        if parent is not None and parent.path == self.unit.path[: -Unit.steplen]:
            raise forms.ValidationError(f"“{self.unit.name}”已在“{parent.name}”之下。")
        return parent


class SplitUnitForm(UserForm):
    on = forms.DateField(label="拆分日期", widget=DATE, initial=dt.date.today)
    document_no = forms.CharField(label="批准文号", max_length=60, required=False)
    confirm = forms.BooleanField(label="确认拆分（拆分后本单位状态为“已拆分”，记录仍保留）")

    def __init__(self, *args, unit: Unit | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        _warn_wind_up(self, unit, "标记为“已转出”，请到新单位重新登记")


class SplitPartForm(BootstrapFormMixin, forms.Form):
    """One new unit of a split; a row without a name is ignored."""

    name = forms.CharField(label="新单位名称", max_length=100, required=False)
    short_name = forms.CharField(label="简称", max_length=40, required=False)
    level = forms.ChoiceField(label="层级", choices=Level.choices)


SPLIT_MAX_ROWS = 10
SplitPartFormSet = forms.formset_factory(SplitPartForm, extra=0, max_num=SPLIT_MAX_ROWS,
                                         absolute_max=SPLIT_MAX_ROWS)


class DissolveUnitForm(UserForm):
    on = forms.DateField(label="撤销日期", widget=DATE, initial=dt.date.today)
    document_no = forms.CharField(label="批准文号", max_length=60, required=False)
    note = forms.CharField(label="说明", max_length=300, required=False)
    confirm = forms.BooleanField(label="确认撤销（撤销后本单位的记录仍保留，可查询）")

    def __init__(self, *args, unit: Unit, **kwargs):
        super().__init__(*args, **kwargs)
        _warn_wind_up(self, unit, "标记为“已转出”")


class AppointForm(PersonRefMixin, UserForm):
    person = PersonRefField(label="任职人")
    title = forms.ChoiceField(label="职务", choices=PositionTitle.choices)
    title_label = forms.CharField(label="职务名称", max_length=30, required=False,
                                  help_text="如：主席、书记、常务副主任；主要负责人留空则按条线默认。")
    is_parttime = forms.BooleanField(label="兼职", required=False)
    started_on = forms.DateField(label="任职日期", widget=DATE)
    term_ends_on = forms.DateField(label="任期届满", widget=DATE, required=False)


class EndPositionForm(UserForm):
    on = forms.DateField(label="离任日期", widget=DATE, initial=dt.date.today)
    reason = forms.CharField(label="离任原因", max_length=200, required=False)
    confirm_early = forms.BooleanField(label="确认在任期届满前调整", required=False)

    def __init__(self, *args, position=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.position = position

    def clean(self):
        from .actions import early_departure_warning

        data = super().clean()
        on = data.get("on")
        if on and self.position is not None and early_departure_warning(self.position, on):
            if not (data.get("reason") or "").strip():
                self.add_error("reason", "任期未满离任，必须填写原因。")
            if not data.get("confirm_early"):
                self.add_error("confirm_early", "任期未满离任，请勾选确认。")
        return data


class ConditionsForm(UserForm):
    lacks_staff = forms.BooleanField(label="缺人员", required=False)
    lacks_establishment = forms.BooleanField(label="缺编制", required=False)
    lacks_venue = forms.BooleanField(label="缺场所", required=False)
    lacks_funding = forms.BooleanField(label="缺经费", required=False)
    staff_count = forms.IntegerField(label="专兼职人数", min_value=0, initial=0)
    annual_funding = forms.DecimalField(label="年度经费（元）", max_digits=12, decimal_places=2, min_value=0,
                                        initial=0)
    note = forms.CharField(label="说明", max_length=300, required=False)


class VenueForm(UserForm):
    name = forms.CharField(label="名称", max_length=100)
    kind = forms.ChoiceField(label="类型", choices=VenueKind.choices)
    address = forms.CharField(label="地址", max_length=200, required=False)
    area_m2 = forms.IntegerField(label="面积（㎡）", min_value=0, required=False)
    opened_on = forms.DateField(label="启用日期", widget=DATE, required=False)


class InspectionForm(UserForm):
    """The checklist's items become checkboxes; the action computes the score."""

    checklist = forms.ModelChoiceField(label="检查标准", queryset=Checklist.objects.all(), widget=forms.HiddenInput)
    on = forms.DateField(label="检查日期", widget=DATE, initial=dt.date.today)
    inspector = forms.CharField(label="检查人", max_length=50)
    met_items = forms.MultipleChoiceField(label="已达到的检查项", required=False,
                                          widget=forms.CheckboxSelectMultiple)
    findings = forms.CharField(label="发现问题", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, checklist: Checklist, **kwargs):
        super().__init__(*args, **kwargs)
        self.checklist = checklist
        self.fields["checklist"].initial = checklist.pk
        self.fields["met_items"].choices = [(str(i.pk), f"{i.text}（{i.points}分）") for i in checklist.items.all()]
        self.fields["met_items"].widget.attrs["class"] = "form-check-input"


class LineForm(BootstrapFormMixin, forms.Form):
    code = forms.SlugField(label="代码", max_length=20, help_text="英文字母、数字，如 union")
    name = forms.CharField(label="名称", max_length=30)
    chair_title = forms.CharField(label="主要负责人职务", max_length=20, initial="主席")

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)



class ChecklistForm(BootstrapFormMixin, forms.Form):
    name = forms.CharField(label="名称", max_length=40, help_text="如：七有、五有一能")
    description = forms.CharField(label="说明", max_length=200, required=False)
    venue_kinds = forms.MultipleChoiceField(label="适用阵地类型", choices=VenueKind.choices, required=False,
                                            widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
                                            help_text="不勾选则适用于全部阵地。")
    pass_score = forms.IntegerField(label="达标分", min_value=1, max_value=100, initial=80)
    items_text = forms.CharField(label="检查项", widget=forms.Textarea(attrs={"rows": 8}),
                                 help_text="每行一项：检查项|分值，如“有固定场所|15”。得分按百分制折算（达标项分值之和 ÷ 各项分值之和 × 100），全部达标为 100 分。")

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
