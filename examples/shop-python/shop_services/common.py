"""What the shop's services share: message names and packing, refusals, and
the small command-handler and saga frames the services are written with
(the Python counterparts of the Rust `AggregateLogic` and `SagaLogic`).

Wire contract notes (crates/runtime/src/grpc/client.rs and
crates/core/src/error/wire.rs):

* A refusal is a gRPC status, read by its code: FAILED_PRECONDITION is a
  business rejection (`Error::Rejected { reason }`, the status message being
  the reason; nothing is appended), INVALID_ARGUMENT a malformed command
  (e.g. an unknown command type), UNAVAILABLE a retriable failure.
* Messages travel as `google.protobuf.Any` and are matched on the part of
  the type URL after the last '/'.
"""

import uuid
from collections import namedtuple

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError

from . import stubs

stubs.ensure()

from angzarr import business_pb2, business_pb2_grpc, types_pb2  # noqa: E402,F401
from shop import shop_pb2  # noqa: E402,F401

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1


class Rejected(Exception):
    """The command is refused: FAILED_PRECONDITION, a business rejection."""


class Invalid(Exception):
    """The request is malformed: INVALID_ARGUMENT."""


def answer(context, work):
    """Runs `work()` and returns its answer, or aborts the call with the
    status its refusal stands for."""
    try:
        return work()
    except Rejected as refusal:
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(refusal))
    except Invalid as malformed:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(malformed))
    except OSError as failure:
        # E.g. the read model's disk: retriable, the runtime redelivers.
        context.abort(grpc.StatusCode.UNAVAILABLE, f"read model: {failure}")


def type_name(any_message):
    """The full message name of an Any: the part after the last '/'."""
    return any_message.type_url.rsplit("/", 1)[-1]


def pack(message):
    """`message` as an Any with the URL `type.googleapis.com/<full name>`."""
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def unpack(any_message, message_type):
    """The `message_type` inside `any_message`, or Invalid."""
    name = message_type.DESCRIPTOR.full_name
    if type_name(any_message) != name:
        raise Invalid(f"expected a `{name}`, got type URL `{any_message.type_url}`")
    message = message_type()
    try:
        message.ParseFromString(any_message.value)
    except DecodeError as error:
        raise Invalid(f"malformed `{name}` payload: {error}") from None
    return message


_HEX = frozenset("0123456789abcdefABCDEF")


def parse_uuid(text):
    """The UUID in `text`, or None. Accepts exactly what the Rust shop's
    `uuid::Uuid::parse_str` accepts (Python's `uuid.UUID` is more lenient):
    32 hex digits, the hyphenated 8-4-4-4-12 form, that form in braces, or
    after `urn:uuid:`."""
    if len(text) == 38 and text[0] == "{" and text[-1] == "}":
        text = text[1:-1]
    elif len(text) == 45 and text.startswith("urn:uuid:"):
        text = text[9:]
    if len(text) == 36:
        if any(text[i] != "-" for i in (8, 13, 18, 23)):
            return None
        text = text.replace("-", "")
    if len(text) != 32 or not _HEX.issuperset(text):
        return None
    return uuid.UUID(hex=text)


def aggregate_of(cover):
    """The (domain, root UUID) a cover names, checked as the runtime checks
    an aggregate key: a 16-byte root, a non-empty domain without '#'."""
    if not cover.HasField("root"):
        raise Invalid("cover has no root")
    if len(cover.root.value) != 16:
        raise Invalid(f"a UUID must be 16 bytes, got {len(cover.root.value)}")
    if not cover.domain:
        raise Invalid("domain must not be empty")
    if "#" in cover.domain:
        raise Invalid(f"domain `{cover.domain}` must not contain `#`")
    return cover.domain, uuid.UUID(bytes=cover.root.value)


def page_sequence(page):
    """The page's sequence, or None when it has none (a deferred sequence)."""
    if page.HasField("header") and page.header.WhichOneof("sequence_type") == "sequence":
        return page.header.sequence
    return None


# Where an event came from, for sagas and projectors. `sequence` is None for
# a page without a numeric sequence.
EventContext = namedtuple("EventContext", "domain root sequence correlation_id")


def events_of(book):
    """(EventContext, Any) for each inline event of `book`; the book must
    have a cover naming an aggregate (pages holding only a payload reference
    are skipped, as the Rust shop skips them)."""
    if not book.HasField("cover"):
        raise Invalid("event book has no cover")
    domain, root = aggregate_of(book.cover)
    found = []
    for page in book.pages:
        if page.WhichOneof("payload") == "event":
            context = EventContext(domain, root, page_sequence(page), book.cover.correlation_id)
            found.append((context, page.event))
    return found


def total_cents(items):
    """The total of `items`, in cents (saturating at the uint64 maximum)."""
    total = sum(min(item.quantity * item.unit_price_cents, U64_MAX) for item in items)
    return min(total, U64_MAX)


class Aggregate(business_pb2_grpc.CommandHandlerServiceServicer):
    """A command handler: a state message folded from typed events
    (`@apply(EventType)`) and typed command handlers (`@handle(CommandType)`)
    returning the events a command causes, or raising Rejected.

    Events of types with no `apply` leave the state as it is; a command of a
    type with no `handle` is INVALID_ARGUMENT naming the type.
    """

    def __init__(self, domain, state_type):
        self.domain = domain
        self.state_type = state_type
        self.appliers = {}
        self.deciders = {}

    def apply(self, event_type):
        def register(function):
            self.appliers[event_type.DESCRIPTOR.full_name] = (event_type, function)
            return function

        return register

    def handle(self, command_type):
        def register(function):
            self.deciders[command_type.DESCRIPTOR.full_name] = (command_type, function)
            return function

        return register

    def fold(self, snapshot, pages):
        """The state after `snapshot` (or None) and `pages`."""
        if snapshot is not None and snapshot.HasField("state"):
            state = unpack(snapshot.state, self.state_type)
        else:
            state = self.state_type()
        for page in pages:
            if page.WhichOneof("payload") == "event":
                self._apply(state, page.event)
        return state

    def _apply(self, state, event):
        found = self.appliers.get(type_name(event))
        if found is not None:
            event_type, function = found
            function(state, unpack(event, event_type))

    def decide(self, contextual):
        history = contextual.events
        snapshot = history.snapshot if history.HasField("snapshot") else None
        state = self.fold(snapshot, history.pages)
        if not contextual.HasField("command"):
            raise Invalid("contextual command has no command")
        events = []
        for page in contextual.command.pages:
            if page.WhichOneof("payload") != "command":
                raise Invalid("command page has no inline command")
            name = type_name(page.command)
            found = self.deciders.get(name)
            if found is None:
                raise Invalid(f"unknown command type `{name}` for domain `{self.domain}`")
            command_type, function = found
            for event in function(state, unpack(page.command, command_type)):
                packed = pack(event)
                # Later commands of the same book see the earlier ones' events.
                self._apply(state, packed)
                events.append(packed)
        # Numbered from the history's next sequence (or, from a caller that
        # leaves it unset, the count of prior events); the runtime stamps the
        # authoritative sequences and covers anyway.
        first = history.next_sequence
        if not first:
            first = len(history.pages) + (snapshot.sequence + 1 if snapshot is not None else 0)
        book = types_pb2.EventBook()
        if history.HasField("cover"):
            book.cover.CopyFrom(history.cover)
        for offset, event in enumerate(events):
            page = book.pages.add()
            page.header.sequence = first + offset
            page.event.CopyFrom(event)
        return types_pb2.BusinessResponse(events=book)

    def Handle(self, request, context):
        return answer(context, lambda: self.decide(request))

    def Replay(self, request, context):
        def replay():
            snapshot = request.base_snapshot if request.HasField("base_snapshot") else None
            return types_pb2.ReplayResponse(state=pack(self.fold(snapshot, request.events)))

        return answer(context, replay)


def command(domain, root, correlation_id, message):
    """A book of one command for `domain`/`root`: commutative (applied to the
    latest state) and without an expected sequence, as the Rust sagas build
    them. The runtime stamps the source book's correlation id on it anyway."""
    book = types_pb2.CommandBook()
    book.cover.root.value = root.bytes
    book.cover.domain = domain
    book.cover.correlation_id = correlation_id
    page = book.pages.add()
    page.merge_strategy = types_pb2.MERGE_COMMUTATIVE
    page.command.CopyFrom(pack(message))
    return book


class Saga(business_pb2_grpc.SagaServiceServicer):
    """A saga: typed event handlers (`@on(EventType)`) returning the command
    books each event causes. Events of other types are skipped."""

    def __init__(self, name):
        self.name = name
        self.handlers = {}

    def on(self, event_type):
        def register(function):
            self.handlers[event_type.DESCRIPTOR.full_name] = (event_type, function)
            return function

        return register

    def react(self, request):
        if not request.HasField("source"):
            raise Invalid("saga request has no source events")
        response = types_pb2.SagaResponse()
        for context, event in events_of(request.source):
            found = self.handlers.get(type_name(event))
            if found is not None:
                event_type, function = found
                response.commands.extend(function(context, unpack(event, event_type)))
        return response

    def Handle(self, request, context):
        return answer(context, lambda: self.react(request))
