"""`turnout serve`: the store, instances, router, deployer and APIs of one process, wired."""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import signal
import socket
import time
from types import FrameType

import psutil
import sqlalchemy as sa
import uvicorn

from turnout.api.access_log import AccessLog
from turnout.api.app import App
from turnout.async_inference.objects import Objects
from turnout.async_inference.worker import AsyncWorker
from turnout.capture.hub import CaptureHub
from turnout.capture.upload import s3_upload
from turnout.capture.writer import CaptureWriter
from turnout.checks.gate import GreenFleetTests, loopback
from turnout.checks.spec import validate as validate_prediction_test
from turnout.deploy.agent import NodeAgent
from turnout.deploy.alarm_watch import AlarmWatch
from turnout.deploy.autoscaler import Autoscaler, Timing
from turnout.deploy.controller import Controller
from turnout.deploy.lease import Leadership
from turnout.deploy.plans import DesiredVariant
from turnout.deploy.scaling_service import ScalingService
from turnout.domain.async_inference import MAX_INPUT_BYTES
from turnout.domain.rollups import PERIOD
from turnout.domain.routing import RoutingSettings
from turnout.drift.monitor import DriftMonitor
from turnout.errors import StoreUnavailable
from turnout.experiments.exposures import ExposureLog
from turnout.experiments.routing import RoutingService
from turnout.experiments.service import ExperimentService, auto_promote
from turnout.experiments.store import ExperimentStore
from turnout.instances.backend import Instance
from turnout.instances.backends import make_backend
from turnout.metrics.flusher import Flusher
from turnout.models.s3 import S3Source
from turnout.monitoring import Monitoring
from turnout.routing.dispatch import Dispatcher
from turnout.routing.outliers import OutlierPolicy
from turnout.routing.router import Router, RouterLimits
from turnout.service import ControlPlane
from turnout.settings import Settings
from turnout.shadow.experiments import InferenceExperiments
from turnout.shadow.log import ComparisonLog
from turnout.shadow.store import ShadowStore
from turnout.store import SchemaTooNew, Store
from turnout.store.async_queue import AsyncQueue
from turnout.store.cluster import Channel, ClusterStore
from turnout.store.notices import NoticeListener

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
                cold_start_wait=settings.model_timeout,
                outliers=OutlierPolicy(
                    consecutive_failures=settings.outlier_failures,
                    latency_factor=settings.outlier_latency_factor,
                    base_ejection_time=settings.outlier_ejection_time,
                    max_ejection_percent=settings.outlier_max_ejection_percent,
                ),
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
        # through the node agent; exposures leave it through a batched log.
        experiment_store = ExperimentStore(self.store)
        self.routing = RoutingService(experiment_store, self.store)
        self.exposures = ExposureLog(experiment_store)
        self.router.exposures = self.exposures
        # Scale-out (ADR 0019): this node's agent applies the routing plans; the controller
        # writes them, on the one node that holds the controller lease.
        self.cluster = ClusterStore(self.store)
        self.node = settings.node or f"{socket.gethostname()}:{settings.port}"
        check_node_free(self.cluster, self.node)
        self.agent = NodeAgent(
            self.node,
            f"http://{settings.host}:{settings.port}",
            self.store,
            self.cluster,
            self.backend,
            settings.backend,
            self.router,
            drain_timeout=settings.model_timeout,
            routing=self.routing,
            serverless_idle=settings.serverless_idle,
        )
        self.controller = Controller(
            self.store,
            self.cluster,
            node_timeout=settings.lease_ttl,
            # Starting instances (bounded by the startup timeout), then draining old ones.
            apply_timeout=settings.startup_timeout + settings.model_timeout + 30.0,
            alarms=self.alarms,
            sole_node=None if self.cluster.shared else self.node,
            tests=GreenFleetTests(loopback(settings.host, settings.port), settings.credentials),
        )
        self.controller.on_plan = self.agent.wake
        # Autoscaling (ADR 0036): policies applied by the controller's node, through the
        # same path as UpdateEndpointWeightsAndCapacities.
        self.scaling = ScalingService(self.store)
        self.autoscaler = Autoscaler(
            self.store,
            self.monitoring.rollups_since,
            self._scale,
            Timing(
                settings.scaling_period,
                settings.scaling_out_datapoints,
                settings.scaling_in_datapoints,
            ),
        )
        self.autoscaler.on_activity = self.scaling.activity_counts.count
        # Drift monitoring (ADR 0041): captured traffic against baselines, on the lead node.
        self.drift = DriftMonitor(
            self.store, period=settings.monitor_period, window=settings.monitor_window
        )
        self.agent.on_report = self.controller.reported
        self.leadership = Leadership(
            self.cluster, self.node, settings.lease_ttl, self._lead, sole=not self.cluster.shared
        )
        self.control = ControlPlane(
            self.store, NodeDeployer(self), capture=self.capture, node_timeout=settings.lease_ttl,
            check_prediction_test=validate_prediction_test,
        )  # fmt: skip
        self.experiments = ExperimentService(experiment_store, self.control)
        # Shadow variants (ADR 0021): the mirror's answer pairs are tallied and stored here;
        # inference experiments move on with their endpoints on the controller's node.
        shadow_store = ShadowStore(self.store)
        self.inference_experiments = InferenceExperiments(shadow_store, self.control)
        self.comparisons = ComparisonLog(
            shadow_store, self.node, self.inference_experiments.tolerances
        )
        self.router.shadow_pairs = self.comparisons
        # Asynchronous inference (ADR 0031): every node works the queue in the store.
        self.async_queue = AsyncQueue(self.store)
        objects = Objects(s3, settings.data_dir / "async-spool", MAX_INPUT_BYTES)
        objects.clear_spool()  # before the event loop runs: blocking is fine here
        self.async_worker = AsyncWorker(
            self.store,
            self.async_queue,
            objects,
            Dispatcher(self.router),
            self.node,
            settings.lease_ttl,
        )
        self._notices: NoticeListener | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def _lead(self) -> None:
        """The controller's work, while this node holds the lease."""
        await asyncio.gather(
            self.controller.run(),
            self.alarms.run(),
            auto_promote(self.experiments),
            self._step_inference_experiments(),
            self.autoscaler.run(),
            self.drift.run(),
        )

    def _scale(self, endpoint: str, variant: str, count: int) -> None:
        """The autoscaler's change: UpdateEndpointWeightsAndCapacities' path (in a thread)."""
        self.control.update_endpoint_weights_and_capacities(
            endpoint, [DesiredVariant(variant, instance_count=count)]
        )

    async def _step_inference_experiments(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                await asyncio.to_thread(self.inference_experiments.step_all)
            except Exception as exc:  # a store hiccup: the next tick tries again
                log.warning("inference experiments: step failed (%s); will retry", exc)

    async def start(self) -> None:
        self.capture.writer.start()
        # Join the installation before answering anything: once this node answers, the
        # controller waits for it to apply each plan (the first heartbeat, bounded).
        try:
            await asyncio.wait_for(self.agent.send_report(), 10.0)
        except Exception as exc:  # the store is slow or down: the heartbeat tries again
            log.warning("node %s: first report failed (%s); will retry", self.node, exc)
        self._tasks = [
            asyncio.create_task(self.agent.run(), name="node agent"),
            asyncio.create_task(self.leadership.run(), name="controller lease"),
            asyncio.create_task(self.flusher.run(), name="metrics flusher"),
            asyncio.create_task(self.exposures.run(), name="exposure log"),
            asyncio.create_task(self.comparisons.run(), name="shadow comparisons"),
            asyncio.create_task(self.async_worker.run(), name="async inference"),
        ]
        if self.cluster.shared:
            self._notices = NoticeListener(
                self.store.database.engine.url, list(Channel), self._on_notice
            )
            self._notices.start()
        loop = asyncio.get_running_loop()

        # PUT .../routing runs in a worker thread; the router belongs to the event loop.
        # Other nodes pick the change up from the store at their agent's next look.
        def apply_routing(endpoint: str, settings: RoutingSettings) -> None:
            loop.call_soon_threadsafe(self.router.set_routing, endpoint, settings)
            self.cluster.notify(Channel.PLANS, endpoint)

        self.routing.apply = apply_routing

    def _on_notice(self, channel: Channel, payload: str) -> None:
        """A store notice (from the listener's thread): wake whoever acts on it."""
        if channel is Channel.PLANS:
            self.agent.wake(payload)
        elif channel is Channel.NODES:
            self.controller.reported()
        else:
            self.controller.wake(payload or None)

    async def stop(self) -> None:
        """Stop leading and applying plans, then stop instances; desired state stays stored."""
        if self._notices is not None:
            await asyncio.to_thread(self._notices.close)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.async_worker.close()
        await self.flusher.close()  # the counts since the last period boundary
        await self.exposures.close()
        await self.comparisons.close()
        await self.agent.close()
        await self.backend.close()
        self.router.close()
        await asyncio.to_thread(self.capture.close)  # what was sampled, written (bounded)
        self.store.close()


class NodeDeployer:
    """What the service layer calls after recording desired state: the controller (here, or
    on another node through a store notice) looks at once; instances are this node's."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def wake(self, endpoint: str) -> None:
        self._runtime.controller.wake(endpoint)
        self._runtime.cluster.notify(Channel.CHANGES, endpoint)

    def instances(self, endpoint: str) -> list[Instance]:
        return list(self._runtime.agent.instances(endpoint))


# A node whose heartbeat is this recent may be running: another process may not take its
# name, unless it ran on this host under a pid that is gone (restarted after kill -9).
NODE_BUSY_WITHIN = 3.0


def check_node_free(cluster: ClusterStore, name: str) -> None:
    """ServeError if a running node has this name."""
    now = time.time()
    for node in cluster.nodes():
        if node.name != name or now - node.heartbeat_at >= NODE_BUSY_WITHIN:
            continue
        report = node.report
        if report.host == socket.gethostname() and not psutil.pid_exists(report.pid):
            continue
        raise ServeError(
            f"node {name} is already running (it reported {now - node.heartbeat_at:.1f} s "
            "ago); give this one another name with --node"
        )


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
    except StoreUnavailable as exc:
        raise ServeError(f"cannot open the store at {url}: {exc.reason}; check --db") from None


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
    app = App(runtime)
    access_log = AccessLog(app) if settings.access_log else None
    config = uvicorn.Config(
        access_log or app,
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
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if access_log is not None:
            access_log.close()


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
