"""The `order-summary` projector: a read model of orders and their status.

One JSON file per order, `<order_id>.json` under `SHOP_SUMMARY_DIR`:

    {"order_id": "...", "status": "ORDER_STATUS_PAID", "total_cents": 300,
     "item_count": 5, "tracking_number": "", "sequence": 1,
     "sequences": {"order": 1}}

Orders and their shipments share a root, so `order` and `fulfillment`
events update the same summary. `sequence` is the sequence of the last
event applied; `sequences` keeps the last one applied per source domain
(the two domains number their events independently), and a page whose
sequence is at or below it is a replay and is skipped, so redeliveries are
idempotent. Each order's file is rewritten atomically (temp file, then
os.replace) under an exclusive flock of `<order_id>.lock`, so several
processes may project into the same directory.
"""

import fcntl
import json
import os
import tempfile
from contextlib import contextmanager

from .common import (
    U32_MAX,
    answer,
    business_pb2_grpc,
    events_of,
    pack,
    shop_pb2,
    type_name,
    types_pb2,
    unpack,
)

NAME = "order-summary"

Status = shop_pb2.OrderStatus


def _advance(summary, status):
    """Moves the status to `status` unless it is further along already: an
    order's books and its shipment's come on different topics, so a late
    `OrderPaid` must not take a fulfilling order back to paid (the statuses
    are numbered in the order's lifecycle), as in the Rust projector."""
    summary.status = max(summary.status, status)


def _placed(summary, event):
    _advance(summary, Status.ORDER_STATUS_PLACED)
    summary.total_cents = event.total_cents
    # A uint32 sum, as in the Rust projector.
    summary.item_count = sum(item.quantity for item in event.items) & U32_MAX


def _paid(summary, event):
    _advance(summary, Status.ORDER_STATUS_PAID)


def _cancelled(summary, event):
    _advance(summary, Status.ORDER_STATUS_CANCELLED)


def _shipment_created(summary, event):
    _advance(summary, Status.ORDER_STATUS_FULFILLING)


def _shipped(summary, event):
    _advance(summary, Status.ORDER_STATUS_SHIPPED)
    summary.tracking_number = event.tracking_number


HANDLERS = {
    message.DESCRIPTOR.full_name: (message, handler)
    for message, handler in [
        (shop_pb2.OrderPlaced, _placed),
        (shop_pb2.OrderPaid, _paid),
        (shop_pb2.OrderCancelled, _cancelled),
        (shop_pb2.ShipmentCreated, _shipment_created),
        (shop_pb2.Shipped, _shipped),
    ]
}


def to_json(summary, sequence, sequences):
    """The file's content (the Rust `summary_json` fields, plus sequences)."""
    return {
        "order_id": summary.order_id,
        "status": Status.Name(summary.status),
        "total_cents": summary.total_cents,
        "item_count": summary.item_count,
        "tracking_number": summary.tracking_number,
        "sequence": sequence,
        "sequences": sequences,
    }


def from_json(stored):
    return shop_pb2.OrderSummary(
        order_id=stored["order_id"],
        status=Status.Value(stored["status"]),
        total_cents=stored["total_cents"],
        item_count=stored["item_count"],
        tracking_number=stored["tracking_number"],
    )


class OrderSummaries(business_pb2_grpc.ProjectorServiceServicer):
    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def _path(self, order_id, suffix):
        return os.path.join(self.directory, order_id + suffix)

    @contextmanager
    def _locked(self, order_id, exclusive):
        with open(self._path(order_id, ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self, order_id):
        try:
            with open(self._path(order_id, ".json")) as stored:
                return json.load(stored)
        except FileNotFoundError:
            return None

    def _write(self, order_id, content):
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{order_id}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(content, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self._path(order_id, ".json"))
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise

    def project(self, book, commit):
        """Applies `book` to its order's summary (written when `commit`) and
        returns the Projection the Rust projector answers: the book's cover,
        the projector's name, the sequence of the book's last event, and the
        order's summary (absent while the order is unknown)."""
        pages = events_of(book)  # checks the cover
        domain = book.cover.domain
        projection = types_pb2.Projection(cover=book.cover, projector=NAME)
        if not pages:
            return projection
        order_id = str(pages[0][0].root)
        with self._locked(order_id, exclusive=commit):
            stored = self._read(order_id)
            summary = from_json(stored) if stored else None
            sequence = stored["sequence"] if stored else 0
            sequences = dict(stored.get("sequences", {})) if stored else {}
            changed = False
            for context, event in pages:
                applied = sequences.get(domain)
                if (
                    context.sequence is not None
                    and applied is not None
                    and context.sequence <= applied
                ):
                    continue  # already applied: a redelivery
                found = HANDLERS.get(type_name(event))
                if found is not None:
                    message, handler = found
                    decoded = unpack(event, message)
                    if summary is None:
                        summary = shop_pb2.OrderSummary(order_id=order_id)
                    handler(summary, decoded)
                    changed = True
                if context.sequence is not None:
                    sequences[domain] = context.sequence
                    sequence = context.sequence
                    changed = True
            if commit and changed and summary is not None:
                self._write(order_id, to_json(summary, sequence, sequences))
        last = pages[-1][0].sequence
        projection.sequence = last or 0
        if summary is not None:
            projection.projection.CopyFrom(pack(summary))
        return projection

    def Handle(self, request, context):
        return answer(context, lambda: self.project(request, commit=True))

    def HandleSpeculative(self, request, context):
        # The projection the book would give, with nothing written.
        return answer(context, lambda: self.project(request, commit=False))


def from_environment():
    """The projector over `SHOP_SUMMARY_DIR`; refuses to start without it."""
    directory = os.environ.get("SHOP_SUMMARY_DIR")
    if not directory:
        raise SystemExit(
            "order-summary needs SHOP_SUMMARY_DIR: the directory of its read model "
            "(one <order_id>.json per order)"
        )
    return OrderSummaries(directory)
