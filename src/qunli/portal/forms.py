"""Forms of the public portal and of the staff's notice screens."""

from django import forms

from qunli.casework import attachments as request_files
from qunli.casework.models import RequestType
from qunli.core.actions import ActionError
from qunli.core.forms import plain_messages
from qunli.orgs.widgets import UnitPickerField
from qunli.people.forms import UserForm

from .actions import DESCRIPTION_MAX, intake_unit_groups, intake_units


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class GroupedUnitSelect(forms.Select):
    """The intake-unit picker, grouped by county (``<optgroup>``) so a citizen finds their own
    place among hundreds of units, and rendered in Python: Django renders every ``<option>``
    through a template, which for a county's ~700 units cost ~80 ms a page — most of the
    portal's CPU under load. ``groups`` is called at render time only (a POST that succeeds
    never renders the form)."""

    groups = staticmethod(lambda: [])

    def render(self, name, value, attrs=None, renderer=None):
        from django.forms.utils import flatatt
        from django.utils.html import escape, format_html
        from django.utils.safestring import mark_safe

        final = self.build_attrs(self.attrs, attrs)
        final["name"] = name
        chosen = "" if value is None else str(value)
        parts = [format_html("<select{}>", flatatt(final)), '<option value="">请选择受理单位</option>']
        for label, options in self.groups():
            parts.append(format_html('<optgroup label="{}">', label or "其他"))
            for pk, text, line in options:
                # an option without a line (不清楚，由县委群团办分派) has no data-line: no type hides it
                data_line = "" if line is None else f' data-line="{line}"'
                selected = " selected" if str(pk) == chosen else ""
                parts.append(f'<option value="{pk}"{data_line}{selected}>{escape(text)}</option>')
            parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))


def name_field() -> forms.CharField:
    return forms.CharField(label="您的姓名", max_length=50,
                           error_messages={"required": "请填写姓名。", "max_length": "姓名不能超过50字。"})


def phone_field(help_text: str) -> forms.RegexField:
    return forms.RegexField(label="手机号码", regex=r"^1[3-9]\d{9}$", max_length=11, help_text=help_text,
                            error_messages={"required": "请填写手机号码。", "invalid": "请填写11位手机号码。",
                                            "max_length": "请填写11位手机号码。"})


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Several optional files in one ``<input type=file multiple>``; cleans to a list. Each
    file is checked by ``casework.attachments`` (type by content, size, count) so a refused
    file gets its own message on this field."""

    widget = MultipleFileInput

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, (list, tuple)) else [data]) if f]
        files = [super(AttachmentsField, self).clean(f, initial) for f in files]
        try:
            request_files.check_attachments(files)
        except ActionError as e:
            raise forms.ValidationError(e.messages) from None
        return files


class PublicForm(forms.Form):
    """A form citizens fill in on the portal: Bootstrap classes by widget, phone-friendly
    inputs, and the honeypot (``website``: hidden from people — off-screen, aria-hidden, not
    focusable — while bots fill it in; ``is_bot`` says so). Subclasses declare ``name``,
    ``phone`` and ``consent`` with their own wording."""

    website = forms.CharField(label="网址（请勿填写）", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            plain_messages(field)
            css = ("form-check-input" if isinstance(field.widget, forms.CheckboxInput)
                   else "form-select" if isinstance(field.widget, forms.Select) else "form-control")
            field.widget.attrs.setdefault("class", css)
        self.fields["phone"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "tel"})
        self.fields["name"].widget.attrs["autocomplete"] = "name"
        self.fields["website"].widget.attrs.update({"tabindex": "-1", "autocomplete": "off"})

    @property
    def is_bot(self) -> bool:
        return bool((self.data.get("website") or "").strip())


class SubmitForm(PublicForm):
    field_order = ["type", "unit"]  # as the page asks them: the type narrows the units (error summary order)
    unit = UnitChoiceField(label="向哪个单位反映", queryset=None, empty_label="请选择受理单位", widget=GroupedUnitSelect,
                           error_messages={"required": "请选择受理单位。", "invalid_choice": "请选择受理单位。"})
    type = forms.ModelChoiceField(label="诉求类型", queryset=None, empty_label="请选择诉求类型",
                                  error_messages={"required": "请选择诉求类型。", "invalid_choice": "请选择诉求类型。"})
    name = name_field()
    phone = phone_field("11位手机号。查询办理进度时需要后四位；号码加密保存。")
    description = forms.CharField(label="诉求内容", max_length=DESCRIPTION_MAX, widget=forms.Textarea(attrs={"rows": 6}),
                                  help_text=f"请写明发生了什么、需要什么帮助（不超过{DESCRIPTION_MAX}字）。",
                                  error_messages={"required": "请填写诉求内容。"})
    attachments = AttachmentsField(
        label="附件（可选）", required=False,
        help_text=f"可上传工资条、伤情照片、合同等材料：{request_files.ATTACHMENT_LIMITS}。"
                  "仅承办工作人员可以查看。如提交未成功，请重新选择附件。",
        error_messages={"empty": "上传的附件是空文件。", "invalid": "附件上传失败，请重新选择文件。",
                        "missing": "附件上传失败，请重新选择文件。"})
    consent = forms.BooleanField(label="我同意工作人员为办理本诉求使用以上信息并与我联系。",
                                 error_messages={"required": "请勾选同意，我们才能受理。"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].widget.attrs["accept"] = ".jpg,.jpeg,.png,.pdf,image/jpeg,image/png,application/pdf"
        self.fields["unit"].queryset = intake_units()
        self.fields["unit"].widget.groups = intake_unit_groups
        self.fields["type"].queryset = RequestType.objects.filter(is_active=True)
        self.fields["description"].widget.attrs["maxlength"] = str(DESCRIPTION_MAX)

    def clean_description(self):
        value = self.cleaned_data["description"].strip()
        if not value:
            raise forms.ValidationError("请填写诉求内容。")
        return value


class TrackForm(forms.Form):
    code = forms.CharField(label="查询码", max_length=20, help_text="提交诉求后页面上显示的10位查询码。",
                           error_messages={"required": "请填写查询码。"})
    last4 = forms.RegexField(label="手机号后四位", regex=r"^\d{4}$", max_length=4,
                             error_messages={"required": "请填写手机号后四位。", "invalid": "请填写4位数字。"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-control"
        self.fields["code"].widget.attrs.update({"autocomplete": "off", "autocapitalize": "characters",
                                                 "spellcheck": "false"})
        self.fields["last4"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})


class NoticeForm(UserForm):
    unit = UnitPickerField(label="发布单位")
    title = forms.CharField(label="标题", max_length=100)
    body = forms.CharField(label="正文", widget=forms.Textarea(attrs={"rows": 8}), max_length=5000,
                           help_text="发布后向公众公开，请勿填写个人信息。")


class NoticeEditForm(UserForm):
    title = forms.CharField(label="标题", max_length=100)
    body = forms.CharField(label="正文", widget=forms.Textarea(attrs={"rows": 8}), max_length=5000,
                           help_text="发布后向公众公开，请勿填写个人信息。")
