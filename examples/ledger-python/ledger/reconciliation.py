"""Process manager `reconciliation`, written as the published library's
`ProcessManager` class. Its state is kept per correlation id: each
`EntryRecorded` of the journal records `ReconciliationRequested` in it and
sends `Reconcile` to the account of the same root, with the number of
entries the process has seen.
"""

from angzarr_client.process_manager import ProcessManager, applies, handles, output_domain

from .messages import (
    AccountState,
    EntryRecorded,
    Reconcile,
    ReconciliationRequested,
)


class Reconciliation(ProcessManager[AccountState]):
    name = "reconciliation"

    def _create_empty_state(self) -> AccountState:
        # Only `reconciled` is used: the entries seen so far.
        return AccountState()

    @applies(ReconciliationRequested)
    def apply_requested(self, state: AccountState, event: ReconciliationRequested):
        state.reconciled = event.entries

    @output_domain("account")
    @handles(EntryRecorded, input_domain="journal")
    def on_entry(self, event: EntryRecorded) -> Reconcile:
        seen = self.state.reconciled + 1
        self._apply_and_record(ReconciliationRequested(entries=seen))
        return Reconcile(entries=seen)
