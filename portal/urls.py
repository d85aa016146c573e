from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from portal import views
from portal.branding import program_name_lazy

admin.site.site_header = program_name_lazy
admin.site.site_title = program_name_lazy
# Reviewers sign in through allauth (and its MFA), never through the admin's own password form.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("language/", views.language_set, name="language_set"),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("providers.urls")),
    path("", include("customers.urls")),
    path("", include("commerce.urls")),
    path("", include("enrollment.urls")),
    path("review/", admin.site.urls),
]
if settings.DEV_MAILBOX_ENABLED:  # development only: in production the dev mailbox does not exist
    urlpatterns.append(path("dev/mailbox/", include("portal.mail.urls")))

handler400 = "portal.views.error_400"
handler403 = "portal.views.error_403"
handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"
