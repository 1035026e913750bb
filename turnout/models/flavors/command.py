"""The command flavor: the model is its own server program, in any language.

turnout's worker does not load it: the instance is the program, started with the unpacked
artifact as its working directory and told where to listen by SAGEMAKER_BIND_TO_PORT (the
SageMaker container contract: `GET /ping`, `POST /invocations`). It comes from the model's
`command`, or from SageMaker's bring-your-own-container convention, an executable `serve`
at the artifact's root.
"""

from __future__ import annotations

from collections.abc import Mapping

from turnout.models.layout import SERVE, Listing, has_serve
from turnout.models.registry import Flavor, register

NAME = "command"


def _detect(listing: Listing, environment: Mapping[str, str]) -> bool:
    return has_serve(listing)


FLAVOR = register(
    Flavor(
        name=NAME,
        summary="any program (any language) serving GET /ping and POST /invocations on "
        "127.0.0.1:$SAGEMAKER_BIND_TO_PORT: an executable `serve` at the root, or --command",
        rank=90,  # last: a `serve` file beside a model file is most likely a helper script
        detect=_detect,
        explain=lambda listing, environment: f"has no executable '{SERVE}' file at its root",
        load=None,
        batching="the program's own",
    )
)
