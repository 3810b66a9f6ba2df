from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "qunli.portal"
    label = "portal"
    verbose_name = "网上群团"
