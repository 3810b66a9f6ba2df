from django.urls import path

from . import transfer_views, views

app_name = "records"

urlpatterns = [
    path("fonds/", views.FondsListView.as_view(), name="fonds_list"),
    path("fonds/add/", views.FondsAddView.as_view(), name="fonds_add"),
    path("fonds/<int:pk>/", views.FondsDetailView.as_view(), name="fonds_detail"),
    path("fonds/<int:pk>/org-codes/add/", views.OrgCodeAddView.as_view(), name="org_code_add"),
    path("fonds/<int:pk>/schedules/add/", views.ScheduleAddView.as_view(), name="schedule_add"),
    path("fonds/<int:pk>/catalogue.xlsx", views.CatalogueView.as_view(), name="catalogue"),
    path("items/", views.ItemListView.as_view(), name="item_list"),
    path("items/pending/", views.PendingListView.as_view(), name="pending_list"),
    path("items/file/", views.FileItemsView.as_view(), name="file_items"),
    path("items/add/", views.ItemAddView.as_view(), name="item_add"),
    path("items/<int:pk>/", views.ItemDetailView.as_view(), name="item_detail"),
    path("items/<int:pk>/edit/", views.ItemEditView.as_view(), name="item_edit"),
    path("items/<int:pk>/renumber/", views.RenumberView.as_view(), name="item_renumber"),
    path("files/<int:pk>/download/", views.ItemFileDownloadView.as_view(), name="file_download"),
    # 四性检测 and 移交/接收 (records.transfer_views)
    path("fonds/<int:pk>/check/", transfer_views.FondsCheckView.as_view(), name="fonds_check"),
    path("checks/", transfer_views.CheckRunListView.as_view(), name="check_list"),
    path("checks/<int:pk>/", transfer_views.CheckRunDetailView.as_view(), name="check_run"),
    path("checks/<int:pk>/report.xlsx", transfer_views.CheckRunXlsxView.as_view(), name="check_xlsx"),
    path("checks/<int:pk>/report.pdf", transfer_views.CheckRunPdfView.as_view(), name="check_pdf"),
    path("transfers/", transfer_views.TransferListView.as_view(), name="transfer_list"),
    path("transfers/add/", transfer_views.TransferAddView.as_view(), name="transfer_add"),
    path("transfers/receive/", transfer_views.TransferReceiveView.as_view(), name="transfer_receive"),
    path("transfers/<int:pk>/", transfer_views.TransferDetailView.as_view(), name="transfer_detail"),
    path("transfers/<int:pk>/send/", transfer_views.TransferSendView.as_view(), name="transfer_send"),
    path("transfers/<int:pk>/withdraw/", transfer_views.TransferWithdrawView.as_view(), name="transfer_withdraw"),
    path("transfers/<int:pk>/check/", transfer_views.TransferCheckView.as_view(), name="transfer_check"),
    path("transfers/<int:pk>/accept/", transfer_views.TransferAcceptView.as_view(), name="transfer_accept"),
    path("transfers/<int:pk>/return/", transfer_views.TransferReturnView.as_view(), name="transfer_return"),
    path("transfers/<int:pk>/package.zip", transfer_views.TransferPackageView.as_view(), name="transfer_package"),
    path("holdings/", transfer_views.HoldingsListView.as_view(), name="holdings"),
]
