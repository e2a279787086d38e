"""The `cart` aggregate: items are added and removed until checkout."""

from .common import U32_MAX, Aggregate, Rejected, parse_uuid, shop_pb2, total_cents

DOMAIN = "cart"

cart = Aggregate(DOMAIN, shop_pb2.CartState)


@cart.apply(shop_pb2.ItemAdded)
def _added(state, event):
    line = state.items[event.sku]
    line.sku = event.sku
    # uint32 arithmetic, as in the Rust shop (which wraps in release builds).
    line.quantity = (line.quantity + event.quantity) & U32_MAX
    line.unit_price_cents = event.unit_price_cents


@cart.apply(shop_pb2.ItemRemoved)
def _removed(state, event):
    state.items.pop(event.sku, None)


@cart.apply(shop_pb2.CheckedOut)
def _checked_out(state, event):
    state.checked_out = True


@cart.handle(shop_pb2.AddItem)
def _add(state, command):
    if state.checked_out:
        raise Rejected("the cart is checked out")
    if command.quantity == 0 or not command.sku:
        raise Rejected("an item needs a sku and a quantity")
    return [
        shop_pb2.ItemAdded(
            sku=command.sku,
            quantity=command.quantity,
            unit_price_cents=command.unit_price_cents,
        )
    ]


@cart.handle(shop_pb2.RemoveItem)
def _remove(state, command):
    if state.checked_out:
        raise Rejected("the cart is checked out")
    if command.sku not in state.items:
        raise Rejected(f"`{command.sku}` is not in the cart")
    return [shop_pb2.ItemRemoved(sku=command.sku)]


@cart.handle(shop_pb2.Checkout)
def _checkout(state, command):
    if state.checked_out:
        raise Rejected("the cart is already checked out")
    if not state.items:
        raise Rejected("an empty cart cannot be checked out")
    if parse_uuid(command.order_id) is None:
        raise Rejected("the order id must be a UUID")
    # Sorted by sku: the Rust cart lists them in its map's (arbitrary) order.
    items = sorted(state.items.values(), key=lambda line: line.sku)
    return [
        shop_pb2.CheckedOut(order_id=command.order_id, items=items, total_cents=total_cents(items))
    ]
