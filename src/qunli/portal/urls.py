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
