"""How an instance's process is run, wherever it runs: the artifact readied on this machine,
then turnout's worker or the model's own program (the command flavor) at an address.

Shared by the local backend (child processes of `turnout serve`) and the Ray backend (child
processes of a Ray actor on some node): the same command line and environment either way.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from turnout.domain.pipeline import describe_step
from turnout.instances.backend import Address, InstanceSpec
from turnout.instances.lifeline import PARENT_VARIABLE
from turnout.instances.supervisor import Launch
from turnout.models.artifact import prepare
from turnout.models.errors import ArtifactError
from turnout.models.flavors.command import NAME as COMMAND
from turnout.models.s3 import S3Source, localize
from turnout.models.submit import localize_code

BIND_HOST_VARIABLE = "TURNOUT_BIND_HOST"


def launcher(
    spec: InstanceSpec, data_dir: Path, s3: S3Source, max_payload_bytes: int
) -> Callable[[Address], Launch]:
    """Ready the artifact under `data_dir` (blocking: call it in a thread) and give the process
    to run at an address. The process dies with the one calling this (the parent-death
    signal names our pid), so call it in the process that will spawn the instance."""
    if spec.model.multi_model:
        return _multi_model_worker(spec, data_dir, s3, max_payload_bytes)
    if spec.model.pipeline:
        return _pipeline_worker(spec, data_dir, s3, max_payload_bytes)
    model = localize(spec.model, data_dir / "downloads", s3)  # s3:// artifacts, as fetched
    code = localize_code(model, data_dir / "downloads", s3)  # SAGEMAKER_SUBMIT_DIRECTORY
    prepared = prepare(model, data_dir / "models", code)
    env = {
        "PYTHONUNBUFFERED": "1",  # a print reaches the log (and CloudWatch Logs) at once
        **os.environ,
        **spec.model.environment,
        "SM_MODEL_DIR": str(prepared.path),
        "TURNOUT_INSTANCE": spec.id,
        PARENT_VARIABLE: str(os.getpid()),
    }
    if prepared.flavor == COMMAND:
        program = list(spec.model.command or [str(prepared.path / "serve")])

        def command_at(address: Address) -> Launch:
            return Launch(
                argv=[sys.executable, "-m", "turnout.instances.launch", "--", *program],
                # SageMaker's convention names the port only; off this machine (Ray) the
                # program must listen on the node's address, not just on loopback.
                env={
                    **env,
                    "SAGEMAKER_BIND_TO_PORT": str(address.port),
                    BIND_HOST_VARIABLE: str(address.host),
                },
                cwd=prepared.path,
            )

        return command_at

    def worker_at(address: Address) -> Launch:
        argv = [
            sys.executable, "-m", "turnout.instances.worker",
            "--model-dir", str(prepared.path), "--flavor", prepared.flavor,
            "--bind", str(address), "--max-payload-bytes", str(max_payload_bytes),
        ]  # fmt: skip
        return Launch(argv=argv, env=env, cwd=prepared.path)

    return worker_at


def _pipeline_worker(
    spec: InstanceSpec, data_dir: Path, s3: S3Source, max_payload_bytes: int
) -> Callable[[Address], Launch]:
    """An inference pipeline: every container readied here, all loaded in one worker
    (ADR 0039); each container's environment travels in the spec file, not the process's."""
    steps = []
    for index, container in enumerate(spec.model.containers):
        step = spec.model.step(index)
        which = describe_step(index, container.label(index))
        try:
            local = localize(step, data_dir / "downloads", s3)
            code = localize_code(step, data_dir / "downloads", s3)
            prepared = prepare(local, data_dir / "models", code)
        except ArtifactError as err:
            raise ArtifactError(f"{which}: {err}") from err
        if prepared.flavor == COMMAND:
            raise ArtifactError(
                f"{which}: a pipeline's containers run in turnout's worker; a model serving "
                "itself (code/serve) cannot be a step"
            )
        steps.append(
            {
                "name": container.label(index),
                "dir": str(prepared.path),
                "flavor": prepared.flavor,
                "environment": dict(container.environment),
            }
        )
    pipelines = data_dir / "pipelines"
    pipelines.mkdir(parents=True, exist_ok=True)
    spec_file = pipelines / f"{spec.id.replace('/', '_')}.json"
    spec_file.write_text(json.dumps(steps))
    return _worker(spec, {}, ["--pipeline", str(spec_file)], max_payload_bytes, data_dir)


def _multi_model_worker(
    spec: InstanceSpec, data_dir: Path, s3: S3Source, max_payload_bytes: int
) -> Callable[[Address], Launch]:
    """A multi-model instance: turnout's worker fetches each model itself (ADR 0037)."""
    cache = data_dir / "multi-model" / spec.id.replace("/", "_")
    options = ["--multi-model", spec.model.artifact, "--cache-dir", str(cache),
               "--s3-region", s3.region]  # fmt: skip
    if s3.endpoint_url:
        options += ["--s3-endpoint-url", s3.endpoint_url]
    return _worker(spec, spec.model.environment, options, max_payload_bytes, data_dir)


def _worker(
    spec: InstanceSpec,
    environment: Mapping[str, str],
    options: list[str],
    max_payload_bytes: int,
    cwd: Path,
) -> Callable[[Address], Launch]:
    """turnout's worker with these options, at an address."""
    env = {
        "PYTHONUNBUFFERED": "1",
        **os.environ,
        **environment,
        "TURNOUT_INSTANCE": spec.id,
        PARENT_VARIABLE: str(os.getpid()),
    }

    def worker_at(address: Address) -> Launch:
        argv = [
            sys.executable, "-m", "turnout.instances.worker", *options,
            "--bind", str(address), "--max-payload-bytes", str(max_payload_bytes),
        ]  # fmt: skip
        return Launch(argv=argv, env=env, cwd=cwd)

    return worker_at


def log_path(logs_dir: Path, spec: InstanceSpec) -> Path:
    return logs_dir / spec.endpoint / spec.fleet / f"{spec.variant}-{spec.index}.log"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` free right now (the program binds it moments later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def free_address(host: str = "127.0.0.1") -> Address:
    return Address.tcp(host, free_port(host))
