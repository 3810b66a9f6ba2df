from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("submit/", views.submit, name="submit"),
    path("submitted/", views.submitted, name="submitted"),
    path("track/", views.track, name="track"),
    path("notices/", views.notices, name="notices"),
    path("manage/", views.NoticeListView.as_view(), name="notice_list"),
    path("manage/add/", views.NoticeAddView.as_view(), name="notice_add"),
    path("manage/<int:pk>/", views.NoticeEditView.as_view(), name="notice_edit"),
    path("manage/<int:pk>/publish/", views.NoticePublishView.as_view(publish=True), name="notice_publish"),
    path("manage/<int:pk>/unpublish/", views.NoticePublishView.as_view(publish=False), name="notice_unpublish"),
]

# staff: a file a citizen attached to a request, for those who may see its case (access-logged;
# casework/attachments.py holds the rule, the case page lists them)
from qunli.casework.attachments import AttachmentDownloadView  # noqa: E402

urlpatterns += [
    path("manage/attachments/<int:pk>/", AttachmentDownloadView.as_view(), name="request_attachment"),
]

# wishes wall (心愿墙) and the practical-projects list (我为群众办实事)
from . import wish_views  # noqa: E402

urlpatterns += [
    path("wishes/", wish_views.wall, name="wishes"),
    path("wishes/<int:pk>/claim/", wish_views.claim, name="wish_claim"),
    path("wishes/thanks/", wish_views.thanks, name="wish_thanks"),
    path("projects/", wish_views.projects, name="projects"),
]

# the public archives catalogue, online use, the reading room and certificate verification
from . import catalogue_views  # noqa: E402

urlpatterns += [
    path("catalogue/", catalogue_views.catalogue, name="catalogue"),
    path("catalogue/<int:pk>/", catalogue_views.item_detail, name="catalogue_item"),
    path("catalogue/<int:pk>/request/", catalogue_views.request_use, name="use_request"),
    path("use/submitted/", catalogue_views.use_submitted, name="use_submitted"),
    path("use/", catalogue_views.reading_room, name="reading_room"),
    path("use/lines/<int:pk>/", catalogue_views.read_line, name="read_line"),
    path("use/lines/<int:pk>/pages/<int:page>/", catalogue_views.read_page, name="read_page"),
    path("verify/", catalogue_views.verify, name="verify"),
]
