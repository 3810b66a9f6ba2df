from django.contrib.auth import password_validation
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


# Django's validators, with the messages in Chinese: its zh_Hans catalogue leaves the length
# rule in English and words the similarity rule oddly ("密码跟 用户名 太相似了").

class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    def validate(self, password, user=None):
        if len(password) < self.min_length:
            raise ValidationError(f"密码太短，至少需要 {self.min_length} 个字符（现在 {len(password)} 个）。",
                                  code="password_too_short")

    def get_help_text(self):
        return f"密码至少 {self.min_length} 个字符。"


class UserAttributeSimilarityValidator(password_validation.UserAttributeSimilarityValidator):
    def validate(self, password, user=None):
        try:
            super().validate(password, user)
        except ValidationError as e:
            field = str((e.params or {}).get("verbose_name") or "账户信息").strip()
            raise ValidationError(f"密码与{field}太相似，请换一个。", code="password_too_similar") from None

    def get_help_text(self):
        return "密码不能与用户名、姓名太相似。"


class CommonPasswordValidator(password_validation.CommonPasswordValidator):
    def validate(self, password, user=None):
        try:
            super().validate(password, user)
        except ValidationError:
            raise ValidationError("这个密码太常见，容易被猜中，请换一个。", code="password_too_common") from None

    def get_help_text(self):
        return "不能使用常见密码。"
