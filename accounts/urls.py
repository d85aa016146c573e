from django.urls import include, path

from accounts import directory_views, views
from accounts import organization_views as org

organization_patterns = [
    path("", org.OrganizationDashboardView.as_view(), name="organization_dashboard"),
    path("leave/", org.OrganizationLeaveView.as_view(), name="organization_leave"),
    path("settings/admin-agent/", org.AdminAgentJoinView.as_view(), name="admin_agent_join"),
    path("settings/", org.SettingsView.as_view(), name="settings"),
    path("settings/users/", org.UsersView.as_view(), name="users"),
    path("settings/users/invite/", org.UserInviteView.as_view(), name="user_invite"),
    path("settings/users/<uuid:membership_id>/", org.MemberView.as_view(), name="member"),
    path("settings/users/<uuid:membership_id>/roles/", org.MemberRolesView.as_view(), name="member_roles"),
    path(
        "settings/users/<uuid:membership_id>/deactivate/",
        org.MemberDeactivateView.as_view(),
        name="member_deactivate",
    ),
    path(
        "settings/users/<uuid:membership_id>/reactivate/",
        org.MemberReactivateView.as_view(),
        name="member_reactivate",
    ),
    path("settings/users/<uuid:membership_id>/remove/", org.MemberRemoveView.as_view(), name="member_remove"),
    path(
        "settings/invitations/<uuid:invitation_id>/revoke/",
        org.InvitationRevokeView.as_view(),
        name="invitation_revoke",
    ),
    path(
        "settings/invitations/<uuid:invitation_id>/resend/",
        org.InvitationResendView.as_view(),
        name="invitation_resend",
    ),
    path("activity/", org.ActivityView.as_view(), name="activity"),
    path("activity/export.csv", org.ActivityExportView.as_view(), name="activity_export"),
]

namespaced = [
    path("welcome/", views.no_organization, name="no_organization"),
    path("organizations/", views.organizations, name="organizations"),
    path("directory/setup/<str:token>/", directory_views.directory_user_setup, name="directory_user_setup"),
    *views.membership_invitation_flow.urls(),
    path("o/<uuid:organization_public_id>/", include(organization_patterns)),
]

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("profile/", views.profile, name="profile"),
    path("", include((namespaced, "accounts"))),
]
