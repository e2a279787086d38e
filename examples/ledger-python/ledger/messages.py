"""The ledger's messages (protobuf package `ledger`).

They are built from a descriptor at import time, so the example needs no
code generator: the same messages as this `.proto` would give.

    syntax = "proto3";
    package ledger;
    message OpenAccount { string owner = 1; }
    message AccountOpened { string owner = 1; }
    message Deposit { int64 amount = 1; }
    message Deposited { int64 amount = 1; int64 balance = 2; }
    message BonusGranted { int64 amount = 1; string partner = 2; }
    message Reconcile { int64 entries = 1; }
    message Reconciled { int64 entries = 1; }
    message AccountState { string owner = 1; int64 balance = 2; bool opened = 3;
                           int64 reconciled = 4; int64 deposits = 5; }
    message RecordEntry { int64 amount = 1; }
    message EntryRecorded { int64 amount = 1; int64 entries = 2; }
    message JournalState { int64 entries = 1; int64 total = 2; }
    message ReconciliationRequested { int64 entries = 1; }
    message Balance { int64 balance = 1; int64 deposits = 2; }
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

PACKAGE = "ledger"

_STRING = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
_INT64 = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
_BOOL = descriptor_pb2.FieldDescriptorProto.TYPE_BOOL

# message name -> [(field name, type)], numbered from 1
_MESSAGES = {
    "OpenAccount": [("owner", _STRING)],
    "AccountOpened": [("owner", _STRING)],
    "Deposit": [("amount", _INT64)],
    "Deposited": [("amount", _INT64), ("balance", _INT64)],
    "BonusGranted": [("amount", _INT64), ("partner", _STRING)],
    "Reconcile": [("entries", _INT64)],
    "Reconciled": [("entries", _INT64)],
    "AccountState": [
        ("owner", _STRING),
        ("balance", _INT64),
        ("opened", _BOOL),
        ("reconciled", _INT64),
        ("deposits", _INT64),
    ],
    "RecordEntry": [("amount", _INT64)],
    "EntryRecorded": [("amount", _INT64), ("entries", _INT64)],
    "JournalState": [("entries", _INT64), ("total", _INT64)],
    "ReconciliationRequested": [("entries", _INT64)],
    "Balance": [("balance", _INT64), ("deposits", _INT64)],
}


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="ledger/ledger.proto", package=PACKAGE, syntax="proto3"
    )
    for name, fields in _MESSAGES.items():
        message = file.message_type.add(name=name)
        for number, (field, kind) in enumerate(fields, start=1):
            message.field.add(
                name=field,
                number=number,
                type=kind,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
                json_name=field,
            )
    return file


descriptor_pool.Default().Add(_file())
_classes = {
    name: message_factory.GetMessageClass(
        descriptor_pool.Default().FindMessageTypeByName(f"{PACKAGE}.{name}")
    )
    for name in _MESSAGES
}

OpenAccount = _classes["OpenAccount"]
AccountOpened = _classes["AccountOpened"]
Deposit = _classes["Deposit"]
Deposited = _classes["Deposited"]
BonusGranted = _classes["BonusGranted"]
Reconcile = _classes["Reconcile"]
Reconciled = _classes["Reconciled"]
AccountState = _classes["AccountState"]
RecordEntry = _classes["RecordEntry"]
EntryRecorded = _classes["EntryRecorded"]
JournalState = _classes["JournalState"]
ReconciliationRequested = _classes["ReconciliationRequested"]
Balance = _classes["Balance"]


def type_url(message_class) -> str:
    """The type URL the library packs `message_class` with."""
    return "type.googleapis.com/" + message_class.DESCRIPTOR.full_name
