"""The `fulfillment` aggregate: one shipment per order, sharing the order's root."""

from .common import Aggregate, Rejected, shop_pb2

DOMAIN = "fulfillment"

fulfillment = Aggregate(DOMAIN, shop_pb2.ShipmentState)


@fulfillment.apply(shop_pb2.ShipmentCreated)
def _created(state, event):
    state.created = True


@fulfillment.apply(shop_pb2.Shipped)
def _shipped(state, event):
    state.shipped = True


@fulfillment.handle(shop_pb2.CreateShipment)
def _create(state, command):
    if state.created:
        raise Rejected("the shipment already exists")
    return [shop_pb2.ShipmentCreated(order_id=command.order_id, items=command.items)]


@fulfillment.handle(shop_pb2.Ship)
def _ship(state, command):
    if not state.created:
        raise Rejected("there is no shipment to ship")
    if state.shipped:
        raise Rejected("the shipment has already shipped")
    return [shop_pb2.Shipped(carrier=command.carrier, tracking_number=command.tracking_number)]
