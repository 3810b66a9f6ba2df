from django.urls import path

from . import views

app_name = "people"

urlpatterns = [
    path("", views.PersonListView.as_view(), name="person_list"),
    path("add/", views.PersonAddView.as_view(), name="person_add"),
    path("pick/", views.PersonPickView.as_view(), name="person_pick"),
    path("merge/", views.PersonMergeView.as_view(), name="person_merge"),
    path("<int:pk>/", views.PersonDetailView.as_view(), name="person_detail"),
    path("<int:pk>/edit/", views.PersonEditView.as_view(), name="person_edit"),
    path("<int:pk>/move/", views.PersonMoveView.as_view(), name="person_move"),
    path("<int:pk>/reveal/", views.PersonRevealView.as_view(), name="person_reveal"),
    path("<int:pk>/cadre/", views.PersonCadreView.as_view(), name="person_cadre"),
    path("memberships/", views.MembershipListView.as_view(), name="membership_list"),
    path("memberships/add/", views.MembershipAddView.as_view(), name="membership_add"),
    path("memberships/<int:pk>/status/", views.MembershipStatusView.as_view(), name="membership_status"),
    path("volunteers/", views.VolunteerListView.as_view(), name="volunteer_list"),
    path("volunteers/add/", views.VolunteerAddView.as_view(), name="volunteer_add"),
    path("volunteers/<int:pk>/", views.VolunteerDetailView.as_view(), name="volunteer_detail"),
    path("volunteers/<int:pk>/trainings/add/", views.VolunteerRecordView.as_view(kind="training"),
         name="volunteer_training_add"),
    path("volunteers/<int:pk>/recognitions/add/", views.VolunteerRecordView.as_view(kind="recognition"),
         name="volunteer_recognition_add"),
    path("teams/", views.TeamListView.as_view(), name="team_list"),
    path("teams/add/", views.TeamAddView.as_view(), name="team_add"),
    path("teams/<int:pk>/", views.TeamDetailView.as_view(), name="team_detail"),
    path("teams/<int:pk>/members/add/", views.TeamMemberAddView.as_view(), name="team_member_add"),
    path("teams/<int:pk>/members/remove/", views.TeamMemberRemoveView.as_view(), name="team_member_remove"),
]
