from django.apps import AppConfig


class CaseworkConfig(AppConfig):
    name = "qunli.casework"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from functools import partial

        from qunli.orgs.widgets import register_source

        from .forms import referral_target_units

        register_source("case_transfer", partial(referral_target_units, same_line=True))
        register_source("case_referral", partial(referral_target_units, same_line=False))
