"""The shop's `cart` aggregate as a gRPC CommandHandlerService, in Python.

Written against the `angzarr` wire contract only (stubs generated from
proto/ with grpcio-tools), the way a service built with the angzarr client
libraries in another language talks to the runtime:

    python3 -m grpc_tools.protoc -I ../../../proto -I ../proto \
        --python_out=GEN --grpc_python_out=GEN \
        angzarr/types.proto angzarr/business.proto shop/shop.proto
    PYTHONPATH=GEN python3 cart_service.py --port 50051

Like those libraries, it returns event pages without a cover, numbered from
the count of prior pages; the runtime stamps the authoritative sequences.
"""

import argparse
import sys
from concurrent import futures

import grpc

from angzarr import business_pb2_grpc, types_pb2
from shop import shop_pb2


def type_name(any_message):
    """The full message name of an Any: the part after the last '/'."""
    return any_message.type_url.rsplit("/", 1)[-1]


def fold(history):
    """The cart's state after the history's snapshot and pages."""
    state = shop_pb2.CartState()
    if history.HasField("snapshot") and history.snapshot.HasField("state"):
        history.snapshot.state.Unpack(state)
    for page in history.pages:
        apply(state, page.event)
    return state


def apply(state, event):
    name = type_name(event)
    if name == "shop.ItemAdded":
        added = shop_pb2.ItemAdded()
        event.Unpack(added)
        line = state.items[added.sku]
        line.sku = added.sku
        line.quantity += added.quantity
        line.unit_price_cents = added.unit_price_cents
    elif name == "shop.ItemRemoved":
        removed = shop_pb2.ItemRemoved()
        event.Unpack(removed)
        del state.items[removed.sku]
    elif name == "shop.CheckedOut":
        state.checked_out = True


class Rejected(Exception):
    """The command is refused; the runtime appends nothing."""


def decide(state, command):
    """The events a command causes, or Rejected."""
    name = type_name(command)
    if name == "shop.AddItem":
        add = shop_pb2.AddItem()
        command.Unpack(add)
        if state.checked_out:
            raise Rejected("the cart is checked out")
        if add.quantity == 0 or not add.sku:
            raise Rejected("an item needs a sku and a quantity")
        return [shop_pb2.ItemAdded(sku=add.sku, quantity=add.quantity,
                                   unit_price_cents=add.unit_price_cents)]
    if name == "shop.RemoveItem":
        remove = shop_pb2.RemoveItem()
        command.Unpack(remove)
        if state.checked_out:
            raise Rejected("the cart is checked out")
        if remove.sku not in state.items:
            raise Rejected(f"`{remove.sku}` is not in the cart")
        return [shop_pb2.ItemRemoved(sku=remove.sku)]
    if name == "shop.Checkout":
        checkout = shop_pb2.Checkout()
        command.Unpack(checkout)
        if state.checked_out:
            raise Rejected("the cart is already checked out")
        if not state.items:
            raise Rejected("an empty cart cannot be checked out")
        items = sorted(state.items.values(), key=lambda line: line.sku)
        total = sum(line.quantity * line.unit_price_cents for line in items)
        return [shop_pb2.CheckedOut(order_id=checkout.order_id, items=items, total_cents=total)]
    raise LookupError(f"unknown command type `{name}` for domain `cart`")


class Cart(business_pb2_grpc.CommandHandlerServiceServicer):
    def Handle(self, request, context):
        state = fold(request.events)
        events = []
        try:
            for page in request.command.pages:
                for event in decide(state, page.command):
                    packed = types_pb2.EventPage().event
                    packed.Pack(event)
                    apply(state, packed)
                    events.append(event)
        except Rejected as rejected:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(rejected))
        except LookupError as unknown:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(unknown))
        book = types_pb2.EventBook()
        prior = len(request.events.pages)
        for offset, event in enumerate(events):
            page = book.pages.add()
            page.header.sequence = prior + offset
            page.event.Pack(event)
        return types_pb2.BusinessResponse(events=book)

    def Replay(self, request, context):
        history = types_pb2.EventBook(pages=request.events)
        if request.HasField("base_snapshot"):
            history.snapshot.CopyFrom(request.base_snapshot)
        response = types_pb2.ReplayResponse()
        response.state.Pack(fold(history))
        return response


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    business_pb2_grpc.add_CommandHandlerServiceServicer_to_server(Cart(), server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
