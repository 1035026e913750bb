"""Protocol-neutral dispatch: choose a variant, forward to one of its instances, report.

A protocol adapter (turnout.api.runtime) turns a request into an `Invocation`, and the
`Outcome` or `DispatchError` back into its protocol's bytes. Everything in between happens
here, knowing no protocol: admission, the variant choice (TargetVariant, targeting rules,
sticky users, weights), the instance choice (fewest requests in flight), forwarding with
its retry and bounded waits, and after the answer the outcome hooks (metrics, exposures,
data capture, shadow mirroring). The hot path: no store access, no allocation storms.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from enum import StrEnum
from random import random
from time import perf_counter

from turnout.domain.pipeline import TIMINGS_HEADER, parse_timings
from turnout.domain.routing import MAX_KEY_LENGTH
from turnout.routing.affinity import rendezvous
from turnout.routing.choice import least_outstanding
from turnout.routing.invocation import INFERENCE_ID, Invocation, offer_capture
from turnout.routing.keys import new_user_id
from turnout.routing.outliers import fail, sweep
from turnout.routing.router import Router
from turnout.routing.shadow import Answer, Mirror
from turnout.routing.switch import (
    CUSTOM_ATTRIBUTES,
    TARGET_ENDPOINT_HEADER,
    TARGET_VARIANT_HEADER,
    HookBusy,
    HookError,
    HookRunner,
    HookTimeout,
    Request,
    checked,
    hook_limits,
    relayed_of,
    request_of,
)
from turnout.routing.switch import (
    Answer as SwitchAnswer,
)
from turnout.routing.table import EndpointRoute, Upstream, VariantRoute
from turnout.routing.upstream import (
    BodyStream,
    UpstreamClosed,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamResponse,
    UpstreamTimeout,
    request_head,
)

BATCH_SIZE_HEADER = b"x-turnout-batch-size"  # set by turnout's worker on a batch's first answer
# Set by a multi-model instance (ADR 0037; turnout.instances.multi_model_server).
LOADED_MODELS_HEADER = b"x-turnout-loaded-models"
CACHE_HIT_HEADER = b"x-turnout-model-cache-hit"
WAIT_HEADER = b"x-turnout-model-wait-us"
DOWNLOAD_HEADER = b"x-turnout-model-download-us"
LOAD_HEADER = b"x-turnout-model-load-us"
UNLOAD_HEADER = b"x-turnout-model-unload-us"


class Failure(StrEnum):
    NO_ENDPOINT = "no-endpoint"  # no endpoint of that name is routed
    NO_VARIANT = "no-variant"  # the named variant is not one of the endpoint's
    NO_WEIGHT = "no-weight"  # every variant has weight 0
    BAD_KEY = "bad-key"  # the assignment key is longer than allowed
    OVERLOADED = "overloaded"  # the router answers its limit of concurrent invocations
    NO_INSTANCE = "no-instance"  # no ready instance within the wait (starting, restarting)
    THROTTLED = "throttled"  # a serverless variant answers its MaxConcurrency (ADR 0038)
    MODEL_ERROR = "model-error"  # the model answered with an error status
    TIMEOUT = "timeout"  # no answer within the model timeout
    NO_ANSWER = "no-answer"  # the connection closed, or the answer was not valid HTTP
    BAD_TARGET_MODEL = "bad-target-model"  # TargetModel missing, or given to a single model


# The status the metrics count when the model gave none (SageMaker counts these as 5XX).
_NO_ANSWER_STATUS = 502
_TIMEOUT_STATUS = 504
_NO_INSTANCE_STATUS = 503
_THROTTLED_STATUS = 429  # counted as a 4XX error of the variant


class DispatchError(Exception):
    """Why an invocation got no answer from a model, in words any protocol can use.

    Once a variant was chosen, `variant` is set and `status` is what its metrics count: the
    model's HTTP status, or the 5xx turnout stands in with when the model gave none.
    """

    def __init__(
        self,
        failure: Failure,
        message: str,
        *,
        variant: VariantRoute | None = None,
        status: int = 0,
        model_us: float | None = None,
        response: UpstreamResponse | None = None,
        log: str = "",
    ) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message
        self.variant = variant
        self.status = status
        self.model_us = model_us
        self.response = response  # the model's own error answer (MODEL_ERROR)
        self.log = log  # where the instance's log is, for a person to look


class Outcome:
    """A model's successful answer and how the invocation got there."""

    __slots__ = ("cookie", "model_us", "randomized", "response", "user", "variant")

    def __init__(
        self,
        variant: VariantRoute,
        response: UpstreamResponse,
        model_us: float,
        user: str | None,
        cookie: bytes | None,
        randomized: bool,
    ) -> None:
        self.variant = variant
        self.response = response
        self.model_us = model_us  # ModelLatency: from sending to the whole answer
        self.user = user  # the assignment key, when the request had one
        self.cookie = cookie  # a Set-Cookie value for a browser that had no key
        self.randomized = randomized  # the weights chose (not a rule, not a TargetVariant)


class Dispatcher:
    def __init__(self, router: Router) -> None:
        self.router = router
        self._turn = 0  # rotates tie-breaking between equally loaded instances
        self._outliers = router.limits.outliers  # outlier ejection (ADR 0034)
        self._detect = self._outliers.enabled
        # Copies to shadow variants, after the answer (ADR 0021); pairs go to the sink.
        self.mirror = Mirror(self._forward, _failure_answer, router.shadow_pairs)
        self.hooks = HookRunner(*hook_limits())  # a switch's user code (ADR 0040)

    # -- admission --------------------------------------------------------------------

    def admit(self) -> None:
        """Count an invocation in, or refuse it (OVERLOADED); pair with `release`."""
        router = self.router
        if router.in_flight >= router.limits.max_concurrency:
            raise DispatchError(
                Failure.OVERLOADED,
                f"turnout is answering its limit of {router.limits.max_concurrency} "
                "concurrent invocations; retry shortly.",
            )
        router.in_flight += 1

    def release(self) -> None:
        self.router.in_flight -= 1

    # -- choice and forwarding ----------------------------------------------------------

    async def dispatch(self, invocation: Invocation) -> Outcome:
        """The chosen variant's answer; DispatchError when there is none to relay as is."""
        name = invocation.endpoint
        route = self.router.table.endpoints.get(name)
        if route is None:
            raise DispatchError(Failure.NO_ENDPOINT, f"Endpoint {name} not found.")
        found, user, cookie, randomized = _choose(route, invocation)
        if found.switch is not None:  # to another endpoint, in process (ADR 0040)
            return await self._switch(invocation, route, found, user, cookie, randomized)
        path, affinity = _instance_path(name, found, invocation)
        stream = invocation.stream
        length = len(invocation.body) if stream is None else stream.length
        head = request_head(length, invocation.relayed, path)
        gate = found.gate  # a serverless variant's MaxConcurrency (ADR 0038)
        if gate is not None and not gate.enter(time.monotonic()):
            raise DispatchError(
                Failure.THROTTLED,
                f"Variant {found.name} of endpoint {name} is answering its MaxConcurrency of "
                f"{gate.limit} requests; retry shortly.",
                variant=found,
                status=_THROTTLED_STATUS,
            )
        try:
            response, model_us = await self._forward(
                name, found, head, invocation.body, stream, invocation.timeout, affinity
            )
        finally:
            if gate is not None:
                gate.leave(time.monotonic())
        return Outcome(found, response, model_us, user, cookie, randomized)

    async def _switch(
        self,
        invocation: Invocation,
        route: EndpointRoute,
        found: VariantRoute,
        user: str | None,
        cookie: bytes | None,
        randomized: bool,
    ) -> Outcome:
        """A switch variant's answer: its hooks around the target endpoint's dispatch."""
        started = perf_counter()
        switch = found.switch
        assert switch is not None
        runner = self.hooks
        request = request_of(invocation.body, invocation.relayed, invocation.headers, user)
        try:
            hooks = await runner.hooks(switch.artifact)
            if hooks.preprocess is not None:
                request = checked(
                    await runner.call(hooks.preprocess, request), Request, "preprocess"
                )
            if hooks.route is not None and invocation.target is None:
                names = [r.name for r in route.routes]
                name = await runner.call(hooks.route, request, names)
                if name is not None:
                    chosen = route.named(checked(name, str, "route"), random())
                    if chosen is None or chosen.switch is None:
                        raise HookError(f"route returned {name!r}, not one of {names}")
                    found, switch, randomized = chosen, chosen.switch, False
            target = self.router.table.endpoints.get(switch.endpoint)
            if target is None:
                raise DispatchError(
                    Failure.NO_INSTANCE,
                    f"Endpoint {switch.endpoint}, which variant {found.name} of endpoint "
                    f"{invocation.endpoint} routes to, is not in service; retry shortly.",
                    variant=found,
                    status=_NO_INSTANCE_STATUS,
                )
            if any(r.switch is not None for r in target.all_routes()):  # no loops, no chains
                raise DispatchError(
                    Failure.NO_VARIANT,
                    f"Variant {found.name} of endpoint {invocation.endpoint} routes to "
                    f"{switch.endpoint}, which is itself a switch; a switch routes to "
                    "endpoints that serve models.",
                    variant=found,
                    status=400,
                )
            inner = Invocation(
                switch.endpoint,
                None,
                invocation.headers,
                relayed_of(request, invocation.relayed),
                request.body,
                perf_counter(),
            )
            try:
                outcome = await self.dispatch(inner)
            except DispatchError as error:
                self.failed(inner, error)
                error.variant = found  # the switch's variant counts it too
                raise
            self.succeeded(inner, outcome)
            response = outcome.response
            answer = SwitchAnswer(
                response.body,
                (response.header(b"content-type") or b"application/octet-stream").decode(),
                switch.endpoint,
                outcome.variant.name,
            )
            if hooks.postprocess is not None:
                answer = checked(
                    await runner.call(hooks.postprocess, request, answer),
                    SwitchAnswer,
                    "postprocess",
                )
        except HookBusy as exc:
            raise DispatchError(Failure.OVERLOADED, f"{exc}; retry shortly.") from None
        except HookTimeout as exc:
            raise DispatchError(
                Failure.TIMEOUT, str(exc), variant=found, status=_TIMEOUT_STATUS
            ) from None
        except HookError as exc:
            raise DispatchError(
                Failure.MODEL_ERROR, f"The switch's code/switch.py: {exc}", variant=found,
                status=500,
            ) from None  # fmt: skip
        headers = [
            (b"content-type", answer.content_type.encode("latin-1")),
            (TARGET_ENDPOINT_HEADER, switch.endpoint.encode()),
            (TARGET_VARIANT_HEADER, answer.variant.encode()),
        ]
        attributes = response.header(CUSTOM_ATTRIBUTES)
        if attributes is not None:
            headers.append((CUSTOM_ATTRIBUTES, attributes))
        model_us = (perf_counter() - started) * 1e6
        return Outcome(
            found, UpstreamResponse(200, headers, answer.body), model_us, user, cookie, randomized
        )

    async def _forward(
        self,
        name: str,
        variant: VariantRoute,
        head: bytes,
        body: bytes,
        stream: BodyStream | None = None,
        timeout: float | None = None,
        affinity: bytes | None = None,
    ) -> tuple[UpstreamResponse, float]:
        """Send to the least-loaded ready instance; on a refused connection, try another.

        Returns the answer and the microseconds the model took (ModelLatency). A `stream`
        is sent in chunks instead of `body`; `timeout` replaces the model timeout. With
        `affinity` (a TargetModel), the instance is its rendezvous choice instead.
        """
        limits = self.router.limits
        model_timeout = limits.model_timeout if timeout is None else timeout
        refused: list[Upstream] = []
        wait_until = 0.0  # set on the first wait; bounds all waiting for this request
        while True:
            upstream = self._pick(variant, refused, affinity)
            if upstream is None:
                if variant.gate is not None:  # serverless: start one, wait for its cold start
                    self.router.demand(name, variant)
                    wait_until = wait_until or time.monotonic() + limits.cold_start_wait
                wait_until = wait_until or time.monotonic() + limits.instance_wait
                upstream = await self._wait_for_ready(name, variant, refused, wait_until, affinity)
            upstream.outstanding += 1
            sent = perf_counter()
            try:
                if stream is None:
                    response = await upstream.pool.request(head, body, model_timeout)
                else:
                    response = await upstream.pool.send_stream(head, stream, model_timeout)
            except UpstreamConnectError:
                refused.append(upstream)  # never sent: safe to send elsewhere
                continue
            except UpstreamTimeout:
                self._failed(variant, upstream)
                upstream.instance.report_unresponsive(
                    f"no answer within the model timeout of {model_timeout:g} s"
                )
                raise DispatchError(
                    Failure.TIMEOUT,
                    f"The model gave no answer within {model_timeout:g} s.",
                    variant=variant,
                    status=_TIMEOUT_STATUS,
                    log=upstream.instance.log,
                ) from None
            except UpstreamClosed:
                self._failed(variant, upstream)
                raise DispatchError(
                    Failure.NO_ANSWER,
                    "The instance closed the connection before answering "
                    "(its process may have exited).",
                    variant=variant,
                    status=_NO_ANSWER_STATUS,
                    log=upstream.instance.log,
                ) from None
            except UpstreamProtocolError as exc:
                self._failed(variant, upstream)
                raise DispatchError(
                    Failure.NO_ANSWER,
                    str(exc),
                    variant=variant,
                    status=_NO_ANSWER_STATUS,
                    log=upstream.instance.log,
                ) from None
            finally:
                upstream.outstanding -= 1
            answered = perf_counter()
            model_us = (answered - sent) * 1e6
            if affinity is not None:
                _note_loaded(variant, upstream, response)
            if 200 <= response.status < 300:
                if self._detect:
                    upstream.outlier.observe(model_us, self._outliers)
                    if answered >= variant.next_sweep:
                        self._sweep(variant, answered)
                return response, model_us
            if response.status >= 500:  # a 4xx is the caller's doing, not the instance's
                self._failed(variant, upstream)
            raise DispatchError(
                Failure.MODEL_ERROR,
                response.body.decode("utf-8", "replace"),
                variant=variant,
                status=response.status,
                model_us=model_us,
                response=response,
                log=upstream.instance.log,
            )

    def _failed(self, variant: VariantRoute, upstream: Upstream) -> None:
        """A 5xx, a timeout or no answer: one more in the instance's failure streak."""
        if self._detect:
            now = perf_counter()
            fail(upstream.outlier, variant.outliers, self._outliers, now)
            if now >= variant.next_sweep:
                self._sweep(variant, now)

    def _sweep(self, variant: VariantRoute, now: float) -> None:
        """At most once an interval per variant, on its traffic: no timer to manage."""
        variant.next_sweep = now + self._outliers.interval
        sweep(variant.outliers, self._outliers, now)

    def _pick(
        self, variant: VariantRoute, refused: list[Upstream], affinity: bytes | None = None
    ) -> Upstream | None:
        self._turn += 1
        upstreams = variant.upstreams
        if refused:
            upstreams = tuple(u for u in upstreams if u not in refused)
        if not upstreams:
            return None
        if affinity is None:
            found = least_outstanding(upstreams, self._turn)
        else:
            found = rendezvous(upstreams, affinity)
        if found is None and self._detect:
            # Every instance that is not ejected is down (restarting): an ejected outlier
            # answers better than none (Envoy's panic routing).
            found = _least_outstanding_ejected(upstreams)
        return found

    async def _wait_for_ready(
        self,
        name: str,
        chosen: VariantRoute,
        refused: list[Upstream],
        deadline: float,
        affinity: bytes | None = None,
    ) -> Upstream:
        """Wait until `deadline` for an instance of the variant to be ready (e.g. restarting)."""
        variant_name = chosen.name
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            # Read the table afresh: a publish may have replaced the variant's instances.
            route = self.router.table.endpoints.get(name)
            variant = route.find(chosen.config, variant_name) if route is not None else None
            if variant is None:
                break
            if refused:  # a refused instance may be back (restarted); give it another chance
                refused.clear()
            upstream = self._pick(variant, refused, affinity)
            if upstream is not None:
                return upstream
        raise DispatchError(
            Failure.NO_INSTANCE,
            f"No instance of variant {variant_name} of endpoint {name} is ready "
            "(starting or restarting); retry shortly.",
            variant=chosen,
            status=_NO_INSTANCE_STATUS,
        )

    # -- outcome hooks ------------------------------------------------------------------

    def succeeded(self, invocation: Invocation, outcome: Outcome) -> None:
        """After the answer went out: metrics, then exposures and data capture."""
        variant = outcome.variant
        response = outcome.response
        elapsed = (perf_counter() - invocation.started) * 1e6
        metrics = variant.metrics
        metrics.observe(response.status, False, outcome.model_us, elapsed - outcome.model_us)
        batch = response.header(BATCH_SIZE_HEADER)
        if batch is not None and batch.isdigit():
            metrics.observe_batch(int(batch))
        if variant.multi_model:
            _observe_model_cache(variant, response)
        timings = response.header(TIMINGS_HEADER)
        if timings is not None:  # an inference pipeline's containers (ADR 0039)
            for container, us in parse_timings(timings):
                metrics.observe_container(container, us)
        exposures = self.router.exposures
        if exposures is not None:
            inference_id = invocation.relayed_header(INFERENCE_ID)
            if outcome.user is not None or inference_id is not None:
                exposures.offer(
                    invocation.endpoint, outcome.user, variant, inference_id, outcome.randomized
                )
        if invocation.stream is not None:
            return  # an asynchronous request: its input was never held, to capture or mirror
        capture = variant.capture
        if capture is not None and random() < capture.fraction:
            offer_capture(capture, invocation, response)
        if variant.shadows:
            answer = Answer(
                response.status, response.body, response.header(b"content-type"), outcome.model_us
            )
            self._mirror(invocation, variant, answer)

    def failed(self, invocation: Invocation, error: DispatchError) -> None:
        """Count a failure in its variant's metrics, when a variant had been chosen."""
        variant = error.variant
        if variant is None:
            return
        elapsed = (perf_counter() - invocation.started) * 1e6
        model_error = error.failure in _MODEL_FAILURES
        variant.metrics.observe(
            error.status, model_error, error.model_us, elapsed - (error.model_us or 0.0)
        )
        if variant.multi_model and error.response is not None:
            _observe_model_cache(variant, error.response)
        if model_error and variant.shadows and invocation.stream is None:  # on failures too
            self._mirror(invocation, variant, _answer_of(error))

    def _mirror(self, invocation: Invocation, variant: VariantRoute, answer: Answer) -> None:
        self.mirror.offer(invocation, variant, answer)


def _note_loaded(variant: VariantRoute, upstream: Upstream, response: UpstreamResponse) -> None:
    """A multi-model instance says how many models it holds (LoadedModelCount)."""
    count = response.header(LOADED_MODELS_HEADER)
    if count is not None and count.isdigit():
        variant.metrics.note_loaded(upstream.affinity_key, int(count))


def _observe_model_cache(variant: VariantRoute, response: UpstreamResponse) -> None:
    """What a multi-model instance said of its cache, into the variant's metrics."""
    hit = response.header(CACHE_HIT_HEADER)
    if hit is None:
        return
    variant.metrics.observe_model_cache(
        hit == b"1",
        _micros(response, WAIT_HEADER),
        _micros(response, DOWNLOAD_HEADER),
        _micros(response, LOAD_HEADER),
        _micros(response, UNLOAD_HEADER),
    )


def _micros(response: UpstreamResponse, header: bytes) -> float:
    value = response.header(header)
    return float(value) if value is not None and value.isdigit() else 0.0


def _least_outstanding_ejected(upstreams: tuple[Upstream, ...]) -> Upstream | None:
    """The ejected instance that is ready and least loaded, if any."""
    found: Upstream | None = None
    for u in upstreams:
        if (
            u.outlier.ejected
            and u.instance.ready
            and (found is None or u.outstanding < found.outstanding)
        ):
            found = u
    return found


_MODEL_FAILURES = frozenset((Failure.MODEL_ERROR, Failure.TIMEOUT, Failure.NO_ANSWER))


def _answer_of(error: DispatchError) -> Answer:
    response = error.response
    if response is None:
        return Answer(error.status, error.message.encode(), None, error.model_us)
    return Answer(response.status, response.body, response.header(b"content-type"), error.model_us)


def _failure_answer(exc: BaseException) -> tuple[int, bytes, float | None] | None:
    """A shadow's forwarding error as (status, body, model µs); None if not a DispatchError."""
    if not isinstance(exc, DispatchError):
        return None
    answer = _answer_of(exc)
    return answer.status, answer.body, answer.model_us


def _assign(
    route: EndpointRoute, headers: list[tuple[bytes, bytes]]
) -> tuple[VariantRoute | None, str | None, bytes | None, bool]:
    """(route, user, Set-Cookie value, whether the weights chose) for a request that named
    no TargetVariant: targeting rules first, then the user's sticky assignment, else a
    random draw by weight (ADR 0013)."""
    sticky = route.sticky
    if sticky is None:
        return (route.chooser.pick(random()) if route.chooser else None), None, None, True
    key, browser = sticky.keys.read(headers)
    user = cookie = None
    if key is not None:
        if len(key) > MAX_KEY_LENGTH:
            raise DispatchError(
                Failure.BAD_KEY, f"The assignment key is longer than {MAX_KEY_LENGTH} characters."
            )
        user = key.decode("utf-8", "replace")
    elif browser:
        user = new_user_id()
        cookie = sticky.keys.set_cookie(user)
    targeted = sticky.targeted(user, headers)
    if targeted is not None:
        found = sticky.named(targeted, user) if user else route.named(targeted, random())
        if found is not None:  # a rule naming a variant no longer routed falls through
            return found, user, cookie, False
    if user is None:
        return (route.chooser.pick(random()) if route.chooser else None), None, None, True
    return sticky.route_for(user), user, cookie, True


def _choose(
    route: EndpointRoute, invocation: Invocation
) -> tuple[VariantRoute, str | None, bytes | None, bool]:
    """The variant a request goes to, with its assignment (user, cookie to set, whether the
    weights chose): the one it names (TargetVariant), else by rules, stickiness, weights."""
    name = invocation.endpoint
    if invocation.target is None:
        found, user, cookie, randomized = _assign(route, invocation.headers)
        if found is None:
            raise DispatchError(
                Failure.NO_WEIGHT, f"Endpoint {name} has no variant with weight > 0."
            )
        return found, user, cookie, randomized
    config = invocation.config
    named = (
        route.named(invocation.target, random())
        if config is None
        else route.find(config, invocation.target)
    )
    if named is None:
        of = "" if config is None else f" of endpoint config {config}"
        raise DispatchError(
            Failure.NO_VARIANT,
            f"The variant {invocation.target}{of} is not present in endpoint {name}.",
        )
    return named, None, None, False


def _instance_path(
    name: str, found: VariantRoute, invocation: Invocation
) -> tuple[bytes, bytes | None]:
    """The path to call on the variant's instance, and the key that picks the instance by
    affinity (a multi-model variant's TargetModel, ADR 0037; else None)."""
    model = invocation.target_model
    if found.multi_model:
        if model is None:
            raise DispatchError(
                Failure.BAD_TARGET_MODEL,
                f"Endpoint {name} is a multi-model endpoint: name the model to invoke "
                "in TargetModel (header X-Amzn-SageMaker-Target-Model).",
            )
        quoted = urllib.parse.quote(model, safe="").encode()
        return b"/models/" + quoted + b"/invoke", model.encode()
    if model is not None:
        raise DispatchError(
            Failure.BAD_TARGET_MODEL,
            f"Endpoint {name} is not a multi-model endpoint: drop TargetModel, or "
            "create the model with Mode MultiModel.",
        )
    path = invocation.path
    return (path if isinstance(path, bytes) else path(found.name)), None
