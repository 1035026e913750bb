"""`turnout serve`: the store, instances, router, deployer and APIs of one process, wired."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import signal
import socket
from types import FrameType

import sqlalchemy as sa
import uvicorn

from turnout.api.app import App
from turnout.capture.hub import CaptureHub
from turnout.capture.upload import s3_upload
from turnout.capture.writer import CaptureWriter
from turnout.deploy.alarm_watch import AlarmWatch
from turnout.deploy.reconciler import Reconciler
from turnout.domain.rollups import PERIOD
from turnout.experiments.exposures import ExposureLog
from turnout.experiments.routing import RoutingService, RoutingSync
from turnout.experiments.service import ExperimentService, auto_promote
from turnout.experiments.store import ExperimentStore
from turnout.instances.backends import make_backend
from turnout.metrics.flusher import Flusher
from turnout.models.s3 import S3Source
from turnout.monitoring import Monitoring
from turnout.routing.router import Router, RouterLimits
from turnout.service import ControlPlane
from turnout.settings import Settings
from turnout.store import SchemaTooNew, Store

log = logging.getLogger("turnout.server")


class ServeError(Exception):
    """turnout serve cannot start; str is a one-line reason with what to do."""


class Runtime:
    """Everything one `turnout serve` runs, in start-up order."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = open_store(settings.database_url)
        s3 = S3Source.from_env(settings.s3_endpoint_url, settings.region)
        self.capture = CaptureHub(
            CaptureWriter(upload=s3_upload(s3)),
            settings.data_dir / "capture-staging",
        )
        self.router = Router(
            RouterLimits(
                model_timeout=settings.model_timeout,
                max_payload_bytes=settings.max_payload_bytes,
                max_concurrency=settings.max_concurrency,
                instance_wait=settings.instance_wait,
            ),
            settings.account_id,
            self.capture,
        )
        self.backend = make_backend(settings, s3)
        self.flusher = Flusher(
            self.router,
            self.store,
            retention=settings.metrics_retention,
            grace=settings.model_timeout + PERIOD,
        )
        self.alarms = AlarmWatch(self.store, self.flusher)
        self.monitoring = Monitoring(self.store, self.flusher)
        # Sticky canaries and experiments (ADR 0013): routing settings reach the router
        # through the reconciler; exposures leave it through a batched log.
        experiment_store = ExperimentStore(self.store)
        self.routing = RoutingService(experiment_store, self.store)
        self.exposures = ExposureLog(experiment_store)
        self.router.exposures = self.exposures
        self.reconciler = Reconciler(
            self.store,
            self.backend,
            self.router,
            drain_timeout=settings.model_timeout,
            alarms=self.alarms,
            routing=RoutingSync(self.routing, self.router),
        )
        self.control = ControlPlane(self.store, self.reconciler, capture=self.capture)
        self.experiments = ExperimentService(experiment_store, self.control)
        self._loop_task: asyncio.Task[None] | None = None
        self._metric_tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.capture.writer.start()
        self._loop_task = asyncio.create_task(self.reconciler.run(), name="reconciler")
        self._metric_tasks = [
            asyncio.create_task(self.flusher.run(), name="metrics flusher"),
            asyncio.create_task(self.alarms.run(), name="alarm evaluator"),
            asyncio.create_task(self.exposures.run(), name="exposure log"),
            asyncio.create_task(auto_promote(self.experiments), name="experiment promoter"),
        ]
        loop = asyncio.get_running_loop()
        # PUT .../routing runs in a worker thread; the router belongs to the event loop.
        self.routing.apply = lambda endpoint, settings: loop.call_soon_threadsafe(
            self.router.set_routing, endpoint, settings
        )

    async def stop(self) -> None:
        """Stop deploying, then stop instances; the desired state stays in the store."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in self._metric_tasks:
            task.cancel()
        await asyncio.gather(*self._metric_tasks, return_exceptions=True)
        await self.flusher.close()  # the counts since the last period boundary
        await self.exposures.close()
        await self.reconciler.close()
        await self.backend.close()
        self.router.close()
        await asyncio.to_thread(self.capture.close)  # what was sampled, written (bounded)
        self.store.close()


def open_store(url: str) -> Store:
    """The store at `url`, migrated; or a ServeError that names the problem."""
    try:
        return Store.open(url)
    except SchemaTooNew as exc:
        raise ServeError(f"{exc}; upgrade turnout or use another --db") from None
    except (ValueError, sa.exc.ArgumentError) as exc:
        raise ServeError(f"bad --db URL {url!r}: {exc}") from None
    except sa.exc.OperationalError as exc:
        reason = " ".join(str(exc.orig).split())
        raise ServeError(f"cannot open the store at {url}: {reason}; check --db") from None


def bind(host: str, port: int, option: str = "--port") -> socket.socket:
    """The listening socket, or a ServeError that says what to do (pass `option`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"port {port} on {host} is in use; stop what uses it or pass {option}"
            ) from None
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    return sock


def serve(settings: Settings, sock: socket.socket) -> None:
    """Run until SIGINT/SIGTERM; then finish requests in flight and stop instances."""
    runtime = Runtime(settings)
    config = uvicorn.Config(
        App(runtime),
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level="warning",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=math.ceil(settings.model_timeout),
    )
    # uvicorn drains on SIGTERM/SIGINT, then re-raises the signal under the handler it found:
    # make that a clean exit 0, so a graceful stop does not look like death by signal.
    signal.signal(signal.SIGTERM, _exit_quietly)
    signal.signal(signal.SIGINT, _exit_quietly)
    uvicorn.Server(config).run(sockets=[sock])


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
