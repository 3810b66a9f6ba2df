from django.urls import include, path

from qunli.api import api
from qunli.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("favicon.ico", core_views.favicon),
    path("", core_views.home, name="home"),
    path("accounts/", include("qunli.core.auth_urls")),
    path("core/", include("qunli.core.urls")),
    path("orgs/", include("qunli.orgs.urls")),
    path("people/", include("qunli.people.urls")),
    path("reports/", include("qunli.reports.urls")),
    path("records/", include("qunli.records.urls")),
    path("casework/", include("qunli.casework.urls")),
    path("portal/", include("qunli.portal.urls")),  # public 网上群团; "/" stays the staff home
    path("api/", api.urls),
]

# Chinese error pages (core.errors): the portal keeps its layout, the API answers JSON
handler400 = "qunli.core.errors.bad_request"
handler403 = "qunli.core.errors.permission_denied"
handler404 = "qunli.core.errors.page_not_found"
handler500 = "qunli.core.errors.server_error"
