"""The `account` aggregate, written as the published library's OO aggregate
(`CommandHandler` with `@handles` / `@applies`): it implements `Replay`.

Commands: `OpenAccount` -> `AccountOpened`; `Deposit` -> `Deposited`
(refused before the account is opened, or for an amount that is not
positive); `Reconcile` -> `Reconciled`. A `BonusGranted` fact (injected by
the runtime, decided elsewhere) adds to the balance like a deposit.
"""

from angzarr_client import CommandHandler, CommandRejectedError, applies, handles

from .messages import (
    AccountOpened,
    AccountState,
    BonusGranted,
    Deposit,
    Deposited,
    OpenAccount,
    Reconcile,
    Reconciled,
)


class Account(CommandHandler[AccountState]):
    domain = "account"

    def _create_empty_state(self) -> AccountState:
        return AccountState()

    @applies(AccountOpened)
    def apply_opened(self, state: AccountState, event: AccountOpened):
        state.owner = event.owner
        state.opened = True

    @applies(Deposited)
    def apply_deposited(self, state: AccountState, event: Deposited):
        state.balance = event.balance
        state.deposits += 1

    @applies(BonusGranted)
    def apply_bonus(self, state: AccountState, event: BonusGranted):
        state.balance += event.amount

    @applies(Reconciled)
    def apply_reconciled(self, state: AccountState, event: Reconciled):
        state.reconciled = event.entries

    @handles(OpenAccount)
    def open(self, cmd: OpenAccount) -> AccountOpened:
        if self.state.opened:
            raise CommandRejectedError("the account is already open")
        if not cmd.owner:
            raise CommandRejectedError("an account needs an owner")
        return AccountOpened(owner=cmd.owner)

    @handles(Deposit)
    def deposit(self, cmd: Deposit) -> Deposited:
        if not self.state.opened:
            raise CommandRejectedError("no such account: open it first")
        if cmd.amount <= 0:
            raise CommandRejectedError("a deposit must be positive")
        return Deposited(amount=cmd.amount, balance=self.state.balance + cmd.amount)

    @handles(Reconcile)
    def reconcile(self, cmd: Reconcile) -> Reconciled:
        return Reconciled(entries=cmd.entries)
