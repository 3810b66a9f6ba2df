from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "qunli.orgs"
    default_auto_field = "django.db.models.BigAutoField"
