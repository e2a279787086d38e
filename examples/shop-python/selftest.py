"""Checks every Python shop component over gRPC, called the way the runtime
calls it, with no Rust involved:

    python3 examples/shop-python/selftest.py

Generates the stubs with gen_stubs.py, starts each component as a child
process (half on TCP ports, half on Unix sockets through ANGZARR_SOCKET,
those finding their stubs on their own), waits for `ready`, checks the
health service, then plays the runtime's part: it keeps each aggregate's
history, sends ContextualCommands, stamps sequences, hands sagas their
source books and the projector its pages. Exits non-zero on any failure.
"""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = Path(tempfile.mkdtemp(prefix="shop-python-selftest-"))
STUBS = WORK / "stubs"

subprocess.run([sys.executable, str(HERE / "gen_stubs.py"), str(STUBS)], check=True)
sys.path[:0] = [str(STUBS)]

import grpc  # noqa: E402
from angzarr import business_pb2_grpc, types_pb2  # noqa: E402
from google.protobuf import any_pb2  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from shop import shop_pb2  # noqa: E402

REJECTED = grpc.StatusCode.FAILED_PRECONDITION
INVALID = grpc.StatusCode.INVALID_ARGUMENT
CHECKS = 0


def expect(condition, what):
    global CHECKS
    if not condition:
        raise AssertionError(what)
    CHECKS += 1


def pack(message):
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def unpack(packed, message_type):
    expect(packed.Is(message_type.DESCRIPTOR), f"{packed.type_url} is a {message_type.__name__}")
    message = message_type()
    packed.Unpack(message)
    return message


def cover(domain, root, correlation_id=""):
    return types_pb2.Cover(
        domain=domain, root=types_pb2.UUID(value=root.bytes), correlation_id=correlation_id
    )


# --- the components ------------------------------------------------------


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Component:
    """One `python3 -m shop_services NAME` child, on TCP or a Unix socket."""

    def __init__(self, name, transport, extra_env=None):
        self.name = name
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "ANGZARR_SOCKET", "ANGZARR_PY_STUBS", "SHOP_SUMMARY_DIR")
        }
        env["PYTHONPATH"] = str(HERE)
        env.update(extra_env or {})
        command = [sys.executable, "-m", "shop_services", name]
        if transport == "tcp":
            port = free_port()
            command += ["--port", str(port)]
            self.target = f"127.0.0.1:{port}"
            # Stubs generated ahead of time, named by ANGZARR_PY_STUBS.
            env["ANGZARR_PY_STUBS"] = str(STUBS)
            self.socket = None
        else:
            self.socket = WORK / f"{name}.sock"
            env["ANGZARR_SOCKET"] = str(self.socket)
            self.target = f"unix:{self.socket}"
            # No stubs given: the component generates (or reuses) its cache.
        self.stderr = open(WORK / f"{name}-{transport}.log", "w")
        self.process = subprocess.Popen(
            command, env=env, cwd=WORK, stdout=subprocess.PIPE, stderr=self.stderr, text=True
        )
        self.channel = None

    def wait_ready(self, deadline):
        line = ""
        while not line.endswith("\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(remaining, 0))
            if not ready:
                raise AssertionError(f"{self.name} printed no `ready` in time")
            chunk = os.read(self.process.stdout.fileno(), 1).decode()
            if not chunk:
                raise AssertionError(f"{self.name} exited before `ready`: {self.log()}")
            line += chunk
        expect(line == "ready\n", f"{self.name} printed `ready` (got {line!r})")
        self.channel = grpc.insecure_channel(self.target)
        grpc.channel_ready_future(self.channel).result(timeout=10)

    def log(self):
        self.stderr.flush()
        return Path(self.stderr.name).read_text()

    def stop(self):
        """SIGTERM; the component must exit 0 having printed nothing more."""
        if self.channel is not None:
            self.channel.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"{self.name} ignored SIGTERM") from None
        rest = self.process.stdout.read()
        expect(code == 0, f"{self.name} exited 0 on SIGTERM (got {code}): {self.log()}")
        expect(rest == "", f"{self.name} printed only `ready` (then {rest!r})")
        if self.socket is not None:
            expect(not self.socket.exists(), f"{self.name} removed its socket")


def check_health(component, service):
    stub = health_pb2_grpc.HealthStub(component.channel)
    for name in ("", service):
        status = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
        expect(
            status == health_pb2.HealthCheckResponse.SERVING,
            f"{component.name} health `{name}` is SERVING",
        )


# --- the runtime's part --------------------------------------------------


class Aggregates:
    """Histories, stamped with sequences the way the runtime stamps them."""

    def __init__(self):
        self.pages = {}

    def history(self, domain, root):
        pages = self.pages.get((domain, root), [])
        return types_pb2.EventBook(cover=cover(domain, root), pages=pages, next_sequence=len(pages))

    def book(self, domain, root, correlation_id="journey-42", start=0):
        """The stored pages as the bus would publish them."""
        pages = self.pages.get((domain, root), [])[start:]
        return types_pb2.EventBook(cover=cover(domain, root, correlation_id), pages=pages)

    def handle(self, stub, command_book, history=None):
        """Runs a command book; returns the new events, stored."""
        domain, root = command_book.cover.domain, uuid.UUID(bytes=command_book.cover.root.value)
        if history is None:
            history = self.history(domain, root)
        request = types_pb2.ContextualCommand(events=history, command=command_book)
        response = stub.Handle(request, timeout=10)
        expect(response.WhichOneof("result") == "events", "the handler answered events")
        stored = self.pages.setdefault((domain, root), [])
        for page in response.events.pages:
            expect(page.WhichOneof("payload") == "event", "an event page carries its event")
            page.header.sequence = len(stored)
            stored.append(page)
        return [page.event for page in response.events.pages]


def commands(domain, root, *messages):
    book = types_pb2.CommandBook(cover=cover(domain, root, "corr-selftest"))
    for message in messages:
        book.pages.add().command.CopyFrom(
            message if isinstance(message, any_pb2.Any) else pack(message)
        )
    return book


def send(store, stub, domain, root, *messages):
    return store.handle(stub, commands(domain, root, *messages))


def refused(store, stub, domain, root, message, code, reason):
    """The command is refused with `code` and exactly `reason` (or, for
    INVALID_ARGUMENT, a message containing it), and nothing is stored."""
    before = len(store.pages.get((domain, root), []))
    try:
        store.handle(stub, commands(domain, root, message))
    except grpc.RpcError as error:
        expect(error.code() == code, f"`{reason}`: status {error.code()} is {code}")
        matches = error.details() == reason if code == REJECTED else reason in error.details()
        expect(matches, f"refusal reason {error.details()!r} is {reason!r}")
    else:
        raise AssertionError(f"{type(message).__name__} was not refused ({reason})")
    expect(len(store.pages.get((domain, root), [])) == before, "a refusal stores nothing")


def call_refused(call, request, code, reason):
    try:
        call(request, timeout=10)
    except grpc.RpcError as error:
        expect(error.code() == code, f"`{reason}`: status {error.code()} is {code}")
        expect(reason in error.details(), f"{error.details()!r} mentions {reason!r}")
    else:
        raise AssertionError(f"not refused: {reason}")


def line_items(items):
    return [(item.sku, item.quantity, item.unit_price_cents) for item in items]


ITEMS = [("apple", 3, 50), ("pear", 2, 75)]


def test_cart(store, stub, cart_id):
    for sku, quantity, price in ITEMS + [("plum", 1, 10)]:
        added = send(
            store,
            stub,
            "cart",
            cart_id,
            shop_pb2.AddItem(sku=sku, quantity=quantity, unit_price_cents=price),
        )
        expect(unpack(added[0], shop_pb2.ItemAdded).sku == sku, f"ItemAdded {sku}")
    removed = send(store, stub, "cart", cart_id, shop_pb2.RemoveItem(sku="plum"))
    expect(unpack(removed[0], shop_pb2.ItemRemoved).sku == "plum", "ItemRemoved plum")

    refused(
        store,
        stub,
        "cart",
        cart_id,
        shop_pb2.AddItem(sku="fig", quantity=0),
        REJECTED,
        "an item needs a sku and a quantity",
    )
    refused(
        store,
        stub,
        "cart",
        cart_id,
        shop_pb2.AddItem(quantity=1),
        REJECTED,
        "an item needs a sku and a quantity",
    )
    refused(
        store,
        stub,
        "cart",
        cart_id,
        shop_pb2.RemoveItem(sku="kiwi"),
        REJECTED,
        "`kiwi` is not in the cart",
    )
    refused(
        store,
        stub,
        "cart",
        cart_id,
        shop_pb2.Checkout(order_id="not-a-uuid"),
        REJECTED,
        "the order id must be a UUID",
    )
    refused(
        store,
        stub,
        "cart",
        uuid.uuid4(),
        shop_pb2.Checkout(order_id=str(uuid.uuid4())),
        REJECTED,
        "an empty cart cannot be checked out",
    )
    unknown = pack(shop_pb2.RemoveItem(sku="x"))
    unknown.type_url = "type.googleapis.com/shop.Frobnicate"
    refused(
        store,
        stub,
        "cart",
        cart_id,
        unknown,
        INVALID,
        "unknown command type `shop.Frobnicate` for domain `cart`",
    )

    # Replay folds a snapshot and events into the state.
    pages = store.pages[("cart", cart_id)]
    replayed = stub.Replay(types_pb2.ReplayRequest(events=pages[:2]), timeout=10)
    snapshot = types_pb2.Snapshot(sequence=1, state=replayed.state)
    state = unpack(
        stub.Replay(
            types_pb2.ReplayRequest(base_snapshot=snapshot, events=pages[2:]), timeout=10
        ).state,
        shop_pb2.CartState,
    )
    expect(sorted(state.items) == ["apple", "pear"] and not state.checked_out, "Replay's CartState")

    # Checkout against snapshot + later events: the total comes from both,
    # and the event is numbered from next_sequence.
    order_id = uuid.uuid4()
    history = types_pb2.EventBook(
        cover=cover("cart", cart_id), snapshot=snapshot, pages=pages[2:], next_sequence=len(pages)
    )
    book = commands("cart", cart_id, shop_pb2.Checkout(order_id=str(order_id)))
    response = stub.Handle(types_pb2.ContextualCommand(events=history, command=book), timeout=10)
    expect(response.events.pages[0].header.sequence == len(pages), "numbered from next_sequence")
    store.handle(stub, book)
    checked_out = unpack(store.pages[("cart", cart_id)][-1].event, shop_pb2.CheckedOut)
    expect(checked_out.order_id == str(order_id), "CheckedOut keeps the order id")
    expect(checked_out.total_cents == 3 * 50 + 2 * 75, "CheckedOut total 300")
    expect(line_items(checked_out.items) == ITEMS, "CheckedOut lists the cart's items")

    refused(
        store,
        stub,
        "cart",
        cart_id,
        shop_pb2.AddItem(sku="fig", quantity=1),
        REJECTED,
        "the cart is checked out",
    )
    refused(
        store,
        stub,
        "cart",
        cart_id,
        shop_pb2.RemoveItem(sku="apple"),
        REJECTED,
        "the cart is checked out",
    )
    refused(
        store,
        stub,
        "cart",
        cart_id,
        shop_pb2.Checkout(order_id=str(uuid.uuid4())),
        REJECTED,
        "the cart is already checked out",
    )

    # Later commands of a book see the earlier ones' events.
    other = uuid.uuid4()
    events = send(
        store,
        stub,
        "cart",
        other,
        shop_pb2.AddItem(sku="fig", quantity=1, unit_price_cents=5),
        shop_pb2.RemoveItem(sku="fig"),
    )
    expect(
        [e.type_url.rsplit("/", 1)[-1] for e in events] == ["shop.ItemAdded", "shop.ItemRemoved"],
        "two commands in one book",
    )
    return order_id


def test_checkout_saga(store, stub, cart_id, order_id):
    response = stub.Handle(
        types_pb2.SagaHandleRequest(source=store.book("cart", cart_id)), timeout=10
    )
    expect(len(response.commands) == 1 and not response.events, "checkout answers one command")
    placed = response.commands[0]
    expect(placed.cover.domain == "order", "PlaceOrder goes to domain order")
    expect(placed.cover.root.value == order_id.bytes, "PlaceOrder's root is the order id")
    expect(placed.cover.correlation_id == "journey-42", "the source's correlation id")
    expect(len(placed.pages) == 1, "one command page")
    page = placed.pages[0]
    expect(
        page.merge_strategy == types_pb2.MERGE_COMMUTATIVE and not page.HasField("header"),
        "commutative, no expected sequence",
    )
    place = unpack(page.command, shop_pb2.PlaceOrder)
    expect(place.cart_id == str(cart_id), "PlaceOrder's cart id is the cart's root")
    expect(
        line_items(place.items) == ITEMS and place.total_cents == 300,
        "PlaceOrder's items and total",
    )

    bad = types_pb2.EventBook(cover=cover("cart", uuid.uuid4(), "c"))
    bad.pages.add().event.CopyFrom(pack(shop_pb2.CheckedOut(order_id="nope")))
    bad.pages[0].header.sequence = 0
    call_refused(
        stub.Handle,
        types_pb2.SagaHandleRequest(source=bad),
        INVALID,
        "CheckedOut carries a bad order id",
    )
    call_refused(
        stub.Handle,
        types_pb2.SagaHandleRequest(source=types_pb2.EventBook()),
        INVALID,
        "event book has no cover",
    )
    call_refused(
        stub.Handle, types_pb2.SagaHandleRequest(), INVALID, "saga request has no source events"
    )
    unrelated = store.book("cart", cart_id)
    del unrelated.pages[-1]
    quiet = stub.Handle(types_pb2.SagaHandleRequest(source=unrelated), timeout=10)
    expect(not quiet.commands, "no CheckedOut, no command")
    return placed


def test_order(store, stub, placed_book, order_id):
    placed = unpack(store.handle(stub, placed_book)[0], shop_pb2.OrderPlaced)
    expect(line_items(placed.items) == ITEMS and placed.total_cents == 300, "OrderPlaced")
    refused(
        store,
        stub,
        "order",
        order_id,
        shop_pb2.ConfirmPayment(payment_id="p", amount_cents=100),
        REJECTED,
        "payment of 100 does not match the total of 300",
    )
    refused(
        store,
        stub,
        "order",
        order_id,
        shop_pb2.PlaceOrder(items=[shop_pb2.LineItem(sku="a", quantity=1)]),
        REJECTED,
        "the order was already placed",
    )
    paid = unpack(
        send(
            store,
            stub,
            "order",
            order_id,
            shop_pb2.ConfirmPayment(payment_id="pay-1", amount_cents=300),
        )[0],
        shop_pb2.OrderPaid,
    )
    expect(
        paid.payment_id == "pay-1" and line_items(paid.items) == ITEMS,
        "OrderPaid carries the items",
    )
    refused(
        store,
        stub,
        "order",
        order_id,
        shop_pb2.ConfirmPayment(amount_cents=300),
        REJECTED,
        "the order is already paid",
    )
    refused(
        store,
        stub,
        "order",
        order_id,
        shop_pb2.Cancel(reason="r"),
        REJECTED,
        "only a placed, unpaid order can be cancelled",
    )

    unplaced = uuid.uuid4()
    refused(
        store,
        stub,
        "order",
        unplaced,
        shop_pb2.PlaceOrder(cart_id="c"),
        REJECTED,
        "an order needs items",
    )
    refused(
        store,
        stub,
        "order",
        unplaced,
        shop_pb2.PlaceOrder(
            items=[shop_pb2.LineItem(sku="a", quantity=2, unit_price_cents=5)], total_cents=9
        ),
        REJECTED,
        "the total does not match the items",
    )
    refused(
        store,
        stub,
        "order",
        unplaced,
        shop_pb2.ConfirmPayment(amount_cents=0),
        REJECTED,
        "only a placed order can be paid",
    )
    refused(
        store,
        stub,
        "order",
        unplaced,
        shop_pb2.Cancel(),
        REJECTED,
        "only a placed, unpaid order can be cancelled",
    )

    cancelled_id = uuid.uuid4()
    item = shop_pb2.LineItem(sku="a", quantity=2, unit_price_cents=5)
    send(
        store,
        stub,
        "order",
        cancelled_id,
        shop_pb2.PlaceOrder(cart_id="c", items=[item], total_cents=10),
    )
    cancelled = unpack(
        send(store, stub, "order", cancelled_id, shop_pb2.Cancel(reason="changed my mind"))[0],
        shop_pb2.OrderCancelled,
    )
    expect(cancelled.reason == "changed my mind", "OrderCancelled keeps the reason")
    refused(
        store,
        stub,
        "order",
        cancelled_id,
        shop_pb2.Cancel(),
        REJECTED,
        "the order is already cancelled",
    )
    refused(
        store,
        stub,
        "order",
        cancelled_id,
        shop_pb2.ConfirmPayment(amount_cents=10),
        REJECTED,
        "only a placed order can be paid",
    )
    return cancelled_id


def test_fulfillment_saga(store, stub, order_id, cancelled_id):
    response = stub.Handle(
        types_pb2.SagaHandleRequest(source=store.book("order", order_id)), timeout=10
    )
    expect(len(response.commands) == 1, "fulfillment answers one command")
    create_book = response.commands[0]
    expect(create_book.cover.domain == "fulfillment", "CreateShipment goes to domain fulfillment")
    expect(create_book.cover.root.value == order_id.bytes, "the shipment shares the order's root")
    expect(create_book.cover.correlation_id == "journey-42", "the source's correlation id")
    create = unpack(create_book.pages[0].command, shop_pb2.CreateShipment)
    expect(create.order_id == str(order_id) and line_items(create.items) == ITEMS, "CreateShipment")
    quiet = stub.Handle(
        types_pb2.SagaHandleRequest(source=store.book("order", cancelled_id)), timeout=10
    )
    expect(not quiet.commands, "an unpaid order gets no shipment")
    return create_book


def test_fulfillment(store, stub, create_book, order_id):
    refused(
        store,
        stub,
        "fulfillment",
        uuid.uuid4(),
        shop_pb2.Ship(carrier="post"),
        REJECTED,
        "there is no shipment to ship",
    )
    created = unpack(store.handle(stub, create_book)[0], shop_pb2.ShipmentCreated)
    expect(
        created.order_id == str(order_id) and line_items(created.items) == ITEMS, "ShipmentCreated"
    )
    refused(
        store,
        stub,
        "fulfillment",
        order_id,
        shop_pb2.CreateShipment(order_id=str(order_id)),
        REJECTED,
        "the shipment already exists",
    )
    shipped = unpack(
        send(
            store,
            stub,
            "fulfillment",
            order_id,
            shop_pb2.Ship(carrier="post", tracking_number="TRK-1"),
        )[0],
        shop_pb2.Shipped,
    )
    expect(shipped.tracking_number == "TRK-1", "Shipped")
    refused(
        store,
        stub,
        "fulfillment",
        order_id,
        shop_pb2.Ship(carrier="post"),
        REJECTED,
        "the shipment has already shipped",
    )


KEYS = {
    "order_id",
    "status",
    "total_cents",
    "item_count",
    "tracking_number",
    "sequence",
    "sequences",
}


def test_summary(store, stub, summary_dir, order_id, cancelled_id):
    path = summary_dir / f"{order_id}.json"

    def project(domain, root, start, end=None):
        book = store.book(domain, root)
        del book.pages[end if end is not None else len(book.pages) :]
        del book.pages[:start]
        projection = stub.Handle(book, timeout=10)
        expect(projection.projector == "order-summary", "the projector's name")
        expect(projection.cover == book.cover, "the book's cover")
        expect(projection.sequence == book.pages[-1].header.sequence, "the book's last sequence")
        return projection

    def stored():
        content = json.loads(path.read_text())
        expect(set(content) == KEYS, f"read-model keys {sorted(content)}")
        return content

    projection = project("order", order_id, 0, 1)
    summary = unpack(projection.projection, shop_pb2.OrderSummary)
    expect(
        summary.status == shop_pb2.ORDER_STATUS_PLACED
        and summary.total_cents == 300
        and summary.item_count == 5
        and summary.order_id == str(order_id),
        "the Projection's OrderSummary",
    )
    content = stored()
    expect(
        content["status"] == "ORDER_STATUS_PLACED"
        and content["total_cents"] == 300
        and content["item_count"] == 5
        and content["tracking_number"] == ""
        and content["order_id"] == str(order_id)
        and content["sequence"] == 0,
        f"placed: {content}",
    )
    project("order", order_id, 1)
    expect(stored()["status"] == "ORDER_STATUS_PAID" and stored()["sequence"] == 1, "paid")
    project("fulfillment", order_id, 0, 1)
    content = stored()
    expect(
        content["status"] == "ORDER_STATUS_FULFILLING"
        and content["sequence"] == 0
        and content["sequences"] == {"order": 1, "fulfillment": 0},
        f"fulfilling: {content}",
    )

    # A replayed page (at or below the stored sequence) changes nothing.
    before = path.read_bytes()
    replayed = project("order", order_id, 0, 1)
    expect(path.read_bytes() == before, "a replayed OrderPlaced is ignored")
    expect(
        unpack(replayed.projection, shop_pb2.OrderSummary).status
        == shop_pb2.ORDER_STATUS_FULFILLING,
        "the replay answers the stored summary",
    )

    project("fulfillment", order_id, 1)
    content = stored()
    expect(
        content["status"] == "ORDER_STATUS_SHIPPED"
        and content["tracking_number"] == "TRK-1"
        and content["sequence"] == 1,
        f"shipped: {content}",
    )
    before = path.read_bytes()
    project("fulfillment", order_id, 0)
    project("order", order_id, 0)
    expect(path.read_bytes() == before, "replayed books are ignored")

    project("order", cancelled_id, 0)
    cancelled = json.loads((summary_dir / f"{cancelled_id}.json").read_text())
    expect(
        cancelled["status"] == "ORDER_STATUS_CANCELLED"
        and cancelled["total_cents"] == 10
        and cancelled["item_count"] == 2
        and cancelled["sequence"] == 1,
        f"cancelled: {cancelled}",
    )

    # Speculative: the projection, nothing written.
    fresh = uuid.uuid4()
    book = types_pb2.EventBook(cover=cover("order", fresh))
    page = book.pages.add(
        event=pack(shop_pb2.OrderPlaced(items=[shop_pb2.LineItem(sku="a", quantity=4)]))
    )
    page.header.sequence = 0
    speculative = stub.HandleSpeculative(book, timeout=10)
    expect(
        unpack(speculative.projection, shop_pb2.OrderSummary).item_count == 4,
        "speculative projection",
    )
    expect(not (summary_dir / f"{fresh}.json").exists(), "speculative writes nothing")

    # Only events it does not read: no summary, no projection.
    book.pages[0].event.CopyFrom(pack(shop_pb2.ItemAdded(sku="x")))
    expect(
        not stub.Handle(book, timeout=10).HasField("projection"),
        "an unknown order has no projection",
    )
    expect(not (summary_dir / f"{fresh}.json").exists(), "nor a file")
    call_refused(stub.Handle, types_pb2.EventBook(), INVALID, "event book has no cover")


def test_two_projectors(first, second, summary_dir):
    """Two processes updating the same orders at once lose no update."""
    orders = [uuid.uuid4() for _ in range(12)]
    item = shop_pb2.LineItem(sku="a", quantity=1, unit_price_cents=7)

    def book(domain, root, event):
        result = types_pb2.EventBook(cover=cover(domain, root))
        result.pages.add(event=pack(event)).header.sequence = 0
        return result

    errors = []

    def deliver(stub, books):
        try:
            for each in books:
                stub.Handle(each, timeout=10)
        except Exception as error:  # reported below
            errors.append(error)

    threads = [
        threading.Thread(
            target=deliver,
            args=(
                first,
                [
                    book("order", o, shop_pb2.OrderPlaced(items=[item], total_cents=7))
                    for o in orders
                ],
            ),
        ),
        threading.Thread(
            target=deliver,
            args=(second, [book("fulfillment", o, shop_pb2.ShipmentCreated()) for o in orders]),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expect(not errors, f"concurrent deliveries: {errors}")
    for root in orders:
        content = json.loads((summary_dir / f"{root}.json").read_text())
        expect(
            content["sequences"] == {"order": 0, "fulfillment": 0} and content["total_cents"] == 7,
            f"both updates kept: {content}",
        )


def main():
    summary_dir = WORK / "summaries"
    layout = [
        ("cart", "tcp", "CommandHandlerService", {}),
        ("order", "unix", "CommandHandlerService", {}),
        ("fulfillment", "tcp", "CommandHandlerService", {}),
        ("checkout", "unix", "SagaService", {}),
        ("fulfillment-saga", "tcp", "SagaService", {}),
        ("order-summary", "unix", "ProjectorService", {"SHOP_SUMMARY_DIR": str(summary_dir)}),
        ("order-summary", "tcp", "ProjectorService", {"SHOP_SUMMARY_DIR": str(summary_dir)}),
    ]
    running = []
    try:
        # Without its directory the projector refuses to start.
        env = {k: v for k, v in os.environ.items() if k != "SHOP_SUMMARY_DIR"}
        env["PYTHONPATH"] = f"{STUBS}{os.pathsep}{HERE}"
        refusal = subprocess.run(
            [sys.executable, "-m", "shop_services", "order-summary", "--port", "0"],
            env=env,
            cwd=WORK,
            capture_output=True,
            text=True,
            timeout=60,
        )
        expect(
            refusal.returncode != 0
            and "SHOP_SUMMARY_DIR" in refusal.stderr
            and refusal.stdout == "",
            f"order-summary without SHOP_SUMMARY_DIR refuses to start: {refusal}",
        )

        for name, transport, _, extra in layout:
            running.append(Component(name, transport, extra))
        deadline = time.monotonic() + 120
        for component, (name, transport, service, _) in zip(running, layout):
            component.wait_ready(deadline)
            check_health(component, f"angzarr.{service}")
            print(f"ok   {name} ready on {transport}, healthy")
        cart, order, fulfillment, checkout, shipping, summary, summary2 = running

        store = Aggregates()
        cart_id = uuid.uuid4()
        order_id = test_cart(
            store, business_pb2_grpc.CommandHandlerServiceStub(cart.channel), cart_id
        )
        print("ok   cart: add, remove, checkout, rejections, replay")
        placed = test_checkout_saga(
            store, business_pb2_grpc.SagaServiceStub(checkout.channel), cart_id, order_id
        )
        print("ok   checkout saga: PlaceOrder for order/<order id>")
        order_stub = business_pb2_grpc.CommandHandlerServiceStub(order.channel)
        cancelled_id = test_order(store, order_stub, placed, order_id)
        print("ok   order: place, pay, cancel, rejections")
        create = test_fulfillment_saga(
            store, business_pb2_grpc.SagaServiceStub(shipping.channel), order_id, cancelled_id
        )
        print("ok   fulfillment saga: CreateShipment for fulfillment/<order id>")
        test_fulfillment(
            store,
            business_pb2_grpc.CommandHandlerServiceStub(fulfillment.channel),
            create,
            order_id,
        )
        print("ok   fulfillment: create, ship, rejections")
        summary_stub = business_pb2_grpc.ProjectorServiceStub(summary.channel)
        test_summary(store, summary_stub, summary_dir, order_id, cancelled_id)
        print("ok   order-summary: JSON read model, Projection, replays ignored")
        test_two_projectors(
            summary_stub, business_pb2_grpc.ProjectorServiceStub(summary2.channel), summary_dir
        )
        print("ok   order-summary: two processes over one directory")

        while running:
            running.pop().stop()
        print("ok   every component stopped cleanly on SIGTERM")
    except (AssertionError, grpc.RpcError) as failure:
        print(f"FAIL {failure}", file=sys.stderr)
        for component in running:
            print(f"--- {component.name} stderr:\n{component.log()}", file=sys.stderr)
        for component in running:
            component.process.kill()
        print(f"(work directory kept: {WORK})", file=sys.stderr)
        return 1
    shutil.rmtree(WORK, ignore_errors=True)
    print(f"selftest passed: {CHECKS} checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
