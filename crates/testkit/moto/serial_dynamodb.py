"""moto server whose DynamoDB requests are applied one at a time.

moto serves requests on threads, and its DynamoDB backend does not make a
conditional write atomic: two concurrent `PutItem`s with
`attribute_not_exists` on one key can both succeed (see
crates/testkit/README.md). Real DynamoDB never lets that happen, so the
store tests would fail on moto's race, or, worse, pass over a race of ours.

This launcher runs moto's own WSGI application on werkzeug's threaded server
(as `moto_server` does) and holds one lock around every DynamoDB request:
the ones whose `X-Amz-Target` names a DynamoDB operation. Every other
service stays concurrent, so an SQS long poll does not block the rest.

usage: python3 serial_dynamodb.py [-H HOST] [-p PORT]
"""

import argparse
import os
import signal
import sys
import threading

try:
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple
except ImportError as error:
    print(
        f"moto is not installed for {sys.executable}: {error}; "
        "install it with `python3 -m pip install 'moto[server]'`",
        file=sys.stderr,
    )
    # The testkit reads 127 as "not installed", like a shell does.
    sys.exit(127)

# `DynamoDB_20120810.PutItem`, and the streams API `DynamoDBStreams_20120810.*`.
SERIAL_TARGET_PREFIX = "DynamoDB"


class SerialDynamoDB:
    """WSGI middleware: DynamoDB requests run under one lock, to the last
    byte of their answer; the rest pass straight through."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith(SERIAL_TARGET_PREFIX):
            return self.app(environ, start_response)
        with self.lock:
            body = self.app(environ, start_response)
            try:
                # The write may happen while the body is produced: finish it
                # under the lock.
                return [b"".join(body)]
            finally:
                close = getattr(body, "close", None)
                if close is not None:
                    close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()

    # As `moto_server` does: moto builds some URLs (SQS queue URLs, ...) from it.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as `moto_server` sets it
    run_simple(args.host, args.port, SerialDynamoDB(app), threaded=True)


if __name__ == "__main__":
    main()
