"""The capture hub: what the router asks at publish time and the control plane describes.

`for_variant` gives a route its `VariantCapture` (or None) when the router publishes it,
from the endpoint config's DataCaptureConfig that the publisher read from the store (in a
thread, with the fleet): nothing here reads the store, so the event loop may call it.
`status` is DescribeEndpoint's DataCaptureConfigSummary of one endpoint and config.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from turnout.capture.destination import parse_destination
from turnout.capture.record import Encoding
from turnout.capture.target import CaptureRules, CaptureState, VariantCapture
from turnout.capture.writer import CaptureWriter
from turnout.domain.resources import DataCapture


@dataclass(frozen=True)
class CaptureStatus:
    """DataCaptureConfigSummary's CaptureStatus, with turnout's reason and counters."""

    started: bool
    reason: str | None = None
    captured: int = 0
    dropped: int = 0
    write_errors: int = 0


class CaptureHub:
    def __init__(
        self,
        writer: CaptureWriter,
        staging: Path,
    ) -> None:
        self.writer = writer
        self._staging = staging  # S3 destinations' files wait here until uploaded
        self._states: dict[tuple[str, str], CaptureState] = {}
        self._targets: dict[tuple[str, str, str], VariantCapture] = {}

    def for_variant(
        self, endpoint: str, config: str, variant: str, settings: DataCapture | None
    ) -> VariantCapture | None:
        """The capture of this route by its config's `settings`, or None when they capture
        nothing."""
        key = (endpoint, config, variant)
        if settings is None or not settings.enabled or settings.sampling_percentage == 0:
            self._targets.pop(key, None)
            return None
        rules = self._rules(settings)
        known = self._targets.get(key)
        if known is not None and known.rules == rules:
            return known  # same files, same counters across weight changes
        state = self._states.setdefault((endpoint, config), CaptureState())
        target = VariantCapture(endpoint, config, variant, settings.sampling_percentage / 100,
                                rules, state, self.writer.put)  # fmt: skip
        self._targets[key] = target
        return target

    def status(self, endpoint: str, config: str) -> CaptureStatus:
        state = self._states.get((endpoint, config))
        if state is None:
            return CaptureStatus(started=True)
        return CaptureStatus(
            started=state.stopped_reason is None,
            reason=state.stopped_reason,
            captured=state.captured,
            dropped=state.dropped + state.lost,
            write_errors=state.write_errors,
        )

    def close(self) -> None:
        self.writer.close()

    def _rules(self, settings: DataCapture) -> CaptureRules:
        destination = parse_destination(settings.destination)
        if destination.path is not None:
            root = destination.path
        else:  # one staging directory per bucket and prefix
            digest = hashlib.sha256(settings.destination.encode()).hexdigest()[:16]
            root = self._staging / digest
        return CaptureRules(
            destination,
            root,
            settings.capture_input,
            settings.capture_output,
            Encoding.of(settings.csv_content_types, settings.json_content_types),
        )
