"""The flavor registry: every module in `turnout.models.flavors` registers one flavor here.

A flavor says how to recognize its artifacts from their file listing (cheap: no unpacking,
no framework import), where it ranks when several could serve the same files, and how to
load a model (importing its framework only then). Adding a flavor is adding one module to
`turnout/models/flavors/` (ADR 0018); nothing else lists them. ADR 0017: the framework
flavors (ONNX, XGBoost, MLflow).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from turnout.models.layout import Listing
from turnout.models.runtime import LoadedModel

AUTO = "auto"  # not a flavor: "detect it from the artifact"
SCRIPT = "inference"  # the flavor that runs SageMaker inference-toolkit scripts

Detect = Callable[[Listing, Mapping[str, str]], bool]
Explain = Callable[[Listing, Mapping[str, str]], str]
Load = Callable[[Path, Mapping[str, str]], LoadedModel]


@dataclass(frozen=True)
class Flavor:
    """One way of serving an artifact.

    `detect` answers from the artifact's listing and the model's environment; it may raise
    ArtifactError when the files half-match (e.g. SAGEMAKER_PROGRAM names a missing script).
    `accepts`, when given, replaces `detect` for a model that names this flavor (or one of
    its images) explicitly: it may accept files too common for auto-detection to claim.
    `explain` says what the artifact lacks, for a model that names this flavor explicitly
    (the text completes "the artifact ..."). `load` is None for a flavor whose instances are
    the model's own program rather than turnout's worker. Lower `rank` is tried first.
    """

    name: str
    summary: str
    rank: int
    detect: Detect
    explain: Explain
    load: Load | None
    marker: str = ""  # what to add to an artifact for auto-detection to pick it
    images: tuple[str, ...] = ()  # container images (SageMaker's Image) that name it
    batching: str = "no"  # what the README's table says about batching
    accepts: Detect | None = None  # files it serves when named explicitly (default: detect)
    # Its SageMaker image runs the user's SAGEMAKER_PROGRAM script when one is named (script
    # mode, as SageMaker's scikit-learn and XGBoost containers do): the inference flavor then.
    script_mode: bool = False

    def fits(self, listing: Listing, environment: Mapping[str, str]) -> bool:
        """Whether this flavor serves the files of a model that names it explicitly."""
        return (self.accepts or self.detect)(listing, environment)


_flavors: dict[str, Flavor] = {}


def register(flavor: Flavor) -> Flavor:
    if flavor.name in _flavors or flavor.name == AUTO:
        raise ValueError(f"flavor {flavor.name!r} is registered twice")
    _flavors[flavor.name] = flavor
    return flavor


@cache
def _import_all() -> None:
    import turnout.models.flavors as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")


def flavors() -> list[Flavor]:
    """Every registered flavor, in the order auto-detection tries them."""
    _import_all()
    return sorted(_flavors.values(), key=lambda f: (f.rank, f.name))


def names() -> list[str]:
    """What a model's flavor may be: auto, then every flavor's name."""
    return [AUTO, *(f.name for f in flavors())]


def get(name: str) -> Flavor:
    """The flavor called `name`; KeyError if none is."""
    _import_all()
    return _flavors[name]


def batching_applies(name: str) -> str:
    """When a model of flavor `name` (or auto) is batched, in words for describe output."""
    if name == AUTO:
        return "if the flavor detected when an instance starts batches"
    try:
        return get(name).batching
    except KeyError:
        return "no"


def of_image(image: str | None) -> str:
    """The flavor a container image names (`turnout/onnx:1`, `.../sagemaker-xgboost:1.7-1`),
    else auto: any other image means "detect from the artifact"."""
    if not image:
        return AUTO
    path = image.split("@", 1)[0]
    last = path.rsplit("/", 1)[-1]
    if ":" in last:  # a tag, not a registry port
        path = path[: -(len(last) - last.index(":"))]
    for flavor in flavors():
        for suffix in flavor.images:
            if path == suffix or path.endswith("/" + suffix):
                return flavor.name
    return AUTO
