"""The shop's sagas.

* `checkout` (reads `cart`): a checked-out cart places its order, a
  PlaceOrder for the `order` aggregate whose root is the CheckedOut's
  order id.
* `fulfillment` (reads `order`): a paid order gets a shipment, a
  CreateShipment for the `fulfillment` aggregate with the order's root.
"""

from . import fulfillment, order
from .common import Invalid, Saga, command, parse_uuid, shop_pb2

checkout = Saga("checkout")


@checkout.on(shop_pb2.CheckedOut)
def _place_order(source, event):
    order_root = parse_uuid(event.order_id)
    if order_root is None:
        raise Invalid("CheckedOut carries a bad order id")
    place = shop_pb2.PlaceOrder(
        cart_id=str(source.root), items=event.items, total_cents=event.total_cents
    )
    return [command(order.DOMAIN, order_root, source.correlation_id, place)]


shipping = Saga("fulfillment")


@shipping.on(shop_pb2.OrderPaid)
def _create_shipment(source, event):
    create = shop_pb2.CreateShipment(order_id=str(source.root), items=event.items)
    return [command(fulfillment.DOMAIN, source.root, source.correlation_id, create)]
