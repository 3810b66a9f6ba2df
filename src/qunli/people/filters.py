"""Filter forms for the people lists."""

from django import forms

from qunli.orgs.filters import _blank, _FilterForm, under_field
from qunli.orgs.models import Line

from .models import Gender, MembershipStatus, TeamKind, VolunteerCategory, VolunteerProfile


class _LineFilterForm(_FilterForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "line" in self.fields:
            self.fields["line"].queryset = Line.objects.filter(is_active=True)


class PersonFilterForm(_LineFilterForm):
    under = under_field()
    line = forms.ModelChoiceField(label="单位条线", queryset=Line.objects.none(), empty_label="全部")
    gender = forms.ChoiceField(label="性别", choices=_blank(Gender.choices))
    volunteer = forms.ChoiceField(label="五老志愿者", choices=[("", "全部"), ("1", "是"), ("0", "否")])


class MembershipFilterForm(_LineFilterForm):
    under = under_field()
    line = forms.ModelChoiceField(label="条线", queryset=Line.objects.none(), empty_label="全部")
    status = forms.ChoiceField(label="状态", choices=_blank(MembershipStatus.choices))


class VolunteerFilterForm(_FilterForm):
    under = under_field()
    category = forms.ChoiceField(label="五老类别", choices=_blank(VolunteerCategory.choices))
    status = forms.ChoiceField(label="状态", choices=_blank(VolunteerProfile.Status.choices))


class TeamFilterForm(_FilterForm):
    under = under_field()
    kind = forms.ChoiceField(label="类型", choices=_blank(TeamKind.choices))
