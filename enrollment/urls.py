from django.urls import include, path

from enrollment import views
from enrollment.views import wizard

application_patterns = [
    path("", views.application_status, name="application"),
    path("tenant/", views.tenant_step, name="tenant"),
    path("tenant/new/", views.tenant_create_step, name="tenant_create"),
    path("tenant/entra/", views.tenant_entra_start, name="tenant_entra"),
    path("tenant/country/", wizard.tenant_country_step, name="tenant_country"),
    path("membership/", views.membership_step, name="membership"),
    path("membership/profile/", views.profile_step, name="profile"),
    path("membership/cancel/", views.membership_cancel, name="membership_cancel"),
    path("details/", views.details_step, name="details"),
    path("review/", views.review_step, name="review"),
    path("resend/", views.confirmation_resend, name="resend"),
    path("withdraw/", views.application_withdraw, name="withdraw"),
    path("respond/", views.information_respond, name="respond"),
    path("documents/<uuid:document_id>/", views.document_download, name="document"),
]

namespaced = [
    path("enroll/", views.start, name="start"),
    path("enroll/entra/callback/", views.tenant_entra_callback, name="entra_callback"),
    path("enroll/<uuid:application_id>/", include(application_patterns)),
    *views.contact_confirmation_flow.urls(),
]

urlpatterns = [path("", include((namespaced, "enrollment")))]
