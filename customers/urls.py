from django.urls import path

from customers import views

app_name = "customers"
urlpatterns = [
    path("o/<uuid:organization_public_id>/customers/", views.CustomerListView.as_view(), name="list"),
]
