from django.urls import path

from . import views

app_name = "orgs"

urlpatterns = [
    path("tree/", views.TreeView.as_view(), name="tree"),
    path("tree/<int:pk>/children/", views.TreeChildrenView.as_view(), name="tree_children"),
    path("units/", views.UnitListView.as_view(), name="unit_list"),
    path("units/add/", views.UnitAddView.as_view(), name="unit_add"),
    path("units/pick/", views.UnitPickerView.as_view(), name="unit_picker"),
    path("units/<int:pk>/", views.UnitDetailView.as_view(), name="unit_detail"),
    path("units/<int:pk>/edit/", views.UnitEditView.as_view(), name="unit_edit"),
    path("units/<int:pk>/merge/", views.UnitMergeView.as_view(), name="unit_merge"),
    path("units/<int:pk>/dissolve/", views.UnitDissolveView.as_view(), name="unit_dissolve"),
    path("units/<int:pk>/split/", views.UnitSplitView.as_view(), name="unit_split"),
    path("units/<int:pk>/move/", views.UnitMoveView.as_view(), name="unit_move"),
    path("units/<int:pk>/conditions/", views.ConditionsEditView.as_view(), name="unit_conditions"),
    path("units/<int:pk>/appoint/", views.AppointView.as_view(), name="unit_appoint"),
    path("units/<int:pk>/venues/add/", views.VenueAddView.as_view(), name="venue_add"),
    path("positions/", views.PositionListView.as_view(), name="position_list"),
    path("positions/<int:pk>/end/", views.EndPositionView.as_view(), name="position_end"),
    path("venues/", views.VenueListView.as_view(), name="venue_list"),
    path("venues/<int:pk>/", views.VenueDetailView.as_view(), name="venue_detail"),
    path("venues/<int:pk>/inspect/", views.InspectionView.as_view(), name="venue_inspect"),
    path("lines/", views.LineListView.as_view(), name="line_list"),
    path("checklists/", views.ChecklistListView.as_view(), name="checklist_list"),
    path("checklists/add/", views.ChecklistEditView.as_view(), name="checklist_add"),
    path("checklists/<int:pk>/edit/", views.ChecklistEditView.as_view(), name="checklist_edit"),
]
