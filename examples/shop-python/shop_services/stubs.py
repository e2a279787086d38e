"""Generating and finding the Python stubs of the wire contract.

The stubs are never committed: they are generated from the repository's
protos with grpcio-tools, either ahead of time (`gen_stubs.py OUT_DIR`, then
`PYTHONPATH=OUT_DIR:examples/shop-python`) or, by `ensure()`, on first use
into a cache directory under the system temp dir.
"""

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# shop_services/stubs.py -> shop_services -> shop-python -> examples -> repo
REPO = Path(__file__).resolve().parents[3]
INCLUDES = [REPO / "proto", REPO / "examples" / "shop" / "proto"]
# business.proto imports only types.proto (plus google/protobuf, which
# grpc_tools.protoc ships); shop.proto imports nothing.
PROTOS = ["angzarr/types.proto", "angzarr/business.proto", "shop/shop.proto"]


def generate(out_dir):
    """Runs grpc_tools.protoc over PROTOS into `out_dir` (created if missing)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for proto in PROTOS:
        if not any((include / proto).is_file() for include in INCLUDES):
            raise SystemExit(f"{proto} not found under {', '.join(map(str, INCLUDES))}")
    command = [sys.executable, "-m", "grpc_tools.protoc"]
    command += [f"-I{include}" for include in INCLUDES]
    command += [f"--python_out={out_dir}", f"--grpc_python_out={out_dir}", *PROTOS]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(
            "generating the stubs failed (is grpcio-tools installed? "
            f"`python3 -m pip install -r {REPO / 'examples/shop-python/requirements.txt'}`):\n"
            + result.stderr
        )


def _importable():
    try:
        import angzarr.business_pb2_grpc  # noqa: F401
        import angzarr.types_pb2  # noqa: F401
        import shop.shop_pb2  # noqa: F401
    except ImportError:
        return False
    return True


def _cache_dir():
    """The temp cache for the current protos and grpcio-tools version."""
    digest = hashlib.sha256()
    try:
        from importlib.metadata import version

        digest.update(version("grpcio-tools").encode())
    except Exception:  # no metadata: the protos alone decide
        pass
    for proto in PROTOS:
        for include in INCLUDES:
            if (include / proto).is_file():
                digest.update(proto.encode() + b"\0" + (include / proto).read_bytes())
    return Path(tempfile.gettempdir()) / f"angzarr-py-stubs-{digest.hexdigest()[:16]}"


def ensure():
    """Makes `angzarr.*_pb2` and `shop.shop_pb2` importable.

    Already importable: nothing to do. Else `ANGZARR_PY_STUBS`, when set,
    names the directory holding them. Else they are generated once into a
    cache directory (keyed by a hash of the protos), built aside and renamed
    into place so processes starting together never see half a directory.
    """
    if _importable():
        return
    given = os.environ.get("ANGZARR_PY_STUBS")
    if given:
        sys.path.insert(0, given)
        importlib.invalidate_caches()
        if not _importable():
            raise SystemExit(
                f"ANGZARR_PY_STUBS={given} holds no stubs: "
                f"run `python3 {REPO / 'examples/shop-python/gen_stubs.py'} {given}`"
            )
        return
    cache = _cache_dir()
    if not (cache / "shop" / "shop_pb2.py").is_file():
        building = Path(tempfile.mkdtemp(prefix=cache.name + ".", dir=cache.parent))
        try:
            generate(building)
            try:
                os.rename(building, cache)
            except OSError:
                pass  # another process renamed its copy first: use that one
        finally:
            shutil.rmtree(building, ignore_errors=True)  # gone after a rename
    sys.path.insert(0, str(cache))
    importlib.invalidate_caches()
    if not _importable():
        raise SystemExit(f"the generated stubs in {cache} cannot be imported")
