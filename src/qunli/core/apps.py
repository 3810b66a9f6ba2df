from django.apps import AppConfig


class CoreConfig(AppConfig):
    verbose_name = "平台"
    name = "qunli.core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import signals  # noqa: F401
