from django.urls import path

from . import views

app_name = "casework"

urlpatterns = [
    path("", views.AllCasesView.as_view(), name="case_list"),
    path("mine/", views.MyCasesView.as_view(), name="my_cases"),
    path("supervised/", views.SupervisedView.as_view(), name="supervised"),
    path("unassigned/", views.IntakeQueueView.as_view(), name="unassigned"),
    path("due/", views.DueView.as_view(), name="due"),
    path("intake/", views.IntakeView.as_view(), name="intake"),
    path("<int:pk>/", views.CaseDetailView.as_view(), name="case_detail"),
    path("<int:pk>/reveal/", views.CaseRevealView.as_view(), name="case_reveal"),
    path("<int:pk>/remove_member/", views.CaseMemberRemoveView.as_view(), name="case_remove_member"),
    *[path(f"<int:pk>/{step}/", views.CaseStepView.as_view(step=step), name=f"case_{step}")
      for step in views.STEP_FORMS],
    path("referrals/", views.ReferralInboxView.as_view(), name="referral_inbox"),
    path("referrals/<int:pk>/accept/", views.ReferralDecideView.as_view(decision="accept"), name="referral_accept"),
    path("referrals/<int:pk>/decline/", views.ReferralDecideView.as_view(decision="decline"), name="referral_decline"),
    path("referrals/<int:pk>/withdraw/", views.ReferralWithdrawView.as_view(), name="referral_withdraw"),
    path("holidays/", views.HolidayView.as_view(), name="holidays"),
    path("types/", views.RequestTypeView.as_view(), name="request_types"),
]

# pairing (结对帮扶 / 结对帮教)
from . import pairing_views  # noqa: E402

urlpatterns += [
    path("pairings/", pairing_views.PairingListView.as_view(), name="pairing_list"),
    path("pairings/lapsed/", pairing_views.LapsedListView.as_view(), name="pairing_lapsed"),
    path("pairings/add/", pairing_views.PairingCreateView.as_view(), name="pairing_add"),
    path("pairings/pick/", pairing_views.PairingPersonPickView.as_view(), name="pairing_person_pick"),
    path("pairings/served/", pairing_views.ServedPairingsView.as_view(), name="pairing_served_check"),
    path("pairings/targets/", pairing_views.TargetsView.as_view(), name="pairing_targets"),
    path("pairings/targets/set/", pairing_views.TargetSetView.as_view(), name="pairing_target_set"),
    path("pairings/<int:pk>/", pairing_views.PairingDetailView.as_view(), name="pairing_detail"),
    path("pairings/<int:pk>/visit/", pairing_views.PairingVisitView.as_view(), name="pairing_visit"),
    path("pairings/<int:pk>/end/", pairing_views.PairingEndView.as_view(), name="pairing_end"),
    path("pairings/<int:pk>/reveal/", pairing_views.PairingRevealView.as_view(), name="pairing_reveal"),
    path("pairings/visits/<int:pk>/photo/", pairing_views.VisitPhotoView.as_view(), name="visit_photo"),
]

# wishes (微心愿), the practical-projects list (我为群众办实事) and the casework dashboard
from . import dashboard_views, wish_views  # noqa: E402

urlpatterns += [
    path("wishes/", wish_views.WishListView.as_view(), name="wish_list"),
    path("wishes/add/", wish_views.WishCreateView.as_view(), name="wish_add"),
    path("wishes/<int:pk>/", wish_views.WishDetailView.as_view(), name="wish_detail"),
    *[path(f"wishes/<int:pk>/{verb}/", wish_views.WishVerbView.as_view(verb=verb), name=f"wish_{verb}")
      for verb in wish_views.WISH_VERBS],
    *[path(f"wishes/<int:pk>/{verb}/", wish_views.WishFormVerbView.as_view(verb=verb), name=f"wish_{verb}")
      for verb in ("reject", "cancel_claim", "claim", "fulfil")],
    path("wishes/<int:pk>/edit/", wish_views.WishEditView.as_view(), name="wish_edit"),
    path("wishes/<int:pk>/reveal/", wish_views.WishRevealView.as_view(), name="wish_reveal"),
    path("wishes/<int:pk>/photo/", wish_views.WishPhotoView.as_view(), name="wish_photo"),
    path("projects/", wish_views.ProjectListView.as_view(), name="project_list"),
    path("projects/add/", wish_views.ProjectCreateView.as_view(), name="project_add"),
    path("projects/<int:pk>/", wish_views.ProjectDetailView.as_view(), name="project_detail"),
    path("projects/<int:pk>/edit/", wish_views.ProjectEditView.as_view(), name="project_edit"),
    path("projects/<int:pk>/status/", wish_views.ProjectFormVerbView.as_view(verb="status"), name="project_status"),
    path("projects/<int:pk>/complete/", wish_views.ProjectFormVerbView.as_view(verb="complete"),
         name="project_complete"),
    path("projects/<int:pk>/publish/", wish_views.ProjectPublishView.as_view(publish=True), name="project_publish"),
    path("projects/<int:pk>/unpublish/", wish_views.ProjectPublishView.as_view(publish=False),
         name="project_unpublish"),
    path("dashboard/", dashboard_views.CaseworkDashboardView.as_view(), name="dashboard"),
]

# escalation of overdue cases (casework/escalation.py, ``qunli sweep_due``)
from . import escalation_views  # noqa: E402

urlpatterns += [
    path("escalated/", escalation_views.EscalatedListView.as_view(), name="escalated"),
]
