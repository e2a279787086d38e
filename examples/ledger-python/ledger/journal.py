"""The `journal` aggregate, written with the published library's functional
`CommandRouter` + `StateRouter`. Such a handler answers `Replay` with
UNIMPLEMENTED, so the runtime hosts it without its state cache.

`RecordEntry` -> `EntryRecorded` (refused for an amount that is not
positive).
"""

from angzarr_client import CommandRejectedError, CommandRouter, StateRouter

from .messages import EntryRecorded, JournalState, RecordEntry


def _apply_recorded(state: JournalState, event: EntryRecorded) -> None:
    state.entries = event.entries
    state.total += event.amount


def _record(cmd: RecordEntry, state: JournalState, seq: int) -> EntryRecorded:
    if cmd.amount <= 0:
        raise CommandRejectedError("an entry must be positive")
    return EntryRecorded(amount=cmd.amount, entries=state.entries + 1)


journal = (
    CommandRouter("journal")
    .with_state(StateRouter(JournalState).on(EntryRecorded, _apply_recorded))
    .on(RecordEntry, _record)
)
