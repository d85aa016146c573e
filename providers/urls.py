from django.urls import path

from providers.views import acceptance, bulk, directory, listing, partnerships, resellers

app_name = "providers"
ORG = "o/<uuid:organization_public_id>"
urlpatterns = [
    # a reseller: Find a provider, its Indirect providers page, its requests
    path(f"{ORG}/providers/", directory.ProviderListView.as_view(), name="providers"),
    path(f"{ORG}/providers/find/", directory.DirectoryView.as_view(), name="directory"),
    path(f"{ORG}/providers/find/<uuid:listing_id>/", directory.ListingView.as_view(), name="listing"),
    path(
        f"{ORG}/providers/find/<uuid:listing_id>/request/",
        directory.RequestCreateView.as_view(),
        name="request_create",
    ),
    path(
        f"{ORG}/providers/requests/<uuid:request_id>/withdraw/",
        directory.RequestWithdrawView.as_view(),
        name="request_withdraw",
    ),
    # both sides: one partnership, and ending it
    path(
        f"{ORG}/partnerships/<uuid:partnership_id>/",
        partnerships.PartnershipView.as_view(),
        name="partnership",
    ),
    path(
        f"{ORG}/partnerships/<uuid:partnership_id>/end/",
        partnerships.PartnershipEndView.as_view(),
        name="partnership_end",
    ),
    # a provider: its Indirect resellers page, invitations, requests, listing, bulk runs
    path(f"{ORG}/resellers/", resellers.ResellerListView.as_view(), name="resellers"),
    path(f"{ORG}/resellers/export/", resellers.ResellerExportView.as_view(), name="resellers_export"),
    path(f"{ORG}/resellers/invitations/", resellers.InvitationListView.as_view(), name="invitations"),
    path(f"{ORG}/resellers/invite/", resellers.InviteView.as_view(), name="invite"),
    path(
        f"{ORG}/resellers/invitations/<uuid:partnership_invitation_id>/send/",
        resellers.InvitationSendView.as_view(),
        name="invitation_send",
    ),
    path(
        f"{ORG}/resellers/invitations/<uuid:partnership_invitation_id>/resend/",
        resellers.InvitationResendView.as_view(),
        name="invitation_resend",
    ),
    path(
        f"{ORG}/resellers/invitations/<uuid:partnership_invitation_id>/revoke/",
        resellers.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path(f"{ORG}/resellers/requests/", resellers.RequestListView.as_view(), name="requests"),
    path(
        f"{ORG}/resellers/requests/<uuid:request_id>/decline/",
        resellers.RequestDeclineView.as_view(),
        name="request_decline",
    ),
    path(f"{ORG}/listing/", listing.ListingEditView.as_view(), name="listing_edit"),
    path(f"{ORG}/listing/visibility/", listing.ListingVisibilityView.as_view(), name="listing_visibility"),
    path(f"{ORG}/resellers/bulk/", bulk.BulkUploadView.as_view(), name="bulk"),
    path(f"{ORG}/resellers/bulk/<uuid:run_id>/", bulk.BulkRunView.as_view(), name="bulk_run"),
    path(f"{ORG}/resellers/bulk/<uuid:run_id>/report.csv", bulk.BulkReportView.as_view(), name="bulk_report"),
    # the reseller's side of an invitation link
    *acceptance.flow.urls(),
]
