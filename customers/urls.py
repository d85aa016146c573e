from django.urls import path

from customers.views import acceptance, customer_side, onboarding, partner_side

app_name = "customers"
ORG = "o/<uuid:organization_public_id>"
urlpatterns = [
    # a partner (reseller or provider): its customers; a reseller: its invitations and requests
    path(f"{ORG}/customers/", partner_side.CustomerListView.as_view(), name="list"),
    path(f"{ORG}/customers/c/<uuid:customer_id>/", partner_side.CustomerView.as_view(), name="customer"),
    path(f"{ORG}/customers/expiring/", partner_side.ExpiryRadarView.as_view(), name="expiring"),
    path(f"{ORG}/customers/invite/", partner_side.InviteView.as_view(), name="invite"),
    path(f"{ORG}/customers/invitations/", partner_side.InvitationListView.as_view(), name="invitations"),
    path(
        f"{ORG}/customers/invitations/<uuid:customer_invitation_id>/send/",
        partner_side.InvitationSendView.as_view(),
        name="invitation_send",
    ),
    path(
        f"{ORG}/customers/invitations/<uuid:customer_invitation_id>/resend/",
        partner_side.InvitationResendView.as_view(),
        name="invitation_resend",
    ),
    path(
        f"{ORG}/customers/invitations/<uuid:customer_invitation_id>/revoke/",
        partner_side.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path(
        f"{ORG}/customers/c/<uuid:customer_id>/delegated-admin/",
        partner_side.DelegatedAdminRequestView.as_view(),
        name="delegated_admin_request",
    ),
    # a customer: its partners, their rights, and ending them
    path(f"{ORG}/partners/", customer_side.PartnerRelationshipsView.as_view(), name="partners"),
    path(
        f"{ORG}/partners/r/<uuid:relationship_id>/end/",
        customer_side.RelationshipEndView.as_view(),
        name="relationship_end",
    ),
    path(
        f"{ORG}/partners/delegated-admin/<uuid:delegated_admin_id>/",
        customer_side.DelegatedAdminReviewView.as_view(),
        name="delegated_admin_review",
    ),
    path(
        f"{ORG}/partners/delegated-admin/<uuid:delegated_admin_id>/remove/",
        customer_side.DelegatedAdminRemoveView.as_view(),
        name="delegated_admin_remove",
    ),
    # a customer's administrator without an organization yet: create it (with its directory tenant)
    path("customers/new/", onboarding.organization_create, name="onboarding"),
    path("customers/new/tenant/", onboarding.tenant_sign_in, name="onboarding_tenant"),
    path("customers/new/tenant/create/", onboarding.tenant_create, name="onboarding_tenant_create"),
    path("customers/new/tenant/entra/", onboarding.tenant_entra, name="onboarding_tenant_entra"),
    # the customer's side of an invitation link
    *acceptance.flow.urls(),
]
