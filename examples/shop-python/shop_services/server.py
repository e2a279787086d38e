"""Serves one shop component over gRPC.

    python3 -m shop_services COMPONENT [--port N] [--host H]

Listens on the Unix socket at $ANGZARR_SOCKET when it is set (a host that
starts the component as a child process sets it), else on --host:--port
(127.0.0.1 and the component's default port). Prints one line `ready` on
stdout once serving; stops on SIGTERM or SIGINT. Every server also answers
the standard health service (`grpc.health.v1.Health`), SERVING for "" and
for the component's service name.
"""

import argparse
import os
import signal
import stat
import sys
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from . import cart, fulfillment, order, sagas, summary
from .common import business_pb2, business_pb2_grpc

_AGGREGATE = "CommandHandlerService"
_SAGA = "SagaService"
_PROJECTOR = "ProjectorService"

# component -> (service, default port, servicer factory, what it is)
COMPONENTS = {
    "cart": (_AGGREGATE, 50051, lambda: cart.cart, "the cart aggregate (domain `cart`)"),
    "order": (_AGGREGATE, 50052, lambda: order.order, "the order aggregate (domain `order`)"),
    "fulfillment": (
        _AGGREGATE,
        50053,
        lambda: fulfillment.fulfillment,
        "the fulfillment aggregate (domain `fulfillment`)",
    ),
    "checkout": (_SAGA, 50054, lambda: sagas.checkout, "saga `checkout`: cart -> order"),
    "fulfillment-saga": (
        _SAGA,
        50055,
        lambda: sagas.shipping,
        "saga `fulfillment`: order -> fulfillment",
    ),
    "order-summary": (
        _PROJECTOR,
        50056,
        summary.from_environment,
        "projector `order-summary` (reads order, fulfillment; needs SHOP_SUMMARY_DIR)",
    ),
}

_ADD = {
    _AGGREGATE: business_pb2_grpc.add_CommandHandlerServiceServicer_to_server,
    _SAGA: business_pb2_grpc.add_SagaServiceServicer_to_server,
    _PROJECTOR: business_pb2_grpc.add_ProjectorServiceServicer_to_server,
}


def _arguments(argv):
    parser = argparse.ArgumentParser(
        prog="python3 -m shop_services",
        description="Serves one component of the angzarr shop over gRPC.",
        epilog="components: "
        + "; ".join(f"{name}: {entry[3]} (port {entry[1]})" for name, entry in COMPONENTS.items())
        + ". With ANGZARR_SOCKET set, listens on that Unix socket instead of host:port.",
    )
    parser.add_argument("component", choices=COMPONENTS)
    parser.add_argument("--port", type=int, help="TCP port (default: the component's)")
    parser.add_argument("--host", default="127.0.0.1", help="TCP address (default: 127.0.0.1)")
    return parser.parse_args(argv)


def _remove_stale_socket(path):
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass


def main(argv=None):
    args = _arguments(argv)
    service, default_port, make, _ = COMPONENTS[args.component]
    servicer = make()  # may refuse to start (order-summary without its dir)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    _ADD[service](servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    full_name = business_pb2.DESCRIPTOR.services_by_name[service].full_name
    for name in ("", full_name):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    socket = os.environ.get("ANGZARR_SOCKET")
    if socket:
        _remove_stale_socket(socket)
        address = "unix:" + os.path.abspath(socket)
    else:
        port = default_port if args.port is None else args.port
        address = f"{args.host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as error:
        raise SystemExit(f"{args.component}: cannot listen on {address}: {error}") from None
    if not socket and bound == 0:
        raise SystemExit(f"{args.component}: cannot listen on {address}")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    where = address if socket else f"{args.host}:{bound}"
    print(f"{args.component} ({full_name}) listening on {where}", file=sys.stderr, flush=True)
    print("ready", flush=True)
    while not stop.wait(0.5):
        pass
    health_servicer.enter_graceful_shutdown()
    server.stop(grace=5).wait()
    if socket:
        _remove_stale_socket(socket)
    return 0
