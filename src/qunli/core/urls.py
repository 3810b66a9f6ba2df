from django.urls import path

from . import admin_views

app_name = "core"

urlpatterns = [
    path("users/", admin_views.UserListView.as_view(), name="user_list"),
    path("users/<int:pk>/", admin_views.UserDetailView.as_view(), name="user_detail"),
    path("users/grant-units/", admin_views.GrantUnitSearchView.as_view(), name="grant_unit_search"),
    path("audit/changes/", admin_views.AuditLogView.as_view(), name="changelog_list"),
    path("audit/access/", admin_views.AccessLogView.as_view(), name="accesslog_list"),
    path("audit/logins/", admin_views.LoginEventView.as_view(), name="loginevent_list"),
]

from . import import_views  # noqa: E402

urlpatterns += [
    path("import/", import_views.import_start, name="import_start"),
    path("import/template/<str:kind>/", import_views.import_template, name="import_template"),
    path("import/<uuid:pk>/", import_views.import_job, name="import_job"),
    path("import/<uuid:pk>/errors.xlsx", import_views.import_errors, name="import_errors"),
]

# staff notifications (core/notifications.py) and the outbound log
from . import notification_views  # noqa: E402

urlpatterns += [
    path("notifications/", notification_views.InboxView.as_view(), name="notifications"),
    path("notifications/<int:pk>/read/", notification_views.MarkReadView.as_view(), name="notification_read"),
    path("notifications/<int:pk>/open/", notification_views.OpenNotificationView.as_view(), name="notification_open"),
    path("notifications/read-all/", notification_views.MarkAllReadView.as_view(), name="notifications_read_all"),
    path("notifications/contact/", notification_views.ContactView.as_view(), name="notify_contact"),
    path("outbound/", notification_views.OutboundListView.as_view(), name="outbound_list"),
]

# background export jobs (core/export_jobs.py)
from . import export_views  # noqa: E402

urlpatterns += [
    path("export/", export_views.export_start, name="export_start"),
    path("export/<uuid:pk>/", export_views.export_job, name="export_job"),
    path("export/<uuid:pk>/download/", export_views.export_download, name="export_download"),
]
