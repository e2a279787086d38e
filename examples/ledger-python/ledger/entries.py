"""Saga `journal-entries`, written as the published library's `Saga` class:
every `Deposited` of an account becomes a `RecordEntry` for the journal of
the same root.
"""

from angzarr_client.saga import Saga, domain, handles, output_domain

from .messages import Deposited, RecordEntry


@domain("account")
@output_domain("journal")
class JournalEntries(Saga):
    name = "journal-entries"

    @handles(Deposited)
    def on_deposited(self, event: Deposited) -> RecordEntry:
        return RecordEntry(amount=event.amount)
