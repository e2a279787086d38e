"""Serves one ledger component over gRPC with the published library's
servicers:

    python -m ledger COMPONENT [--port N]

COMPONENT is `account`, `journal`, `journal-entries`, `reconciliation` or
`balances`. Listens on the Unix socket at $ANGZARR_SOCKET when it is set (a
host that starts the component as a child process sets it), else on
127.0.0.1:--port. Also serves the standard health service. Prints `ready`
once serving; stops on SIGTERM or SIGINT.
"""

import argparse
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from angzarr_client import CommandHandlerGrpc, ProcessManagerHandler, SagaHandler
from angzarr_client.proto.angzarr import (
    command_handler_pb2_grpc,
    process_manager_pb2_grpc,
    projector_pb2_grpc,
    saga_pb2_grpc,
)

from .account import Account
from .balances import balances
from .entries import JournalEntries
from .journal import journal
from .reconciliation import Reconciliation

# component -> (register function, servicer factory)
COMPONENTS = {
    "account": (
        command_handler_pb2_grpc.add_CommandHandlerServiceServicer_to_server,
        lambda: CommandHandlerGrpc(Account),
    ),
    "journal": (
        command_handler_pb2_grpc.add_CommandHandlerServiceServicer_to_server,
        lambda: CommandHandlerGrpc(journal),
    ),
    "journal-entries": (
        saga_pb2_grpc.add_SagaServiceServicer_to_server,
        lambda: SagaHandler(JournalEntries),
    ),
    "reconciliation": (
        process_manager_pb2_grpc.add_ProcessManagerServiceServicer_to_server,
        lambda: ProcessManagerHandler(Reconciliation),
    ),
    "balances": (
        projector_pb2_grpc.add_ProjectorServiceServicer_to_server,
        lambda: balances,
    ),
}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ledger")
    parser.add_argument("component", choices=COMPONENTS)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    register, make = COMPONENTS[args.component]

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    register(make(), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)

    socket = os.environ.get("ANGZARR_SOCKET")
    if socket:
        if os.path.exists(socket):
            os.unlink(socket)
        address = "unix:" + os.path.abspath(socket)
    else:
        address = f"127.0.0.1:{args.port}"
    bound = server.add_insecure_port(address)
    if not socket and bound == 0:
        raise SystemExit(f"{args.component}: cannot listen on {address}")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    where = address if socket else f"127.0.0.1:{bound}"
    print(f"{args.component} listening on {where}", file=sys.stderr, flush=True)
    print("ready", flush=True)
    while not stop.wait(0.5):
        pass
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
