from django.urls import path

from portal.mail import views

app_name = "mail"
urlpatterns = [
    path("", views.mailbox, name="mailbox"),
    path("<uuid:email_id>/", views.mailbox_email, name="mailbox_email"),
    path("<uuid:email_id>/html/", views.mailbox_email_html, name="mailbox_email_html"),
]
