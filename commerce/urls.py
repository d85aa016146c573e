from django.urls import path

from commerce.views import directory, licences, orders, subscriptions

app_name = "commerce"
ORG = "o/<uuid:organization_public_id>"
CUSTOMER = f"{ORG}/customers/c/<uuid:customer_id>"
urlpatterns = [
    # a reseller, in one customer's tenant (delegated admin): users and licences
    path(f"{CUSTOMER}/users/", directory.UserListView.as_view(), name="customer_users"),
    path(f"{CUSTOMER}/users/add/", directory.UserAddView.as_view(), name="customer_user_add"),
    path(
        f"{CUSTOMER}/users/<uuid:user_id>/status/",
        directory.UserStatusView.as_view(),
        name="customer_user_status",
    ),
    path(f"{CUSTOMER}/licences/", licences.LicenceListView.as_view(), name="customer_licences"),
    path(
        f"{CUSTOMER}/licences/assign/", licences.LicenceAssignView.as_view(), name="customer_licence_assign"
    ),
    path(
        f"{CUSTOMER}/licences/<uuid:assignment_id>/remove/",
        licences.LicenceRemoveView.as_view(),
        name="customer_licence_remove",
    ),
    path(f"{CUSTOMER}/licences.csv", licences.LicenceExportView.as_view(), name="customer_licences_export"),
    # a provider orders for a shared customer; a reseller drafts an order request for its provider
    path(f"{CUSTOMER}/order/", orders.OrderNewView.as_view(), name="order_new"),
    path(f"{CUSTOMER}/order-request/", orders.OrderRequestNewView.as_view(), name="order_request_new"),
    path(
        f"{CUSTOMER}/subscriptions/<uuid:subscription_id>/auto-renew/",
        subscriptions.AutoRenewView.as_view(),
        name="subscription_auto_renew",
    ),
    # a partner's subscriptions (all its customers) as CSV
    path(
        f"{ORG}/customers/subscriptions.csv",
        subscriptions.PartnerExportView.as_view(),
        name="partner_subscriptions_export",
    ),
    # a partner's orders and order requests
    path(f"{ORG}/orders/", orders.OrderListView.as_view(), name="orders"),
    path(f"{ORG}/orders/<uuid:order_id>/", orders.OrderView.as_view(), name="order"),
    path(f"{ORG}/orders/<uuid:order_id>/send/", orders.OrderSendView.as_view(), name="order_send"),
    path(
        f"{ORG}/orders/<uuid:order_id>/withdraw/", orders.OrderWithdrawView.as_view(), name="order_withdraw"
    ),
    path(f"{ORG}/orders/<uuid:order_id>/submit/", orders.OrderSubmitView.as_view(), name="order_submit"),
    path(f"{ORG}/orders/<uuid:order_id>/decline/", orders.OrderDeclineView.as_view(), name="order_decline"),
    # a customer: its own subscriptions, tenant users and licences
    path(f"{ORG}/subscriptions/", subscriptions.SubscriptionListView.as_view(), name="subscriptions"),
    path(f"{ORG}/subscriptions.csv", subscriptions.CustomerExportView.as_view(), name="subscriptions_export"),
    path(f"{ORG}/tenant-users/", directory.UserListView.as_view(), name="users"),
    path(f"{ORG}/tenant-users/add/", directory.UserAddView.as_view(), name="user_add"),
    path(
        f"{ORG}/tenant-users/<uuid:user_id>/status/", directory.UserStatusView.as_view(), name="user_status"
    ),
    path(f"{ORG}/licences/", licences.LicenceListView.as_view(), name="licences"),
    path(f"{ORG}/licences/assign/", licences.LicenceAssignView.as_view(), name="licence_assign"),
    path(
        f"{ORG}/licences/<uuid:assignment_id>/remove/",
        licences.LicenceRemoveView.as_view(),
        name="licence_remove",
    ),
    path(f"{ORG}/licences.csv", licences.LicenceExportView.as_view(), name="licences_export"),
]
