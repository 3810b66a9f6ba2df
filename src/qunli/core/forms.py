from django import forms
from django.contrib.auth.forms import AuthenticationForm


class LoginForm(AuthenticationForm):
    username = forms.CharField(label="用户名", error_messages={"required": "用户名为必填项，请填写。"},
                               widget=forms.TextInput(attrs={"class": "form-control", "autofocus": True,
                                                             "autocomplete": "username"}))
    password = forms.CharField(label="密码", strip=False, error_messages={"required": "密码为必填项，请填写。"},
                               widget=forms.PasswordInput(attrs={"class": "form-control",
                                                                 "autocomplete": "current-password"}))
    error_messages = {
        "invalid_login": "用户名或密码错误。连续5次错误，账户将被锁定15分钟。",
        "inactive": "该账户已停用。",
    }


def _defaults(field: forms.Field, code: str) -> set[str]:
    """Django's own messages for ``code`` (our field classes' defaults are already plain)."""
    return {str(klass.__dict__.get("default_error_messages", {}).get(code)) for klass in type(field).__mro__
            if klass.__module__.startswith("django.")}


def _say(field: forms.Field, code: str, text: str) -> None:
    """Replace Django's message for ``code``, never one the form gave the field itself."""
    current = field.error_messages.get(code)
    if current is None or str(current) in _defaults(field, code):
        field.error_messages[code] = text


def plain_messages(field: forms.Field, blank: str = "请选择") -> None:
    """Error messages that name the field and say what to do. Django's own Chinese ones read
    as translations (「确保该变量包含不超过 300 字符 (目前字符数 301)。」, 「选择一个有效的选项。
    9 不在可用的选项中。」) and a select's blank option shows as 「---------」."""
    label = field.label or "此项"
    # a file is uploaded and an option chosen, not filled in
    verb = ("请上传" if isinstance(field, forms.FileField)
            else "请选择" if isinstance(field, (forms.ChoiceField, forms.ModelChoiceField)) else "请填写")
    _say(field, "required", f"{verb}“{label}”。")
    if isinstance(field, forms.CharField):
        _say(field, "max_length", f"“{label}”最多 %(limit_value)d 个字，现在是 %(show_value)d 个字，请删减。")
        _say(field, "min_length", f"“{label}”至少 %(limit_value)d 个字。")
    if isinstance(field, (forms.IntegerField, forms.DecimalField, forms.FloatField)):
        _say(field, "invalid", f"“{label}”请填写数字。")
        _say(field, "max_value", f"“{label}”不能大于 %(limit_value)s。")
        _say(field, "min_value", f"“{label}”不能小于 %(limit_value)s。")
    if isinstance(field, forms.DecimalField):
        _say(field, "max_digits", f"“{label}”最多 %(max)s 位数字。")
        _say(field, "max_decimal_places", f"“{label}”最多保留 %(max)s 位小数。")
        _say(field, "max_whole_digits", f"“{label}”的整数部分最多 %(max)s 位。")
    if isinstance(field, (forms.DateField, forms.DateTimeField)):
        _say(field, "invalid", f"“{label}”请填写正确的日期，如 2026-03-08。")
    if isinstance(field, (forms.ChoiceField, forms.ModelChoiceField)):
        _say(field, "invalid_choice", f"“{label}”的选项无效，请重新选择。")
    if isinstance(field, forms.ModelChoiceField):
        _say(field, "invalid_pk_value", f"“{label}”的选项无效，请重新选择。")
        if field.empty_label == "---------":
            field.empty_label = blank
    elif isinstance(field, forms.ChoiceField) and any(lbl == "---------" for _, lbl in field.choices):
        field.choices = [(v, blank if lbl == "---------" else lbl) for v, lbl in field.choices]


class BootstrapFormMixin:
    """Give every widget Bootstrap's classes so templates render fields uniformly, and every
    field plain Chinese error messages (``plain_messages``)."""

    blank_label = "请选择"  # a list filter's blank means all: it says 全部

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            plain_messages(field, self.blank_label)
            w = field.widget
            if isinstance(w, (forms.CheckboxInput,)):
                w.attrs.setdefault("class", "form-check-input")
            elif isinstance(w, (forms.Select, forms.SelectMultiple)):
                w.attrs.setdefault("class", "form-select")
            else:
                w.attrs.setdefault("class", "form-control")
