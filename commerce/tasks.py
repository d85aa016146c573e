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


@shared_task
def orders_provision_sweep() -> int:
    """Orders submitted a while ago and still not provisioned (a lost task, a broker that was down) are
    published again: every 30 s, so that an outage delays an order by a minute or two, not by hours."""
    return orders.orders_provision_sweep()
