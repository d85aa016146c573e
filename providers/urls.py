from django.urls import path

from providers import views

app_name = "providers"
urlpatterns = [
    path("o/<uuid:organization_public_id>/providers/", views.ProviderListView.as_view(), name="providers"),
    path("o/<uuid:organization_public_id>/resellers/", views.ResellerListView.as_view(), name="resellers"),
]
