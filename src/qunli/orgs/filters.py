"""Filter forms for the organization lists. Each takes the signed-in ``user`` so choices
can be limited to what the user may see."""

from django import forms

from qunli.core.forms import BootstrapFormMixin

from .models import Level, Line, PositionTitle, UnitKind, UnitStatus, VenueKind


def _blank(choices, label="全部"):
    return [("", label), *choices]


def under_field():
    """"单位（含下级）": a list narrowed to a subtree (ObjectListView.under_path)."""
    from .widgets import UnitPickerField

    return UnitPickerField(label="单位（含下级）", action="view", active=False, help_text="")


class _FilterForm(BootstrapFormMixin, forms.Form):
    blank_label = "全部"

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        if "under" in self.fields and user is not None:
            self.fields["under"].bind(user)
        for field in self.fields.values():
            field.required = False
            css = field.widget.attrs.get("class", "")
            field.widget.attrs["class"] = (css.replace("form-control", "form-control form-control-sm")
                                           .replace("form-select", "form-select form-select-sm"))


TEAM_CHOICES = [("", "全部"), ("incomplete", "班子不健全"), ("complete", "班子健全")]
LACKS_CHOICES = [("", "全部"), ("any", "存在“四缺”"), ("staff", "缺人员"), ("establishment", "缺编制"),
                 ("venue", "缺阵地"), ("funding", "缺经费"), ("all4", "四缺俱全")]


class UnitFilterForm(_FilterForm):
    under = under_field()
    line = forms.ModelChoiceField(label="条线", queryset=Line.objects.none(), empty_label="全部")
    level = forms.ChoiceField(label="层级", choices=_blank(Level.choices))
    kind = forms.ChoiceField(label="类别", choices=_blank(UnitKind.choices))
    status = forms.ChoiceField(label="状态", choices=_blank(UnitStatus.choices))
    team = forms.ChoiceField(label="班子", choices=TEAM_CHOICES)
    lacks = forms.ChoiceField(label="四缺", choices=LACKS_CHOICES)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = Line.objects.filter(is_active=True)


class PositionFilterForm(_FilterForm):
    under = under_field()
    title = forms.ChoiceField(label="职务", choices=_blank(PositionTitle.choices))
    line = forms.ModelChoiceField(label="条线", queryset=Line.objects.none(), empty_label="全部")
    expired = forms.ChoiceField(label="任期", choices=[("", "全部"), ("1", "任期已届满"), ("0", "任期内")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = Line.objects.filter(is_active=True)


class VenueFilterForm(_FilterForm):
    under = under_field()
    kind = forms.ChoiceField(label="类型", choices=_blank(VenueKind.choices))
    line = forms.ModelChoiceField(label="条线", queryset=Line.objects.none(), empty_label="全部")
    passed = forms.ChoiceField(label="最近检查", choices=[("", "全部"), ("1", "达标"), ("0", "未达标"),
                                                         ("none", "未检查")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = Line.objects.filter(is_active=True)
