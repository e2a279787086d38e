"""Drives a runtime hosting the ledger through the published library's own
client calls, and checks what a user of the library depends on:

    python -m ledger.checks HOST:PORT [CHECK ...]

Runs every check (or those named), prints `PASS <check>` or
`FAIL <check>: <why>` for each, and exits 1 when any failed. The runtime
must host the five ledger components (see the README) with `balances`
synchronous, and deliver what a command causes before answering it, as
`angzarr dev` does.

Where the library has no call of its own for an RPC (`HandleEvent`,
`Synchronize`, `HandleCompensation`), the check uses the library's generated
stub for it.
"""

import sys
import traceback
import uuid

import grpc
from google.protobuf.any_pb2 import Any

from angzarr_client import (
    CommandHandlerClient,
    GRPCError,
    QueryClient,
    SpeculativeClient,
    compute_root,
)
from angzarr_client.builder import CommandBuilder, query, query_domain
from angzarr_client.helpers import explicit_edition, implicit_edition, uuid_to_proto
from angzarr_client.proto.angzarr.meta_pb2 import DeleteEditionEvents, EditionEventsDeleted
from angzarr_client.proto.angzarr.process_manager_pb2 import ProcessManagerHandleRequest
from angzarr_client.proto.angzarr.types_pb2 import ExternalDeferredSequence
from angzarr_client.proto.angzarr import (
    CommandHandlerCoordinatorServiceStub,
    CommandRequest,
    Cover,
    DomainDivergence,
    EventBook,
    EventPage,
    EventQueryServiceStub,
    EventRequest,
    PageHeader,
    Query,
    SagaHandleRequest,
    SpeculateCommandHandlerRequest,
    SpeculatePmRequest,
    SpeculateProjectorRequest,
    SpeculateSagaRequest,
    SyncMode,
    TemporalQuery,
)

from .messages import (
    AccountOpened,
    Balance,
    BonusGranted,
    Deposit,
    Deposited,
    EntryRecorded,
    OpenAccount,
    Reconcile,
    Reconciled,
    ReconciliationRequested,
    RecordEntry,
    type_url,
)

SIMPLE = SyncMode.SYNC_MODE_SIMPLE


class Ledger:
    """The library's clients, on one channel to the runtime."""

    def __init__(self, endpoint: str):
        self.channel = grpc.insecure_channel(endpoint)
        self.commands = CommandHandlerClient(self.channel)
        self.queries = QueryClient(self.channel)
        self.speculative = SpeculativeClient(self.channel)
        self.coordinator = CommandHandlerCoordinatorServiceStub(self.channel)
        self.event_queries = EventQueryServiceStub(self.channel)

    def command(self, domain, root, message, correlation_id, edition=None):
        """The library's builder; the edition set on the built book."""
        book = (
            CommandBuilder(self.commands, domain, root)
            .with_correlation_id(correlation_id)
            .with_command(type_url(type(message)), message)
            .build()
        )
        if edition is not None:
            book.cover.edition.CopyFrom(edition)
        return book

    def send(self, domain, root, message, correlation_id, edition=None):
        book = self.command(domain, root, message, correlation_id, edition)
        return self.commands.handle_command(CommandRequest(command=book, sync_mode=SIMPLE))

    def events(self, domain, root, edition=None):
        builder = query(self.queries, domain, root)
        if edition is not None:
            builder = builder.edition(edition)
        return builder.get_pages()

    def open(self, owner="ada"):
        """A new account, opened under a new correlation id."""
        root, flow = uuid.uuid4(), f"flow-{uuid.uuid4()}"
        self.send("account", root, OpenAccount(owner=owner), flow)
        return root, flow


def names(pages):
    return [page.event.type_url.rsplit(".", 1)[-1] for page in pages]


def sequences(pages):
    return [page.header.sequence for page in pages]


def unpack(page, message_class):
    message = message_class()
    if not page.event.Unpack(message):
        raise AssertionError(f"{page.event.type_url} is not {message_class.__name__}")
    return message


def expect_error(code, call, *args):
    try:
        call(*args)
    except GRPCError as error:
        assert error.code == code, f"{error.code}: {error.details}"
        return error.details or ""
    except grpc.RpcError as error:
        assert error.code() == code, f"{error.code()}: {error.details()}"
        return error.details() or ""
    raise AssertionError(f"succeeded, expected {code}")


def check_commands_and_rejections(ledger: Ledger):
    """Commands through the OO aggregate (with Replay, so the runtime
    caches its state), a refusal, the saga, the process manager and the
    synchronous projector, on the main timeline."""
    root, flow = uuid.uuid4(), f"flow-{uuid.uuid4()}"
    details = expect_error(
        grpc.StatusCode.FAILED_PRECONDITION,
        ledger.send,
        "account",
        root,
        Deposit(amount=5),
        flow,
    )
    assert "open it first" in details, details
    assert ledger.events("account", root) == [], "a refused command stores nothing"

    opened = ledger.send("account", root, OpenAccount(owner="ada"), flow)
    assert names(opened.events.pages) == ["AccountOpened"]
    first = ledger.send("account", root, Deposit(amount=30), flow)
    assert unpack(first.events.pages[0], Deposited).balance == 30
    projected = [p for p in first.projections if p.projector == "balances"]
    assert len(projected) == 1, first.projections
    balance = Balance()
    projected[0].projection.Unpack(balance)
    assert (balance.balance, balance.deposits) == (30, 1), balance
    # The second command is decided on the state after the first.
    second = ledger.send("account", root, Deposit(amount=12), flow)
    assert unpack(second.events.pages[0], Deposited).balance == 42
    expect_error(
        grpc.StatusCode.FAILED_PRECONDITION,
        ledger.send,
        "account",
        root,
        Deposit(amount=-1),
        flow,
    )

    history = ledger.events("account", root)
    assert names(history) == [
        "AccountOpened",
        "Deposited",
        "Reconciled",
        "Deposited",
        "Reconciled",
    ], names(history)
    assert sequences(history) == [0, 1, 2, 3, 4]
    assert [unpack(p, Reconciled).entries for p in history if names([p]) == ["Reconciled"]] == [
        1,
        2,
    ]
    # The saga's commands went to the journal of the same root.
    journal = ledger.events("journal", root)
    assert [unpack(p, EntryRecorded).amount for p in journal] == [30, 12]
    assert [unpack(p, EntryRecorded).entries for p in journal] == [1, 2]
    # The process manager's state: its own aggregate per correlation id.
    state = ledger.events("reconciliation", compute_root("reconciliation", flow))
    assert [unpack(p, ReconciliationRequested).entries for p in state] == [1, 2]


def check_functional_aggregate_without_replay(ledger: Ledger):
    """The functional `CommandRouter` answers Replay with UNIMPLEMENTED:
    every command is still decided on the whole history."""
    root, flow = uuid.uuid4(), f"flow-{uuid.uuid4()}"
    for amount in (5, 6, 7):
        answer = ledger.send("journal", root, RecordEntry(amount=amount), flow)
        assert names(answer.events.pages) == ["EntryRecorded"]
    entries = [unpack(p, EntryRecorded) for p in ledger.events("journal", root)]
    assert [(e.amount, e.entries) for e in entries] == [(5, 1), (6, 2), (7, 3)]
    expect_error(
        grpc.StatusCode.FAILED_PRECONDITION,
        ledger.send,
        "journal",
        root,
        RecordEntry(amount=0),
        flow,
    )


def check_correlation_queries(ledger: Ledger):
    """`by_correlation_id`: every book written under the id, across domains,
    and only the events written under it."""
    root, flow = ledger.open()
    ledger.send("account", root, Deposit(amount=30), flow)
    # Another workflow on the same account.
    ledger.send("account", root, Deposit(amount=1), f"other-{uuid.uuid4()}")

    books = query_domain(ledger.queries, "").by_correlation_id(flow).get_events()
    found = {book.cover.domain: book for book in books}
    assert sorted(found) == ["account", "journal", "reconciliation"], sorted(found)
    assert all(book.cover.correlation_id == flow for book in books)
    assert names(found["account"].pages) == ["AccountOpened", "Deposited", "Reconciled"]
    assert found["account"].cover.root.value == root.bytes
    assert names(found["journal"].pages) == ["EntryRecorded"]

    journal = query_domain(ledger.queries, "journal").by_correlation_id(flow).get_event_book()
    assert journal.cover.domain == "journal"
    assert [unpack(p, EntryRecorded).amount for p in journal.pages] == [30]
    assert query_domain(ledger.queries, "").by_correlation_id("no-such-flow").get_events() == []


def check_editions(ledger: Ledger):
    """An edition branches off the main history: its writes never touch
    main, sagas and process managers stay in it, queries read it."""
    root, flow = ledger.open()
    ledger.send("account", root, Deposit(amount=30), flow)
    name = f"what-if-{uuid.uuid4().hex[:8]}"
    what_if = implicit_edition(name)
    answer = ledger.send("account", root, Deposit(amount=100), flow, what_if)
    assert answer.events.cover.edition.name == name
    assert unpack(answer.events.pages[0], Deposited).balance == 130

    main = ledger.events("account", root)
    assert names(main) == ["AccountOpened", "Deposited", "Reconciled"], names(main)
    branch = ledger.events("account", root, name)
    assert names(branch) == [
        "AccountOpened",
        "Deposited",
        "Reconciled",
        "Deposited",
        "Reconciled",
    ], names(branch)
    assert sequences(branch) == [0, 1, 2, 3, 4]
    # The saga's command stayed in the edition.
    assert [unpack(p, EntryRecorded).amount for p in ledger.events("journal", root)] == [30]
    assert [unpack(p, EntryRecorded).amount for p in ledger.events("journal", root, name)] == [
        30,
        100,
    ]

    # An explicit divergence: the edition starts after main's sequence 1.
    past = explicit_edition("past", [DomainDivergence(domain="account", sequence=2)])
    answer = ledger.send("account", root, Deposit(amount=5), flow, past)
    assert unpack(answer.events.pages[0], Deposited).balance == 35
    assert sequences(answer.events.pages) == [2]

    for bad in ("   ", "x" * 65):
        expect_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            ledger.send,
            "account",
            root,
            Deposit(amount=1),
            flow,
            implicit_edition(bad),
        )
    elsewhere = explicit_edition("elsewhere", [DomainDivergence(domain="journal", sequence=0)])
    expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        ledger.send,
        "account",
        root,
        Deposit(amount=1),
        flow,
        elsewhere,
    )
    assert len(ledger.events("account", root)) == 3, "main untouched by refused commands"

    # Deleting the edition's events in one domain: a command to `_angzarr`.
    delete = (
        CommandBuilder(ledger.commands, "_angzarr")
        .with_command(
            type_url(DeleteEditionEvents), DeleteEditionEvents(edition=name, domain="account")
        )
        .build()
    )
    deleted = unpack(
        ledger.commands.handle_command(CommandRequest(command=delete)).events.pages[0],
        EditionEventsDeleted,
    )
    assert (deleted.edition, deleted.domain, deleted.deleted_count) == (name, "account", 2)
    assert names(ledger.events("account", root, name)) == names(main), "reads as main again"
    assert len(ledger.events("journal", root, name)) == 2, "another domain's edition stays"
    assert len(ledger.events("account", root)) == 3, "main untouched"


def fact(root, flow, external_id, amount):
    event = Any()
    event.Pack(BonusGranted(amount=amount, partner="partner"), type_url_prefix="type.googleapis.com/")
    return EventRequest(
        events=EventBook(
            cover=Cover(domain="account", root=uuid_to_proto(root), correlation_id=flow),
            pages=[
                EventPage(
                    header=PageHeader(
                        external_deferred=ExternalDeferredSequence(external_id=external_id)
                    ),
                    event=event,
                )
            ],
        ),
        sync_mode=SIMPLE,
    )


def check_fact_injection(ledger: Ledger):
    """HandleEvent: the runtime assigns the sequence; a repeat of the same
    external id is `already_processed`; the aggregate then sees the fact."""
    root, flow = ledger.open()
    external_id = f"bonus-{uuid.uuid4()}"
    injected = ledger.coordinator.HandleEvent(fact(root, flow, external_id, 25))
    assert not injected.already_processed
    assert sequences(injected.events.pages) == [1], injected
    again = ledger.coordinator.HandleEvent(fact(root, flow, external_id, 25))
    assert again.already_processed
    assert names(ledger.events("account", root)) == ["AccountOpened", "BonusGranted"]

    answer = ledger.send("account", root, Deposit(amount=10), flow)
    assert unpack(answer.events.pages[0], Deposited).balance == 35

    no_cover = fact(root, flow, f"bonus-{uuid.uuid4()}", 1)
    no_cover.events.ClearField("cover")
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, ledger.coordinator.HandleEvent, no_cover)
    explicit = fact(root, flow, f"bonus-{uuid.uuid4()}", 1)
    explicit.events.pages[0].header.sequence = 99
    expect_error(grpc.StatusCode.INVALID_ARGUMENT, ledger.coordinator.HandleEvent, explicit)
    assert len(ledger.events("account", root)) == 4, "nothing appended by refused facts"


def check_speculative(ledger: Ledger):
    """HandleSyncSpeculative as of a sequence and now: the events the
    command would give, with nothing persisted or published; the saga,
    process-manager and projector speculation of the coordinators."""
    root, flow = ledger.open()
    ledger.send("account", root, Deposit(amount=30), flow)
    ledger.send("account", root, Deposit(amount=12), flow)
    before = ledger.events("account", root)
    journal_before = ledger.events("journal", root)

    book = ledger.command("account", root, Deposit(amount=100), flow)
    as_of = SpeculateCommandHandlerRequest(
        command=book, point_in_time=TemporalQuery(as_of_sequence=2)
    )
    past = ledger.commands.handle_sync_speculative(as_of)
    assert unpack(past.events.pages[0], Deposited).balance == 130
    now = ledger.speculative.command_handler(SpeculateCommandHandlerRequest(command=book))
    assert unpack(now.events.pages[0], Deposited).balance == 142
    assert ledger.events("account", root) == before, "nothing persisted"
    assert ledger.events("journal", root) == journal_before, "nothing published"

    deposited = EventBook(
        cover=Cover(domain="account", root=uuid_to_proto(root), correlation_id=flow),
        pages=[before[-2]],
    )
    saga = ledger.speculative.saga(SpeculateSagaRequest(request=SagaHandleRequest(source=deposited)))
    assert len(saga.commands) == 1
    assert saga.commands[0].cover.domain == "journal"
    command = RecordEntry()
    saga.commands[0].pages[0].command.Unpack(command)
    assert command.amount == 12

    recorded = EventBook(
        cover=Cover(domain="journal", root=uuid_to_proto(root), correlation_id=flow),
        pages=[journal_before[-1]],
    )
    decision = ledger.speculative.process_manager(
        SpeculatePmRequest(request=ProcessManagerHandleRequest(trigger=recorded))
    )
    reconcile = Reconcile()
    decision.commands[0].pages[0].command.Unpack(reconcile)
    assert reconcile.entries == 3, "decided on the process's state (2 entries seen)"
    state = ledger.events("reconciliation", compute_root("reconciliation", flow))
    assert len(state) == 2, "nothing persisted"

    # The library's ProjectorHandler serves Handle only: speculation, which
    # must change no read model, is refused rather than run through Handle.
    details = expect_error(
        grpc.StatusCode.UNIMPLEMENTED,
        ledger.speculative.projector,
        SpeculateProjectorRequest(events=deposited),
    )
    assert "balances" in details, details


def check_synchronize(ledger: Ledger):
    """Synchronize: a stream of queries answered in order."""
    root, flow = ledger.open()
    ledger.send("account", root, Deposit(amount=30), flow)
    queries = [
        Query(cover=Cover(domain="account", root=uuid_to_proto(root))),
        Query(cover=Cover(domain="journal", root=uuid_to_proto(root))),
        Query(cover=Cover(domain="account", root=uuid_to_proto(root)), temporal=TemporalQuery(as_of_sequence=0)),
    ]
    books = list(ledger.event_queries.Synchronize(iter(queries)))
    assert [b.cover.domain for b in books] == ["account", "journal", "account"]
    assert [len(b.pages) for b in books] == [3, 1, 1]


def check_unserved(ledger: Ledger):
    """An RPC the runtime does not serve is UNIMPLEMENTED, naming it."""
    book = ledger.command("account", uuid.uuid4(), Deposit(amount=1), "flow")
    details = expect_error(
        grpc.StatusCode.UNIMPLEMENTED,
        ledger.coordinator.HandleCompensation,
        CommandRequest(command=book),
    )
    assert "HandleCompensation" in details, details


CHECKS = {
    name[len("check_") :]: function
    for name, function in sorted(globals().items())
    if name.startswith("check_")
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        raise SystemExit(f"usage: python -m ledger.checks HOST:PORT [{' '.join(CHECKS)}]")
    endpoint, chosen = argv[0], argv[1:] or list(CHECKS)
    unknown = [name for name in chosen if name not in CHECKS]
    if unknown:
        raise SystemExit(f"no such check: {', '.join(unknown)} (checks: {', '.join(CHECKS)})")
    ledger = Ledger(endpoint)
    failed = 0
    for name in chosen:
        try:
            CHECKS[name](ledger)
            print(f"PASS {name}", flush=True)
        except Exception:  # noqa: BLE001 - every failure is reported
            failed += 1
            reason = traceback.format_exc().strip().replace("\n", "\n    ")
            print(f"FAIL {name}: {reason}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
