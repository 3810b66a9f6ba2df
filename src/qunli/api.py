"""The REST API: one NinjaAPI, a router per app, OpenAPI at /api/openapi.json."""

from ninja import NinjaAPI

from qunli.core.api import TokenAuth, router as core_router
from qunli.orgs.api import router as orgs_router
from qunli.people.api import router as people_router

api = NinjaAPI(title="群力 Qunli API", version="1", auth=TokenAuth(), urls_namespace="api",
               description="组织、人员等对象的接口；与界面共用同一套动作（actions）与数据范围（scoping）。")
api.add_router("/core", core_router)
api.add_router("/orgs", orgs_router)
api.add_router("/people", people_router)
