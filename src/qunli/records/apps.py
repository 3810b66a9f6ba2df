from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "qunli.records"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .legacy_import import register

        register()  # the 历史档案目录 import kind of the import engine
        from . import printing

        printing.register()  # the 归档文件目录 / 归档章 PDFs of large classes as background export jobs
        from qunli.orgs.widgets import register_source

        from .transfer import receiver_units

        # the archives of the sender's region, the nearest first (a county's own before the province's)
        register_source("transfer_receivers", receiver_units, order=("-depth", "path"))
