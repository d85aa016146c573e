"""The commerce tasks: provisioning an order (the worker), and the beat job (subscriptions at term, and
orders whose task was lost)."""

from celery import shared_task

from commerce.services import orders, subscriptions


@shared_task
def order_provision(order_id: int) -> str:
    """Provision one submitted order; returns quietly when it is already done."""
    return orders.order_provision(order_id=order_id)


@shared_task
def commerce_deadlines() -> dict:
    """Renewal reminders, renewals and ends at term; orders submitted and not yet provisioned are
    published again. Every step is safe to run again."""
    return {**subscriptions.subscriptions_run_due(), "orders_republished": orders.orders_provision_sweep()}
