"""The REST API's body bound in its OpenAPI document."""

from __future__ import annotations

from turnout.api.rest import build_rest_app


def test_every_post_put_and_patch_documents_the_413_of_the_size_bound() -> None:
    """Found by the fuzzer (tests/fuzz): BoundedBody answered 413, the document never said."""
    document = build_rest_app(None, None).openapi()  # type: ignore[arg-type]
    for operations in document["paths"].values():
        for method, spec in operations.items():
            assert ("413" in spec["responses"]) is (method in ("post", "put", "patch")), spec
    too_large = document["paths"]["/api/v1/models"]["post"]["responses"]["413"]
    schema = too_large["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ErrorOut"}
