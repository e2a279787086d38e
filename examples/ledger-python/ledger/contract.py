"""Compares our wire contract with the published library's, field for field:

    python -m ledger.contract OURS.binpb

OURS.binpb is an encoded `FileDescriptorSet` of our `proto/angzarr` files
(the runtime embeds one: `angzarr_core::proto::FILE_DESCRIPTOR_SET`). The
published one is read from the library's generated modules. Prints one line
per published message (`SAME`, `ABSENT`, or `DIFF` with the fields that
differ) and per published RPC (`SAME`, `ABSENT`, `DIFF`), then `OURS-ONLY`
for anything of ours the library lacks. Exits 1 if anything differs: a field
of ours with a published number must have the published name and type.
"""

import importlib
import sys

from google.protobuf import descriptor_pb2

MODULES = [
    "cloudevents",
    "command_handler",
    "meta",
    "process_manager",
    "projector",
    "query",
    "saga",
    "stream",
    "types",
    "upcaster",
]


def _short(type_name: str) -> str:
    return type_name.rsplit(".", 1)[-1]


def _fields(message):
    return {
        f.number: (f.name, f.type, _short(f.type_name), f.label, f.HasField("oneof_index"))
        for f in message.field
    }


def _collect(files):
    """The `angzarr` package's messages and RPCs (`Service/Method`) in `files`."""
    messages, methods = {}, {}
    for file in files:
        if file.package != "angzarr":
            continue
        for message in file.message_type:
            messages[message.name] = message
        for service in file.service:
            for method in service.method:
                methods[f"{service.name}/{method.name}"] = method
    return messages, methods


def _published():
    files = []
    for module in MODULES:
        generated = importlib.import_module(f"angzarr_client.proto.angzarr.{module}_pb2")
        file = descriptor_pb2.FileDescriptorProto()
        generated.DESCRIPTOR.CopyToProto(file)
        files.append(file)
    return _collect(files)


def _ours(path):
    with open(path, "rb") as encoded:
        return _collect(descriptor_pb2.FileDescriptorSet.FromString(encoded.read()).file)


def _signature(method):
    return (
        _short(method.input_type),
        _short(method.output_type),
        method.client_streaming,
        method.server_streaming,
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python -m ledger.contract OURS.binpb")
    published, published_methods = _published()
    ours, our_methods = _ours(argv[0])
    differs = False
    for name, message in published.items():
        if name not in ours:
            print(f"ABSENT message {name}")
            continue
        theirs, mine = _fields(message), _fields(ours[name])
        changed = [
            f"{theirs[n][0]}={n}" for n in theirs if n in mine and mine[n] != theirs[n]
        ]
        lacking = [f"{theirs[n][0]}={n}" for n in theirs if n not in mine]
        extra = [f"{mine[n][0]}={n}" for n in mine if n not in theirs]
        # Our own additions must keep to numbers >= 100.
        low = [field for field in extra if int(field.split("=")[1]) < 100]
        if changed or low:
            differs = True
            print(f"DIFF message {name}: differing {changed} ours below 100 {low}")
        elif lacking or extra:
            print(f"PART message {name}: lacking {lacking} ours {extra}")
        else:
            print(f"SAME message {name}")
    for name, method in published_methods.items():
        if name not in our_methods:
            print(f"ABSENT rpc {name}")
        elif _signature(method) != _signature(our_methods[name]):
            differs = True
            print(f"DIFF rpc {name}: {_signature(our_methods[name])} != {_signature(method)}")
        else:
            print(f"SAME rpc {name}")
    for name in ours:
        if name not in published:
            print(f"OURS-ONLY message {name}")
    for name in our_methods:
        if name not in published_methods:
            print(f"OURS-ONLY rpc {name}")
    sys.exit(1 if differs else 0)


if __name__ == "__main__":
    main()
