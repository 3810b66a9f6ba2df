from django.core.exceptions import ValidationError


class ComplexityValidator:
    """等保 2.0: passwords mix at least three of upper case, lower case, digits and symbols."""

    def validate(self, password, user=None):
        kinds = sum([
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ])
        if kinds < 3:
            raise ValidationError("密码须包含大写字母、小写字母、数字、符号中的至少三类。", code="password_too_simple")

    def get_help_text(self):
        return "密码须包含大写字母、小写字母、数字、符号中的至少三类。"
