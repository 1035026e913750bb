"""The baseline: one process, Starlette + uvicorn, the same predict as turnout's sklearn flavor.

python bench/bare_app.py --model MODEL.joblib --port PORT
"""

from __future__ import annotations

import argparse
import json

import joblib
import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(model_path: str) -> Starlette:
    model = joblib.load(model_path)

    async def ping(_: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    async def invocations(request: Request) -> Response:
        rows = np.asarray(json.loads(await request.body()), dtype=np.float64)
        if rows.ndim == 1:
            rows = rows.reshape(1, -1)
        return Response(json.dumps(model.predict(rows).tolist()), media_type="application/json")

    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/invocations", invocations, methods=["POST"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        build(args.model),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
