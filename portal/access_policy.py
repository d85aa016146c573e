"""The access policy: for every named route, who may open it.

- ``PUBLIC``: anyone, signed in or not (the view is also marked ``login_not_required``).
- ``AUTHENTICATED``: any signed-in user; the page concerns only the user's own account.
- ``STAFF``: program staff (reviewers), who sign in with MFA.
- ``APPLICANT``: a signed-in user's own enrollment application, named in the URL; anyone else's
  application (or one that does not exist) is 404. ``enrollment.views`` resolves it through
  ``enrollment.selectors.application_get``, and ``tests/enrollment/test_applicant_isolation.py`` tries
  every such route as anonymous, as another applicant and as the owner.
- a permission string such as ``"users.manage"``: an organization page; the user must be an active
  member of the organization named in the URL (else 404) holding that permission (else 403).
- ``organization_page("partners.view", kinds={RESELLER})``: an organization page that exists only for
  those kinds of organization; any other kind gets 404, as for a missing page.

Organization views read their permission from this table (``accounts.scoping``), so a route that is
missing here cannot be served, and ``tests/platform/test_access_policy.py`` fails when one is added without an
entry. Keys ending in ``*`` cover a namespace.
"""

from dataclasses import dataclass

PUBLIC = "public"
AUTHENTICATED = "authenticated"
STAFF = "staff"
APPLICANT = "applicant"

#: The kinds of organization (``accounts.Organization.Kind``; the platform names them without importing
#: accounts, and tests/platform/test_access_policy.py checks that both lists agree).
PROVIDER, RESELLER, CUSTOMER = "provider", "reseller", "customer"
ORGANIZATION_KINDS = frozenset({PROVIDER, RESELLER, CUSTOMER})
PARTNERS = frozenset({PROVIDER, RESELLER})


@dataclass(frozen=True)
class OrganizationPage:
    """An organization page that only some kinds of organization have."""

    permission: str
    kinds: frozenset[str]


def organization_page(permission: str, *, kinds) -> OrganizationPage:
    kinds = frozenset(kinds)
    if not kinds or kinds - ORGANIZATION_KINDS:
        raise ValueError(f"Unknown organization kinds: {kinds - ORGANIZATION_KINDS}")
    return OrganizationPage(permission, kinds)


ACCESS_POLICY: dict[str, str | OrganizationPage] = {
    # portal
    "home": PUBLIC,
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    "language_set": PUBLIC,
    "mail:*": STAFF,
    "admin:*": STAFF,
    # allauth: signing in and out, signing up, recovering access
    "account_login": PUBLIC,
    "account_logout": PUBLIC,
    "account_inactive": PUBLIC,
    "account_signup": PUBLIC,
    "account_email_verification_sent": PUBLIC,
    "account_reset_password": PUBLIC,
    "account_reset_password_done": PUBLIC,
    "account_reset_password_from_key": PUBLIC,
    "account_reset_password_from_key_done": PUBLIC,
    "account_confirm_login_code": PUBLIC,
    "account_confirm_email": PUBLIC,
    "mfa_authenticate": PUBLIC,
    # allauth: managing one's own account
    "account_reauthenticate": AUTHENTICATED,
    "account_email": AUTHENTICATED,
    "account_change_password": AUTHENTICATED,
    "account_set_password": AUTHENTICATED,
    "mfa_index": AUTHENTICATED,
    "mfa_reauthenticate": AUTHENTICATED,
    "mfa_activate_totp": AUTHENTICATED,
    "mfa_deactivate_totp": AUTHENTICATED,
    "mfa_view_recovery_codes": AUTHENTICATED,
    "mfa_generate_recovery_codes": AUTHENTICATED,
    "mfa_download_recovery_codes": AUTHENTICATED,
    "usersessions_list": AUTHENTICATED,
    # accounts
    "dashboard": AUTHENTICATED,
    "profile": AUTHENTICATED,
    "accounts:no_organization": AUTHENTICATED,
    "accounts:organizations": AUTHENTICATED,
    "accounts:invitation_landing": PUBLIC,
    "accounts:invitation": PUBLIC,
    "accounts:invitation_accept": AUTHENTICATED,
    "accounts:invitation_decline": AUTHENTICATED,
    "accounts:organization_dashboard": "organization.view",
    "accounts:organization_leave": "organization.view",
    "accounts:settings": "organization.view",
    "accounts:users": "users.view",
    "accounts:user_invite": "users.manage",
    "accounts:member": "users.view",
    "accounts:member_roles": "users.manage",
    "accounts:member_deactivate": "users.manage",
    "accounts:member_reactivate": "users.manage",
    "accounts:member_remove": "users.manage",
    "accounts:invitation_revoke": "users.manage",
    "accounts:invitation_resend": "users.manage",
    "accounts:activity": "activity.view",
    "accounts:activity_export": "activity.export",
    # providers and customers
    # providers: a reseller finds providers, asks them, and sees its Indirect providers page
    "providers:providers": organization_page("partners.view", kinds={RESELLER}),
    "providers:directory": organization_page("partners.view", kinds={RESELLER}),
    "providers:listing": organization_page("partners.view", kinds={RESELLER}),
    "providers:request_create": organization_page("partners.manage", kinds={RESELLER}),
    "providers:request_withdraw": organization_page("partners.manage", kinds={RESELLER}),
    # providers: both sides of a partnership
    "providers:partnership": organization_page("partners.view", kinds=PARTNERS),
    "providers:partnership_end": organization_page("partners.manage", kinds=PARTNERS),
    # providers: a provider's Indirect resellers page, invitations, requests, listing and bulk runs
    "providers:resellers": organization_page("partners.view", kinds={PROVIDER}),
    "providers:resellers_export": organization_page("partners.view", kinds={PROVIDER}),
    "providers:invitations": organization_page("partners.view", kinds={PROVIDER}),
    "providers:invite": organization_page("partners.manage", kinds={PROVIDER}),
    "providers:invitation_send": organization_page("partners.manage", kinds={PROVIDER}),
    "providers:invitation_resend": organization_page("partners.manage", kinds={PROVIDER}),
    "providers:invitation_revoke": organization_page("partners.manage", kinds={PROVIDER}),
    "providers:requests": organization_page("partners.view", kinds={PROVIDER}),
    "providers:request_decline": organization_page("partners.manage", kinds={PROVIDER}),
    "providers:listing_edit": organization_page("partners.manage", kinds={PROVIDER}),
    "providers:listing_visibility": organization_page("partners.manage", kinds={PROVIDER}),
    "providers:bulk": organization_page("partners.manage", kinds={PROVIDER}),
    "providers:bulk_run": organization_page("partners.manage", kinds={PROVIDER}),
    "providers:bulk_report": organization_page("partners.manage", kinds={PROVIDER}),
    # providers: the reseller's side of a partnership invitation link (authorise or decline)
    "providers:partnership_invitation_landing": PUBLIC,
    "providers:partnership_invitation": PUBLIC,
    "providers:partnership_invitation_accept": AUTHENTICATED,
    "providers:partnership_invitation_decline": AUTHENTICATED,
    # customers: a partner's Customers page (a provider: those shared with it), one customer's details
    "customers:list": organization_page("customers.view", kinds=PARTNERS),
    "customers:customer": organization_page("customers.view", kinds=PARTNERS),
    # customers: a reseller's expiry radar, invitations to customers and delegated admin requests
    "customers:expiring": organization_page("customers.view", kinds={RESELLER}),
    "customers:invite": organization_page("customers.invite", kinds={RESELLER}),
    "customers:invitations": organization_page("customers.view", kinds={RESELLER}),
    "customers:invitation_send": organization_page("customers.invite", kinds={RESELLER}),
    "customers:invitation_resend": organization_page("customers.invite", kinds={RESELLER}),
    "customers:invitation_revoke": organization_page("customers.invite", kinds={RESELLER}),
    "customers:delegated_admin_request": organization_page("customers.manage", kinds={RESELLER}),
    # customers: a customer's Partner relationships (Account settings), and ending or removing them
    "customers:partners": organization_page("partners.view", kinds={CUSTOMER}),
    "customers:relationship_end": organization_page("partners.manage", kinds={CUSTOMER}),
    "customers:delegated_admin_review": organization_page("partners.manage", kinds={CUSTOMER}),
    "customers:delegated_admin_remove": organization_page("partners.manage", kinds={CUSTOMER}),
    # commerce: a reseller in one customer's tenant (its delegated admin role is checked by the view and
    # the service: commerce.access), a provider's orders for shared customers, a reseller's order requests
    "commerce:customer_users": organization_page("customers.view", kinds={RESELLER}),
    "commerce:customer_user_add": organization_page("customers.manage", kinds={RESELLER}),
    "commerce:customer_user_status": organization_page("customers.manage", kinds={RESELLER}),
    "commerce:customer_licences": organization_page("customers.view", kinds={RESELLER}),
    "commerce:customer_licence_assign": organization_page("customers.manage", kinds={RESELLER}),
    "commerce:customer_licence_remove": organization_page("customers.manage", kinds={RESELLER}),
    "commerce:customer_licences_export": organization_page("customers.view", kinds={RESELLER}),
    "commerce:order_new": organization_page("customers.manage", kinds={PROVIDER}),
    "commerce:order_request_new": organization_page("customers.manage", kinds={RESELLER}),
    "commerce:subscription_auto_renew": organization_page("customers.manage", kinds={PROVIDER}),
    "commerce:partner_subscriptions_export": organization_page("customers.view", kinds=PARTNERS),
    "commerce:orders": organization_page("customers.view", kinds=PARTNERS),
    "commerce:order": organization_page("customers.view", kinds=PARTNERS),
    "commerce:order_send": organization_page("customers.manage", kinds={RESELLER}),
    "commerce:order_withdraw": organization_page("customers.manage", kinds={RESELLER}),
    "commerce:order_submit": organization_page("customers.manage", kinds={PROVIDER}),
    "commerce:order_decline": organization_page("customers.manage", kinds={PROVIDER}),
    # commerce: a customer's own subscriptions, the users of its tenant and their licences
    "commerce:subscriptions": organization_page("billing.view", kinds={CUSTOMER}),
    "commerce:subscriptions_export": organization_page("billing.view", kinds={CUSTOMER}),
    "commerce:users": organization_page("users.view", kinds={CUSTOMER}),
    "commerce:user_add": organization_page("users.manage", kinds={CUSTOMER}),
    "commerce:user_status": organization_page("users.manage", kinds={CUSTOMER}),
    "commerce:licences": organization_page("users.view", kinds={CUSTOMER}),
    "commerce:licence_assign": organization_page("users.manage", kinds={CUSTOMER}),
    "commerce:licence_remove": organization_page("users.manage", kinds={CUSTOMER}),
    "commerce:licences_export": organization_page("users.view", kinds={CUSTOMER}),
    # a user added to a built-in tenant by an administrator chooses a password (the emailed link)
    "accounts:directory_user_setup": PUBLIC,
    # customers: creating the customer organization (an invitation's recipient), and the link itself
    "customers:onboarding": AUTHENTICATED,
    "customers:onboarding_tenant": AUTHENTICATED,
    "customers:onboarding_tenant_create": AUTHENTICATED,
    "customers:onboarding_tenant_entra": AUTHENTICATED,
    "customers:customer_invitation_landing": PUBLIC,
    "customers:customer_invitation": PUBLIC,
    "customers:customer_invitation_accept": AUTHENTICATED,
    "customers:customer_invitation_decline": AUTHENTICATED,
    "accounts:admin_agent_join": organization_page("users.assign_global_admin", kinds=PARTNERS),
    # enrollment: the applicant's wizard and tracker; the primary contact's confirmation link
    "enrollment:start": AUTHENTICATED,
    "enrollment:entra_callback": AUTHENTICATED,
    "enrollment:tenant": APPLICANT,
    "enrollment:tenant_create": APPLICANT,
    "enrollment:tenant_entra": APPLICANT,
    "enrollment:tenant_country": APPLICANT,
    "enrollment:membership": APPLICANT,
    "enrollment:profile": APPLICANT,
    "enrollment:membership_cancel": APPLICANT,
    "enrollment:details": APPLICANT,
    "enrollment:review": APPLICANT,
    "enrollment:application": APPLICANT,
    "enrollment:resend": APPLICANT,
    "enrollment:withdraw": APPLICANT,
    "enrollment:respond": APPLICANT,
    "enrollment:document": APPLICANT,
    "enrollment:confirmation_landing": PUBLIC,
    "enrollment:confirmation": PUBLIC,
    "enrollment:confirmation_accept": PUBLIC,
    "enrollment:confirmation_decline": PUBLIC,
}

SPECIAL = {PUBLIC, AUTHENTICATED, STAFF, APPLICANT}


def _entry(view_name: str) -> str | OrganizationPage | None:
    if view_name in ACCESS_POLICY:
        return ACCESS_POLICY[view_name]
    namespace = view_name.rsplit(":", 1)[0] + ":*" if ":" in view_name else None
    return ACCESS_POLICY.get(namespace) if namespace else None


def policy_for(view_name: str) -> str | None:
    """The policy of a route (PUBLIC, AUTHENTICATED, STAFF or an organization permission), or None when
    the route is not in the table (which fails closed)."""
    entry = _entry(view_name)
    return entry.permission if isinstance(entry, OrganizationPage) else entry


def kinds_for(view_name: str) -> frozenset[str]:
    """The kinds of organization that have this organization page (every kind unless the entry says)."""
    entry = _entry(view_name)
    return entry.kinds if isinstance(entry, OrganizationPage) else ORGANIZATION_KINDS


def organization_may_open(view_name: str, *, kind: str, permissions) -> bool:
    """Whether a member with ``permissions`` in an organization of ``kind`` may open this page: the
    same rule OrganizationView enforces, for links and menus."""
    permission = policy_for(view_name)
    return (
        is_organization_permission(permission) and kind in kinds_for(view_name) and permission in permissions
    )


def is_organization_permission(policy: str | None) -> bool:
    return policy is not None and policy not in SPECIAL


def iter_routes(patterns=None, namespace: str = "", prefix: str = ""):
    """Yield (view_name, route, callback) for every route of the URLconf, admin included."""
    from django.urls import URLPattern, URLResolver, get_resolver

    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from iter_routes(entry.url_patterns, inner, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            unnamed = "<unnamed " + str(entry.pattern).replace(":", "_") + ">"
            name = f"{namespace}{entry.name or unnamed}"
            yield name, prefix + str(entry.pattern), entry.callback


def unclassified_routes(patterns=None) -> list[str]:
    """Routes that have no entry in ACCESS_POLICY: each one is a page nobody decided about."""
    return sorted({name for name, _route, _callback in iter_routes(patterns) if policy_for(name) is None})
