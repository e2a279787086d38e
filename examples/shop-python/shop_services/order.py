"""The `order` aggregate: placed, then paid (or cancelled)."""

from .common import Aggregate, Rejected, shop_pb2, total_cents

DOMAIN = "order"

Status = shop_pb2.OrderStatus

order = Aggregate(DOMAIN, shop_pb2.OrderState)


@order.apply(shop_pb2.OrderPlaced)
def _placed(state, event):
    state.status = Status.ORDER_STATUS_PLACED
    state.total_cents = event.total_cents
    del state.items[:]
    state.items.extend(event.items)


@order.apply(shop_pb2.OrderPaid)
def _paid(state, event):
    state.status = Status.ORDER_STATUS_PAID


@order.apply(shop_pb2.OrderCancelled)
def _cancelled(state, event):
    state.status = Status.ORDER_STATUS_CANCELLED


@order.handle(shop_pb2.PlaceOrder)
def _place(state, command):
    if state.status != Status.ORDER_STATUS_UNSPECIFIED:
        raise Rejected("the order was already placed")
    if not command.items:
        raise Rejected("an order needs items")
    if total_cents(command.items) != command.total_cents:
        raise Rejected("the total does not match the items")
    return [
        shop_pb2.OrderPlaced(
            cart_id=command.cart_id, items=command.items, total_cents=command.total_cents
        )
    ]


@order.handle(shop_pb2.ConfirmPayment)
def _confirm_payment(state, command):
    if state.status == Status.ORDER_STATUS_PAID:
        raise Rejected("the order is already paid")
    if state.status != Status.ORDER_STATUS_PLACED:
        raise Rejected("only a placed order can be paid")
    if command.amount_cents != state.total_cents:
        raise Rejected(
            f"payment of {command.amount_cents} does not match the total of {state.total_cents}"
        )
    return [
        shop_pb2.OrderPaid(
            payment_id=command.payment_id, amount_cents=command.amount_cents, items=state.items
        )
    ]


@order.handle(shop_pb2.Cancel)
def _cancel(state, command):
    if state.status == Status.ORDER_STATUS_CANCELLED:
        raise Rejected("the order is already cancelled")
    if state.status != Status.ORDER_STATUS_PLACED:
        raise Rejected("only a placed, unpaid order can be cancelled")
    return [shop_pb2.OrderCancelled(reason=command.reason)]
