"""Projector `balances`, written with the published library's
`ProjectorHandler`: for each book of the `account` domain it answers a
`Projection` holding the account's `Balance` after the book (folded from the
books it has seen, per root and edition), and writes it as JSON to
`$LEDGER_BALANCES_DIR/<edition or main>/<root>.json` when that is set.
"""

import json
import os
import threading
import uuid

from google.protobuf.any_pb2 import Any

from angzarr_client import ProjectorHandler
from angzarr_client.proto.angzarr import types_pb2 as types

from .messages import Balance, BonusGranted, Deposited

_lock = threading.Lock()
_balances: dict[tuple[str, str], Balance] = {}


def project(book: types.EventBook) -> types.Projection:
    root = str(uuid.UUID(bytes=book.cover.root.value))
    edition = book.cover.edition.name or "main"
    with _lock:
        balance = _balances.setdefault((edition, root), Balance())
        for page in book.pages:
            if page.event.Is(Deposited.DESCRIPTOR):
                deposited = Deposited()
                page.event.Unpack(deposited)
                balance.balance = deposited.balance
                balance.deposits += 1
            elif page.event.Is(BonusGranted.DESCRIPTOR):
                bonus = BonusGranted()
                page.event.Unpack(bonus)
                balance.balance += bonus.amount
        snapshot = Balance()
        snapshot.CopyFrom(balance)
    directory = os.environ.get("LEDGER_BALANCES_DIR")
    if directory:
        path = os.path.join(directory, edition)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, f"{root}.json"), "w", encoding="utf-8") as out:
            json.dump({"balance": snapshot.balance, "deposits": snapshot.deposits}, out)
    packed = Any()
    packed.Pack(snapshot, type_url_prefix="type.googleapis.com/")
    last = book.pages[-1].header.sequence if book.pages else 0
    return types.Projection(
        cover=book.cover, projector="balances", sequence=last, projection=packed
    )


balances = ProjectorHandler("balances", "account").with_handle(project)
