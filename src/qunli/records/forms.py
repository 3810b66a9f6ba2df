"""Forms for the archives pages. They collect input; ``records.actions`` validates, checks
permissions and writes."""

import datetime as dt

from django import forms

from qunli.orgs.widgets import UnitPickerField
from qunli.people.forms import DATE, UserForm

from .actions import ALLOWED_LABEL, CAPTURED_RECORD_TYPES, MAX_FILE_BYTES, retention_code
from .models import Category, Classification, ItemFile, Openness, Retention


def _blank(choices, label="（未定）"):
    return [("", label), *choices]


class FondsForm(UserForm):
    unit = UnitPickerField(label="立档单位")
    code = forms.CharField(label="全宗号", max_length=20, help_text="如 J001")
    name = forms.CharField(label="全宗名称", max_length=100)


class OrgCodeForm(UserForm):
    code = forms.CharField(label="机构（问题）代码", max_length=10, help_text="如 BGS")
    name = forms.CharField(label="名称", max_length=40, help_text="如 办公室")


class ScheduleVersionForm(UserForm):
    effective_on = forms.DateField(label="生效日期", widget=DATE, initial=dt.date.today)
    rules = forms.CharField(label="规则", widget=forms.Textarea(attrs={"rows": 6}),
                            help_text="每行一条：文件类型=保管期限（永久/Y、定期30年/D30、定期10年/D10），如“机构变动=永久”。"
                                      "平台自动登记的文件类型：" + "、".join(CAPTURED_RECORD_TYPES) + "。")
    note = forms.CharField(label="说明", max_length=200, required=False)

    def clean_rules(self):
        rules = []
        for n, line in enumerate(self.cleaned_data["rules"].splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            if "=" not in line:
                raise forms.ValidationError(f"第{n}行格式应为“文件类型=保管期限”。")
            t, r = (x.strip() for x in line.split("=", 1))
            code = retention_code(r)
            if code is None:
                raise forms.ValidationError(f"第{n}行的保管期限“{r}”无效，应为永久、定期30年、定期10年（或 Y、D30、D10）。")
            rules.append((t, code))
        if not rules:
            raise forms.ValidationError("至少填写一条规则。")
        return rules


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)] if data else []


class _DescriptionFields(forms.Form):
    title = forms.CharField(label="题名", max_length=300, required=False)
    responsible = forms.CharField(label="责任者", max_length=100, required=False)
    date = forms.DateField(label="日期", widget=DATE, required=False)
    doc_no = forms.CharField(label="文件编号", max_length=60, required=False)
    category = forms.ChoiceField(label="门类", choices=())
    retention = forms.ChoiceField(label="保管期限", choices=_blank(Retention.choices), required=False)
    org_code = forms.CharField(label="机构（问题）代码", max_length=10, required=False)
    classification = forms.ChoiceField(label="密级", choices=Classification.choices, initial=Classification.INTERNAL)
    # 开放 is an opening decision's to give (records.opening), not a describing clerk's
    openness = forms.ChoiceField(label="开放标识", initial=Openness.PENDING,
                                 choices=[c for c in Openness.choices if c[0] != Openness.OPEN],
                                 help_text="“开放”须经开放鉴定决定；需提前开放的，归档后提交重新鉴定。")
    pages = forms.IntegerField(label="页数", min_value=1, required=False)
    note = forms.CharField(label="备注", max_length=200, required=False)


class CaptureForm(UserForm, _DescriptionFields):
    unit = UnitPickerField(label="形成单位", help_text="条目登记到该单位（或其最近的上级单位）的全宗。")
    files = MultipleFileField(label="电子文件", required=False,
                              help_text=f"允许 {ALLOWED_LABEL}，单个文件不超过 {MAX_FILE_BYTES // 1024 // 1024} MB。")
    file_origin = forms.ChoiceField(
        label="电子文件生成方式", choices=ItemFile.Origin.choices, initial=ItemFile.Origin.SCAN, required=False,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        help_text="扫描纸质原件得到的选“数字化副本”（计入数字化进度）；电脑生成的文档、数码照片、录音录像选“原生电子文件”。")
    field_order = ["unit", "title", "responsible", "date", "doc_no", "category", "retention", "org_code",
                   "classification", "openness", "pages", "note", "files", "file_origin"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c.code, str(c)) for c in Category.objects.all()]
        self.fields["title"].required = self.fields["responsible"].required = self.fields["date"].required = True

    def clean_file_origin(self):
        return self.cleaned_data["file_origin"] or ItemFile.Origin.SCAN  # no files, or a form without the choice


class ItemEditForm(UserForm, _DescriptionFields):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [(c.code, str(c)) for c in Category.objects.all()]
        if self.initial.get("openness") == Openness.OPEN:  # opened by a decision: shown as it is
            self.fields["openness"].choices = Openness.choices


class RenumberForm(UserForm):
    piece_no = forms.IntegerField(label="新件号", min_value=1)
    reason = forms.CharField(label="调整原因", max_length=200)


class GapForm(UserForm):
    """缺号说明: the class (门类·年度·保管期限·机构) and the missing 件号 with the reason."""

    category = forms.ChoiceField(label="门类", initial="WS")
    year = forms.IntegerField(label="年度", min_value=1900, max_value=2100)
    retention = forms.ChoiceField(label="保管期限", choices=Retention.choices)
    org_code = forms.ChoiceField(label="机构（问题）", required=False)
    pieces = forms.CharField(label="缺号件号", max_length=300, help_text="多个用逗号分隔，连续的写成 12-14")
    reason = forms.CharField(label="缺号原因", max_length=200, help_text="如：原件于1998年搬迁时遗失；编号时漏号")

    def __init__(self, *args, fonds=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fonds = fonds
        self.fields["category"].choices = [(c.code, str(c)) for c in Category.objects.all()]
        org_codes = list(fonds.org_codes.all()) if fonds is not None else []
        self.fields["org_code"].choices = [("", "（无机构代码）"), *((oc.code, f"{oc.code} {oc.name}") for oc in org_codes)]

    def clean_category(self):
        return Category.objects.get(code=self.cleaned_data["category"])

    def clean_org_code(self):
        code = self.cleaned_data.get("org_code")
        return self.fonds.org_codes.get(code=code) if code else None


class CatalogueForm(forms.Form):
    year = forms.IntegerField(label="年度", min_value=1900, max_value=2100,
                              widget=forms.NumberInput(attrs={"class": "form-control form-control-sm"}))
    retention = forms.ChoiceField(label="保管期限", choices=Retention.choices,
                                  widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    # a choice, not free text: an unknown code ("XX", "zp") printed an empty catalogue silently
    category = forms.ChoiceField(label="门类", required=False, initial="WS",
                                 error_messages={"invalid_choice": "门类代码“%(value)s”不存在，请从门类列表中选择。"},
                                 widget=forms.Select(attrs={"class": "form-select form-select-sm"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # 门类 are shared by every fonds (records.models.Category)
        self.fields["category"].choices = _blank([(c.code, str(c)) for c in Category.objects.all()], "（全部门类）")

    def problems(self) -> list[str]:
        """The refusal of an invalid selection, in Chinese and naming what is wrong."""
        out = ["请填写年度和保管期限。"] if {"year", "retention"} & set(self.errors) else []
        return out + list(self.errors.get("category", [])) or ["请填写年度和保管期限。"]
