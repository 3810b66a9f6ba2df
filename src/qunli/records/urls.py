from django.urls import path

from . import preservation_views as pv
from . import printing, scan_views, transfer_views, views

app_name = "records"

urlpatterns = [
    path("fonds/", views.FondsListView.as_view(), name="fonds_list"),
    path("fonds/add/", views.FondsAddView.as_view(), name="fonds_add"),
    path("fonds/<int:pk>/", views.FondsDetailView.as_view(), name="fonds_detail"),
    path("fonds/<int:pk>/org-codes/add/", views.OrgCodeAddView.as_view(), name="org_code_add"),
    path("fonds/<int:pk>/schedules/add/", views.ScheduleAddView.as_view(), name="schedule_add"),
    path("fonds/<int:pk>/gaps/add/", views.GapAddView.as_view(), name="gap_add"),
    path("gaps/<int:pk>/withdraw/", views.GapWithdrawView.as_view(), name="gap_withdraw"),
    path("fonds/<int:pk>/catalogue.xlsx", views.CatalogueView.as_view(), name="catalogue"),
    path("items/", views.ItemListView.as_view(), name="item_list"),
    path("items/pending/", views.PendingListView.as_view(), name="pending_list"),
    path("items/file/", views.FileItemsView.as_view(), name="file_items"),
    path("items/add/", views.ItemAddView.as_view(), name="item_add"),
    path("items/<int:pk>/", views.ItemDetailView.as_view(), name="item_detail"),
    path("items/<int:pk>/edit/", views.ItemEditView.as_view(), name="item_edit"),
    path("items/<int:pk>/renumber/", views.RenumberView.as_view(), name="item_renumber"),
    path("files/<int:pk>/download/", views.ItemFileDownloadView.as_view(), name="file_download"),
    path("files/<int:pk>/origin/", views.ItemFileOriginView.as_view(), name="file_origin"),
    # preservation: fixity, off-site restore, appraisal, destruction, holdings statistics
    path("preservation/fixity/", pv.FixityView.as_view(), name="fixity"),
    path("preservation/fixity/restore/<int:pk>/", pv.RestoreView.as_view(), name="fixity_restore"),
    path("preservation/appraisal/", pv.AppraisalListView.as_view(), name="appraisal_list"),
    path("preservation/appraisal/decide/", pv.AppraiseView.as_view(), name="appraise"),
    path("preservation/destruction/", pv.DestructionListView.as_view(), name="destruction_list"),
    path("preservation/destruction/candidates/", pv.CandidatesView.as_view(), name="destruction_candidates"),
    path("preservation/destruction/add/", pv.DestructionAddView.as_view(), name="destruction_add"),
    path("preservation/destruction/<int:pk>/", pv.DestructionDetailView.as_view(), name="destruction_detail"),
    path("preservation/destruction/<int:pk>/decide/", pv.DestructionDecideView.as_view(), name="destruction_decide"),
    path("preservation/destruction/<int:pk>/execute/", pv.DestructionExecuteView.as_view(),
         name="destruction_execute"),
    path("preservation/destruction/<int:pk>/list.xlsx", pv.DestructionListXlsxView.as_view(),
         name="destruction_list_xlsx"),
    path("preservation/destruction/<int:pk>/list.pdf", pv.DestructionListPdfView.as_view(),
         name="destruction_list_pdf"),
    path("preservation/holdings/", pv.HoldingsView.as_view(), name="holdings"),
    # capture: thumbnails, inline playback (Range), digitization, scans by 档号, 档号 format, printing
    path("files/<int:pk>/thumb.png", scan_views.ItemFileThumbView.as_view(), name="file_thumb"),
    path("files/<int:pk>/inline/", scan_views.ItemFileInlineView.as_view(), name="file_inline"),
    path("fonds/<int:pk>/digitization/", scan_views.DigitizationView.as_view(), name="digitization"),
    path("fonds/<int:pk>/code-format/", scan_views.CodeFormatView.as_view(), name="code_format"),
    path("fonds/<int:pk>/catalogue.pdf", printing.CataloguePdfView.as_view(), name="catalogue_pdf"),
    path("fonds/<int:pk>/stamps.pdf", printing.StampsPdfView.as_view(), name="stamps_pdf"),
    path("items/scans/", scan_views.ScanUploadView.as_view(), name="scan_upload"),
]

# opening (开放鉴定) and use (利用): records/use_views.py
from . import use_views  # noqa: E402

urlpatterns += [
    path("opening/", use_views.OpeningQueueView.as_view(), name="opening_queue"),
    path("opening/enqueue/", use_views.OpeningEnqueueView.as_view(), name="opening_enqueue"),
    path("opening/decide/", use_views.OpeningDecideView.as_view(), name="opening_decide"),
    path("opening/requeue/", use_views.OpeningRequeueView.as_view(), name="opening_requeue"),
    path("items/<int:pk>/reappraise/", use_views.ReappraiseItemView.as_view(), name="item_reappraise"),
    path("use/", use_views.UseRegisterView.as_view(), name="use_list"),
    path("use/add/", use_views.UseAddView.as_view(), name="use_add"),
    path("use/stats/", use_views.UseStatsView.as_view(), name="use_stats"),
    path("use/<int:pk>/", use_views.UseDetailView.as_view(), name="use_detail"),
    path("use/<int:pk>/items/", use_views.UseAddItemsView.as_view(), name="use_add_items"),
    path("use/lines/<int:pk>/approve/", use_views.UseDecideView.as_view(approve=True), name="use_approve"),
    path("use/lines/<int:pk>/reject/", use_views.UseDecideView.as_view(approve=False), name="use_reject"),
    path("use/lines/<int:pk>/certify/", use_views.CertifyView.as_view(), name="use_certify"),
    path("use/certificates/<int:pk>/pdf/", use_views.CertificatePdfView.as_view(), name="certificate_pdf"),
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
    path("received/", transfer_views.HoldingsListView.as_view(), name="received_holdings"),
]
