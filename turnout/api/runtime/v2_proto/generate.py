"""Regenerate the Python modules of grpc_predict_v2.proto (needs grpcio-tools, a test extra).

    python -m turnout.api.runtime.v2_proto.generate

One change to protoc's output: the messages go into a descriptor pool of their own instead
of protobuf's default pool. Package `inference` is what every v2 client puts on the wire, and
other modules define it too (tritonclient.grpc, KServe, MLServer); in the default pool the
second one imported fails with "duplicate symbol". tests/api/runtime/test_v2_proto.py
checks that the committed modules are what this produces.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]  # the folder that holds the `turnout` package
PROTO = HERE / "grpc_predict_v2.proto"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")

_DEFAULT_POOL = "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile("
_OWN_POOL = (
    "# turnout: a pool of its own, so another module of package `inference` can load too.\n"
    "_POOL = _descriptor_pool.DescriptorPool()\n"
    "DESCRIPTOR = _POOL.AddSerializedFile("
)


def generate(out_dir: Path) -> list[Path]:
    """Write the modules into `out_dir`; returns their paths."""
    from grpc_tools import protoc  # type: ignore[import-untyped]  # test extra only

    with tempfile.TemporaryDirectory() as scratch:
        args = [
            "grpc_tools.protoc",
            f"-I{ROOT}",
            f"--python_out={scratch}",
            f"--pyi_out={scratch}",
            f"--grpc_python_out={scratch}",
            str(PROTO.relative_to(ROOT)),
        ]
        if protoc.main(args) != 0:
            raise RuntimeError(f"protoc failed on {PROTO}")
        made = Path(scratch) / PROTO.parent.relative_to(ROOT)
        written = []
        for suffix in SUFFIXES:
            name = PROTO.stem + suffix
            text = (made / name).read_text()
            if suffix == "_pb2.py":
                if _DEFAULT_POOL not in text:
                    raise RuntimeError("protoc's output changed: no default-pool line to replace")
                text = text.replace(_DEFAULT_POOL, _OWN_POOL)
            target = out_dir / name
            target.write_text(text)
            written.append(target)
        return written


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        for path in generate(Path(scratch)):
            shutil.copyfile(path, HERE / path.name)
            print(f"wrote {HERE / path.name}", file=sys.stderr)


if __name__ == "__main__":
    main()
