"""An instance process: loads one model and serves it (turnout.instances.server).

    python -m turnout.instances.worker --model-dir DIR --flavor NAME \\
        --bind unix:/path.sock|tcp:127.0.0.1:PORT [--max-payload-bytes N]
    python -m turnout.instances.worker --multi-model PREFIX --cache-dir DIR --bind ADDRESS \\
        [--s3-endpoint-url URL] [--s3-region REGION]

With --pipeline SPEC (a JSON list of {"name", "dir", "flavor", "environment"}) the instance
serves an inference pipeline (ADR 0039): every container's model loads in this process and
each request runs through them in a row.

With --multi-model the instance serves a multi-model endpoint (ADR 0037): the models under
PREFIX load on demand into DIR, within TURNOUT_MODEL_CACHE_MB megabytes (default
1024) of memory, least recently used out first (with TURNOUT_MODEL_CACHE_SETTING=Disabled,
SageMaker's ModelCacheSetting, only the model used last stays loaded).

The model's environment is this process's environment (e.g. SAGEMAKER_PROGRAM,
TURNOUT_SKLEARN_METHOD, TURNOUT_MAX_BATCH_SIZE). The model loads before the address is
bound, so `/ping` answers 200 as soon as it answers at all. A model that cannot load prints
one line, `turnout worker: cannot load model: <reason>`, and exits with status 3.

The server is a raw ASGI callable on uvicorn (uvloop + httptools). SIGTERM drains
in-flight requests and exits 0.

The worker dies with its parent (see `turnout.instances.lifeline`): a `kill -9` of turnout
serve leaves no orphaned instances.
"""

from __future__ import annotations

# Only light imports at module level (numpy, the model's framework and uvicorn load later),
# so that the parent-death check runs early.
import argparse
import os
import signal
import stat
import sys
import traceback
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from turnout.instances.backend import WORKER_KEEP_ALIVE, Address
from turnout.instances.lifeline import die_with_parent
from turnout.settings import MAX_PAYLOAD_BYTES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from turnout.instances.multi_model_server import MultiModelApp
    from turnout.instances.server import InstanceApp
    from turnout.models.runtime import LoadedModel

LOAD_FAILED = 3
PREFIX = "turnout worker: "
CACHE_MB_VARIABLE = "TURNOUT_MODEL_CACHE_MB"
CACHE_SETTING_VARIABLE = "TURNOUT_MODEL_CACHE_SETTING"  # set from MultiModelConfig
DEFAULT_CACHE_MB = 1024.0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m turnout.instances.worker",
        description="Serve one model's /ping and /invocations.",
    )
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--flavor", help="a flavor turnout's worker loads")
    parser.add_argument("--multi-model", metavar="PREFIX", help="serve the models under PREFIX")
    parser.add_argument("--pipeline", type=Path, metavar="SPEC", help="serve a pipeline's steps")
    parser.add_argument("--cache-dir", type=Path, help="where --multi-model unpacks models")
    parser.add_argument("--s3-endpoint-url", help="S3-compatible store of an s3:// PREFIX")
    parser.add_argument("--s3-region", default="us-east-1")
    parser.add_argument("--bind", required=True, type=Address.parse, metavar="ADDRESS")
    parser.add_argument("--max-payload-bytes", type=int, default=MAX_PAYLOAD_BYTES)
    args = parser.parse_args(argv)
    if args.max_payload_bytes <= 0:
        parser.error("--max-payload-bytes must be positive")
    if (
        args.multi_model is None
        and args.pipeline is None
        and (args.model_dir is None or args.flavor is None)
    ):
        parser.error("give --model-dir and --flavor, --pipeline, or --multi-model and --cache-dir")
    if args.multi_model is not None and args.cache_dir is None:
        parser.error("--multi-model needs --cache-dir")
    return args


def _load_one(model_dir: Path, flavor: str, environment: Mapping[str, str]) -> LoadedModel:
    from turnout.models import registry
    from turnout.models.errors import ModelLoadError
    from turnout.models.requirements import check_requirements

    for warning in check_requirements(model_dir):
        print(f"{PREFIX}warning: {warning}", file=sys.stderr)
    try:
        load = registry.get(flavor).load
    except KeyError:
        raise ModelLoadError(f"turnout knows no flavor {flavor!r}") from None
    if load is None:
        raise ModelLoadError(f"flavor {flavor!r} is not served by turnout's worker")
    return load(model_dir, environment)


def _load_pipeline(spec: Path) -> LoadedModel:
    """Every step of a pipeline, loaded in order; a step that cannot load is named."""
    import json

    from turnout.domain.pipeline import describe_step
    from turnout.models import pipeline
    from turnout.models.errors import ModelLoadError

    steps = []
    for index, item in enumerate(json.loads(spec.read_text())):
        environment = {**os.environ, **item["environment"], "SM_MODEL_DIR": item["dir"]}
        try:
            model = _load_one(Path(item["dir"]), item["flavor"], environment)
        except ModelLoadError as err:
            raise ModelLoadError(f"{describe_step(index, item['name'])}: {err}") from err
        steps.append(pipeline.Step(item["name"], model))
    return pipeline.loaded(steps)


def _load(
    model_dir: Path | None, flavor: str | None, pipeline: Path | None, max_payload_bytes: int
) -> InstanceApp:
    """Load the model or exit(3) with one line (a traceback too if TURNOUT_DEBUG=1)."""
    from turnout.instances.server import InstanceApp
    from turnout.models.batching import BatchPolicy
    from turnout.models.errors import ModelLoadError

    try:
        if pipeline is not None:
            loaded = _load_pipeline(pipeline)
        else:
            assert model_dir is not None and flavor is not None  # checked by _parse
            loaded = _load_one(model_dir, flavor, os.environ)
        policy = BatchPolicy.of(os.environ, loaded.batchable)
        app = InstanceApp(loaded, policy, max_payload_bytes)
    except (Exception, SystemExit) as err:
        if os.environ.get("TURNOUT_DEBUG") == "1":
            traceback.print_exc()
        reason = str(err) if isinstance(err, ModelLoadError) else f"{type(err).__name__}: {err}"
        print(f"{PREFIX}cannot load model: {reason}", file=sys.stderr, flush=True)
        sys.exit(LOAD_FAILED)
    what = f"pipeline in {pipeline}" if pipeline is not None else f"{flavor} model in {model_dir}"
    print(f"{PREFIX}loaded the {what}", flush=True)
    return app


def _load_multi(args: argparse.Namespace) -> MultiModelApp:
    """The multi-model server, or exit(3) with one line when its settings are bad."""
    import shutil

    from turnout.instances.multi_model_server import MultiModelApp, budget_of
    from turnout.models.multi_model import ModelSource
    from turnout.models.s3 import S3Source

    try:
        budget = budget_of(os.environ.get(CACHE_MB_VARIABLE), DEFAULT_CACHE_MB)
        if os.environ.get(CACHE_SETTING_VARIABLE) == "Disabled":
            budget = 1  # MultiModelConfig.ModelCacheSetting Disabled: the last model only
        shutil.rmtree(args.cache_dir, ignore_errors=True)  # ours alone: a restart starts empty
        args.cache_dir.mkdir(parents=True)
        source = ModelSource(
            args.multi_model,
            args.cache_dir,
            S3Source.from_env(args.s3_endpoint_url, args.s3_region),
        )
        app = MultiModelApp(source, budget, dict(os.environ), args.max_payload_bytes)
    except (Exception, SystemExit) as err:
        print(f"{PREFIX}cannot serve the models under {args.multi_model}: {err}", file=sys.stderr)
        sys.exit(LOAD_FAILED)
    print(f"{PREFIX}serving the models under {args.multi_model} ({budget} bytes)", flush=True)
    return app


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(app: InstanceApp | MultiModelApp, address: Address) -> None:
    """Serve until SIGTERM/SIGINT, then finish in-flight requests and return."""
    import importlib.util

    import uvicorn

    if address.path is not None:
        try:
            if stat.S_ISSOCK(os.stat(address.path).st_mode):
                os.unlink(address.path)  # left behind by a killed predecessor
        except FileNotFoundError:
            pass
    config = uvicorn.Config(
        app,
        uds=address.path,
        host=address.host or "127.0.0.1",
        port=address.port or 0,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "auto",
        http="httptools" if importlib.util.find_spec("httptools") else "auto",
        interface="asgi3",
        lifespan="off",
        ws="none",
        proxy_headers=False,  # else uvicorn wraps the app in a middleware
        server_header=False,
        access_log=False,
        log_level="warning",
        # The router pools keep-alive connections; don't drop them when idle.
        timeout_keep_alive=WORKER_KEEP_ALIVE,
    )
    # uvicorn drains on SIGTERM/SIGINT, then re-raises the signal under the handler it
    # found: make that handler a clean exit 0 instead of death by signal.
    signal.signal(signal.SIGTERM, _exit_quietly)
    signal.signal(signal.SIGINT, _exit_quietly)
    print(f"{PREFIX}serving /ping and /invocations on {address}", flush=True)
    uvicorn.Server(config).run()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    die_with_parent()
    app: InstanceApp | MultiModelApp
    if args.multi_model is not None:
        app = _load_multi(args)
    else:
        app = _load(args.model_dir, args.flavor, args.pipeline, args.max_payload_bytes)
    try:
        serve(app, args.bind)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
