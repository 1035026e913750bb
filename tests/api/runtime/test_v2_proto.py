"""The committed .proto and its modules: the same wire as tritonclient.grpc, and current."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from turnout.api.runtime.v2_proto import generate
from turnout.api.runtime.v2_proto import grpc_predict_v2_pb2 as pb

triton = pytest.importorskip("tritonclient.grpc.service_pb2")

RPCS = ["ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer"]


def shape_of(message: Any) -> dict[str, Any]:
    """What goes on the wire: each field's number, name, type, label (repeated?), oneof, and, for
    a message field, the same of the message it holds."""
    fields = {
        field.number: (
            field.name,
            field.type,
            field.label,
            field.containing_oneof.name if field.containing_oneof else None,
            shape_of(field.message_type) if field.message_type else None,
        )
        for field in message.fields
    }
    return {"name": message.full_name, "fields": fields}


def test_every_message_is_wire_identical_to_tritonclients() -> None:
    ours = pb.DESCRIPTOR.message_types_by_name
    theirs = triton.DESCRIPTOR.message_types_by_name
    assert pb.DESCRIPTOR.package == triton.DESCRIPTOR.package == "inference"
    for name, message in ours.items():
        assert shape_of(message) == shape_of(theirs[name]), name


def test_every_rpc_is_the_one_tritonclient_calls() -> None:
    ours = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    theirs = triton.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert [method.name for method in ours.methods] == RPCS
    for method in ours.methods:
        other = theirs.methods_by_name[method.name]
        assert (
            method.full_name == other.full_name == f"inference.GRPCInferenceService.{method.name}"
        )
        assert method.input_type.full_name == other.input_type.full_name
        assert method.output_type.full_name == other.output_type.full_name
        assert (method.client_streaming, method.server_streaming) == (False, False)
        assert (other.client_streaming, other.server_streaming) == (False, False)


def test_a_request_tritonclient_encodes_decodes_as_ours() -> None:
    sent = triton.ModelInferRequest(model_name="m", model_version="2", id="r")
    sent.parameters["priority"].uint64_param = 3
    tensor = sent.inputs.add(name="x", datatype="FP32", shape=[1, 2])
    tensor.parameters["k"].string_param = "v"
    sent.raw_input_contents.append(b"\0" * 8)
    sent.outputs.add(name="y").parameters["binary_data"].bool_param = True
    got = pb.ModelInferRequest.FromString(sent.SerializeToString())
    assert got.SerializeToString(deterministic=True) == sent.SerializeToString(deterministic=True)
    assert got.inputs[0].parameters["k"].string_param == "v"


def test_the_committed_modules_are_what_the_proto_generates(tmp_path: Path) -> None:
    pytest.importorskip(
        "grpc_tools", reason="grpcio-tools (the test extra) regenerates the modules"
    )
    for path in generate.generate(tmp_path):
        committed = generate.HERE / path.name
        assert committed.read_text() == path.read_text(), (
            f"{committed.name} is stale: run python -m turnout.api.runtime.v2_proto.generate"
        )


def test_the_proto_ships_with_the_package() -> None:
    text = (Path(__file__).parents[3] / "pyproject.toml").read_text()
    assert '"turnout.api.runtime.v2_proto" = ["*.proto", "*.pyi"]' in text
    assert generate.PROTO.is_file()
