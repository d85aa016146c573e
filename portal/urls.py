from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from portal import views

admin.site.site_header = settings.PROGRAM_NAME
admin.site.site_title = settings.PROGRAM_NAME

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("language/", views.language_set, name="language_set"),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("review/", admin.site.urls),
    path("dev/mailbox/", include("portal.mail.urls")),
]

handler400 = "portal.views.error_400"
handler403 = "portal.views.error_403"
handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"
