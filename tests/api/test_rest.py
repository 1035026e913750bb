"""The native REST API (/api/v1) over real HTTP: CRUD of models, endpoint configs and
endpoints, the rules each request must follow with their status codes and error shape
`{"error": {"code", "message"}}`, the OpenAPI document, and how the Python client maps
those errors to its exception classes."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Artifacts
from tests.support.endpoints import poll_until
from tests.support.models import digits_rows
from turnout.cli.background import BackgroundServer
from turnout.client import (
    Client,
    ModelError,
    TurnoutAPIError,
    TurnoutClientError,
    TurnoutUnreachable,
    Variant,
    WaitTimeout,
)

pytestmark = pytest.mark.e2e

API = "/api/v1"
MODEL = "rest-model"
CONFIG = "rest-config"
ENDPOINT = "rest-ep"


@pytest.fixture(scope="module")
def http(server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url + API, timeout=30) as session:
        yield session


def error_of(response: httpx.Response, status: int, code: str) -> str:
    """Check the documented error shape and return its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"], body
    assert sorted(body["error"]) == ["code", "message"], body
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert isinstance(message, str) and message.strip()
    assert "\n" not in message and "Traceback" not in message
    return str(message)


def created(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def variant(name: str, model: str = MODEL, **fields: Any) -> dict[str, Any]:
    return {"name": name, "model": model, **fields}


def new_config(http: httpx.Client, name: str, *variants: dict[str, Any]) -> httpx.Response:
    return http.post("/endpoint-configs", json={"name": name, "variants": list(variants)})


@pytest.fixture(scope="module")
def model(http: httpx.Client, artifacts: Artifacts) -> str:
    body = created(http.post("/models", json={"name": MODEL, "artifact": str(artifacts.sklearn)}))
    assert (body["name"], body["flavor"], body["artifact"]) == (
        MODEL, "sklearn", str(artifacts.sklearn),
    )  # fmt: skip
    assert body["warnings"] == []
    return MODEL


# -- models ----------------------------------------------------------------------------


def test_health(http: httpx.Client) -> None:
    assert http.get("/health").json()["status"] == "ok"


def test_model_list_and_describe(http: httpx.Client, model: str) -> None:
    assert model in [m["name"] for m in http.get("/models").json()]
    described = http.get(f"/models/{model}").json()
    assert described["flavor"] == "sklearn"
    assert isinstance(described["created_at"], float)


def test_duplicate_model_is_409(http: httpx.Client, model: str, artifacts: Artifacts) -> None:
    response = http.post("/models", json={"name": model, "artifact": str(artifacts.sklearn)})
    assert model in error_of(response, 409, "AlreadyExists")


def test_unknown_model_is_404(http: httpx.Client) -> None:
    assert "nope" in error_of(http.get("/models/nope"), 404, "NotFound")
    error_of(http.delete("/models/nope"), 404, "NotFound")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "m", "artifact": "/no/such/artifact"}, "does not exist"),
        ({"name": "bad_name", "artifact": "."}, "Invalid model name"),
        ({"name": "m"}, "artifact: Field required"),
        ({"name": "m", "artifact": ".", "flavor": "pytorch"}, "flavor"),
        ({"name": "m", "artifact": ".", "colour": "red"}, "colour"),
        ([1, 2], "body"),
    ],
)
def test_bad_model_requests_are_400(http: httpx.Client, body: Any, field: str) -> None:
    assert field in error_of(http.post("/models", json=body), 400, "ValidationError")


def test_malformed_json_is_400(http: httpx.Client) -> None:
    response = http.post(
        "/models", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert "not valid JSON" in error_of(response, 400, "ValidationError")


def test_deleting_a_model_keeps_configs_that_use_it(
    http: httpx.Client, artifacts: Artifacts
) -> None:
    # The rule: a model can be deleted while configs use it; they keep the exact model.
    artifact = str(artifacts.sklearn)
    created(http.post("/models", json={"name": "temp-model", "artifact": artifact}))
    created(new_config(http, "temp-config", variant("A", "temp-model")))
    assert http.delete("/models/temp-model").status_code == 204
    error_of(http.get("/models/temp-model"), 404, "NotFound")
    kept = http.get("/endpoint-configs/temp-config").json()
    assert kept["variants"][0]["model"] == "temp-model"
    # New configs cannot use it; the name is free for a new model.
    error_of(new_config(http, "temp-config-2", variant("A", "temp-model")), 404, "NotFound")
    created(http.post("/models", json={"name": "temp-model", "artifact": artifact}))


# -- endpoint configs ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["", "-a", "a-", "a_b", "a b", "a.b", "é", "a" * 64, "a\n"], ids=repr
)
def test_names_outside_sagemakers_pattern_are_400(
    http: httpx.Client, model: str, name: str
) -> None:
    message = error_of(new_config(http, name, variant("A")), 400, "ValidationError")
    assert "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}" in message


@pytest.mark.parametrize("name", ["a", "Z9", "a--b-c", "0-0", "x" * 63])
def test_names_inside_the_pattern_are_accepted(http: httpx.Client, model: str, name: str) -> None:
    assert created(new_config(http, name, variant("A")))["name"] == name


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        ([], "1 to 10 production variants; got 0"),
        ([variant(f"V{i}") for i in range(11)], "got 11"),
        ([variant("A"), variant("A")], "was non-unique within the request"),
        ([variant("A", weight=-0.5)], "Invalid weight -0.5"),
        ([variant("A", weight=0), variant("B", weight=0)], "weight > 0"),
        ([variant("A", instance_count=0)], "Invalid instance count 0"),
        ([variant("A", instance_count=65)], "Invalid instance count 65"),
        ([variant("bad_variant")], "Invalid variant name"),
        ([variant("A", weight="heavy")], "weight"),
        ([{"name": "A"}], "model: Field required"),
    ],
)
def test_invalid_variants_are_400(
    http: httpx.Client, model: str, variants: list[dict[str, Any]], expected: str
) -> None:
    message = error_of(new_config(http, "invalid", *variants), 400, "ValidationError")
    assert expected in message
    error_of(http.get("/endpoint-configs/invalid"), 404, "NotFound")  # nothing was stored


def test_config_with_an_unknown_model_is_404(http: httpx.Client, model: str) -> None:
    response = new_config(http, "unknown-model", variant("A"), variant("B", "no-such-model"))
    assert "no-such-model" in error_of(response, 404, "NotFound")
    error_of(http.get("/endpoint-configs/unknown-model"), 404, "NotFound")


def test_config_crud(http: httpx.Client, model: str) -> None:
    ten = [variant(f"V{i}", weight=i, instance_count=1 + i % 3) for i in range(10)]
    body = created(new_config(http, "ten", *ten))
    assert [(v["name"], v["weight"], v["instance_count"]) for v in body["variants"]] == [
        (f"V{i}", float(i), 1 + i % 3) for i in range(10)
    ]
    assert http.get("/endpoint-configs/ten").json() == body
    assert "ten" in [c["name"] for c in http.get("/endpoint-configs").json()]
    error_of(new_config(http, "ten", variant("A")), 409, "AlreadyExists")
    assert http.delete("/endpoint-configs/ten").status_code == 204
    error_of(http.get("/endpoint-configs/ten"), 404, "NotFound")
    error_of(http.delete("/endpoint-configs/ten"), 404, "NotFound")


def test_default_weight_and_instance_count(http: httpx.Client, model: str) -> None:
    (only,) = created(new_config(http, "defaults", variant("A")))["variants"]
    assert (only["weight"], only["instance_count"]) == (1.0, 1)


# -- endpoints -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint(http: httpx.Client, client: Client, model: str) -> str:
    created(new_config(http, CONFIG, variant("A", weight=3), variant("B", weight=1)))
    body = created(http.post("/endpoints", json={"name": ENDPOINT, "config": CONFIG}))
    assert (body["status"], body["config"], body["url"]) == (
        "Creating", CONFIG, f"/endpoints/{ENDPOINT}/invocations",
    )  # fmt: skip
    # Its instances take far longer to start than these calls: the endpoint is Creating.
    traffic = http.post(f"/endpoints/{ENDPOINT}/traffic", json={"variants": [{"name": "A"}]})
    assert "wait until it is InService" in error_of(traffic, 409, "Conflict")
    with pytest.raises(WaitTimeout, match="still Creating"):
        client.wait_for_endpoint(ENDPOINT, timeout=0)
    in_service = client.wait_for_endpoint(ENDPOINT, timeout=120)
    weights = {
        v["name"]: (v["current_weight"], v["desired_weight"]) for v in in_service["variants"]
    }
    assert weights == {"A": (3.0, 3.0), "B": (1.0, 1.0)}
    return ENDPOINT


def test_endpoint_describe_and_list(http: httpx.Client, endpoint: str) -> None:
    described = http.get(f"/endpoints/{endpoint}").json()
    assert described["status"] == "InService"
    assert described["failure_reason"] is None
    for v in described["variants"]:
        (instance,) = v["instances"]
        assert instance["ready"] and instance["pid"] > 0
    listed = {e["name"]: e for e in http.get("/endpoints").json()}
    assert listed[endpoint]["status"] == "InService"


def test_endpoint_errors(http: httpx.Client, endpoint: str) -> None:
    error_of(http.get("/endpoints/nope"), 404, "NotFound")
    error_of(http.delete("/endpoints/nope"), 404, "NotFound")
    error_of(
        http.post("/endpoints", json={"name": endpoint, "config": CONFIG}), 409, "AlreadyExists"
    )
    error_of(http.post("/endpoints", json={"name": "e2", "config": "nope"}), 404, "NotFound")
    error_of(
        http.post("/endpoints", json={"name": "e_2", "config": CONFIG}), 400, "ValidationError"
    )
    error_of(http.patch(f"/endpoints/{endpoint}", json={"config": "nope"}), 404, "NotFound")
    error_of(http.patch(f"/endpoints/{endpoint}", json={}), 400, "ValidationError")
    error_of(http.get("/endpoints/e2"), 404, "NotFound")  # nothing half-created


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        ([{"name": "Z", "weight": 1}], "Z"),
        ([{"name": "A", "weight": -1}], "Invalid weight"),
        ([{"name": "A", "weight": 0}, {"name": "B", "weight": 0}], "weight > 0"),
        ([{"name": "A", "instance_count": 0}], "instance count"),
        ([], "at least one variant"),
        ([{"name": "A", "weight": 1, "colour": "red"}], "colour"),
    ],
)
def test_invalid_traffic_changes_are_400_and_change_nothing(
    http: httpx.Client, endpoint: str, variants: list[dict[str, Any]], expected: str
) -> None:
    before = http.get(f"/endpoints/{endpoint}").json()
    response = http.post(f"/endpoints/{endpoint}/traffic", json={"variants": variants})
    assert expected in error_of(response, 400, "ValidationError")
    after = http.get(f"/endpoints/{endpoint}").json()
    assert (after["status"], after["variants"]) == ("InService", before["variants"])


def test_traffic_change(http: httpx.Client, client: Client, endpoint: str) -> None:
    changes = {"variants": [{"name": "A", "weight": 1}, {"name": "B", "weight": 4}]}
    accepted = created(http.post(f"/endpoints/{endpoint}/traffic", json=changes), status=202)
    assert {v["name"]: v["desired_weight"] for v in accepted["variants"]} == {"A": 1, "B": 4}
    done = client.wait_for_endpoint(endpoint, timeout=60)
    assert {v["name"]: v["current_weight"] for v in done["variants"]} == {"A": 1, "B": 4}


def test_endpoint_delete(http: httpx.Client, client: Client, model: str) -> None:
    created(new_config(http, "doomed-config", variant("A")))
    created(http.post("/endpoints", json={"name": "doomed", "config": "doomed-config"}))
    client.wait_for_endpoint("doomed", timeout=120)
    assert http.delete("/endpoints/doomed").status_code == 202
    poll_until(lambda: http.get("/endpoints/doomed").status_code, lambda s: s == 404, 60, "deleted")
    assert "doomed" not in [e["name"] for e in http.get("/endpoints").json()]


# -- routing errors, OpenAPI -----------------------------------------------------------


def test_unknown_paths_and_methods_use_the_error_shape(http: httpx.Client) -> None:
    assert "/api/v1/nope" in error_of(http.get("/nope"), 404, "NotFound")
    response = http.put("/models")
    error_of(response, 405, "MethodNotAllowed")
    assert "POST" in response.headers["allow"]


def test_openapi_lists_the_api(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert {
        "/api/v1/health": {"get"},
        "/api/v1/models": {"get", "post"},
        "/api/v1/models/{name}": {"get", "delete"},
        "/api/v1/endpoint-configs": {"get", "post"},
        "/api/v1/endpoint-configs/{name}": {"get", "delete"},
        "/api/v1/endpoints": {"get", "post"},
        "/api/v1/endpoints/{name}": {"get", "patch", "delete"},
        "/api/v1/endpoints/{name}/traffic": {"post"},
    }.items() <= {path: set(ops) for path, ops in paths.items()}.items()
    error = paths["/api/v1/endpoints/{name}"]["get"]["responses"]["404"]
    assert error["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert "ErrorOut" in document["components"]["schemas"]
    assert http.get("/docs").status_code == 200


# -- the Python client's errors --------------------------------------------------------


def api_error(call: Any) -> TurnoutAPIError:
    with pytest.raises(TurnoutAPIError) as raised:
        call()
    assert "\n" not in str(raised.value)
    return raised.value


def test_client_maps_api_errors(client: Client, model: str, artifacts: Artifacts) -> None:
    missing = api_error(lambda: client.describe_model("nope"))
    assert (missing.status, missing.code) == (404, "NotFound")
    assert str(missing) == 'Could not find model "nope".'
    duplicate = api_error(lambda: client.create_model(model, str(artifacts.sklearn)))
    assert (duplicate.status, duplicate.code) == (409, "AlreadyExists")
    invalid = api_error(lambda: client.create_endpoint_config("c", [Variant("A", model, 0)]))
    assert (invalid.status, invalid.code) == (400, "ValidationError")
    # A name with a slash is one path segment: an unknown name, never another route.
    slashed = api_error(lambda: client.describe_endpoint("a/b"))
    assert (slashed.status, slashed.code) == (404, "NotFound")


def test_client_maps_runtime_errors(client: Client, endpoint: str) -> None:
    unknown = api_error(lambda: client.invoke("nope", [[0.0]]))
    assert (unknown.status, unknown.code) == (400, "ValidationError")
    with pytest.raises(ModelError) as raised:
        client.invoke(endpoint, [[1.0, 2.0]])  # 2 features; the model wants 64
    assert (raised.value.status, raised.value.original_status) == (424, 400)
    assert "64 features" in raised.value.original_message
    rows, labels = digits_rows(2)
    answer = client.invoke(endpoint, rows, target_variant="B")
    assert (answer.variant, answer.json()) == ("B", labels)


def test_client_without_a_server() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with Client(url, timeout=5) as nowhere, pytest.raises(TurnoutUnreachable) as raised:
        nowhere.list_models()
    assert isinstance(raised.value, TurnoutClientError)
    assert str(raised.value) == f'cannot reach turnout at {url}: start it with "turnout serve"'


def test_an_oversize_body_is_refused_unread_and_the_api_keeps_serving(http: httpx.Client) -> None:
    huge = b'{"name": "m", "artifact": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = http.post("/models", content=huge, headers={"Content-Type": "application/json"})
    assert "exceeds 1048576 bytes" in error_of(response, 413, "PayloadTooLarge")
    assert http.get("/health").status_code == 200
