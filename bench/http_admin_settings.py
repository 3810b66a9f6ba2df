"""Settings for the ``http`` benchmark's peer: Qunli's settings plus django.contrib.admin with
Person registered, served from the same database. This module is its own URLconf: the
``urlpatterns`` are built lazily (module ``__getattr__``) once the apps are ready."""

from qunli.settings import *  # noqa: F403
from qunli.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.admin"]
ROOT_URLCONF = "bench.http_admin_settings"


def __getattr__(name):
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.contrib import admin
    from django.urls import path

    import qunli.urls
    from qunli.people.models import Person

    class PersonAdmin(admin.ModelAdmin):
        list_display = ("name", "gender", "birth_date", "id_number_mask", "phone_mask", "political_status", "unit")
        list_select_related = ("unit",)
        list_per_page = 50
        ordering = ("name", "id")
        search_fields = ("name",)

    if not admin.site.is_registered(Person):
        admin.site.register(Person, PersonAdmin)
    return [path("admin/", admin.site.urls), *qunli.urls.urlpatterns]
