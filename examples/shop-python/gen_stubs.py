"""Generates the Python stubs of the angzarr wire contract and the shop's
messages into OUT_DIR:

    python3 examples/shop-python/gen_stubs.py OUT_DIR
    PYTHONPATH=OUT_DIR:examples/shop-python python3 -m shop_services cart

It runs, from the repository's proto directories wherever it is invoked:

    python3 -m grpc_tools.protoc -I proto -I examples/shop/proto \\
        --python_out=OUT_DIR --grpc_python_out=OUT_DIR \\
        angzarr/types.proto angzarr/business.proto shop/shop.proto
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shop_services import stubs  # noqa: E402


def main():
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    stubs.generate(sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
