from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from turnout.models.codecs import sagemaker as codecs
from turnout.models.codecs.sagemaker import CSV, JSON, NPY, decode, encode, negotiate
from turnout.models.errors import InvocationError

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
matrices = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6), elements=finite
)


def npy(array: Any) -> bytes:
    out = io.BytesIO()
    np.save(out, np.asarray(array), allow_pickle=False)
    return out.getvalue()


def status_of(call: Any, *args: Any) -> tuple[int, str]:
    with pytest.raises(InvocationError) as caught:
        call(*args)
    return caught.value.status, caught.value.message


# -- round trips ------------------------------------------------------------------------


@given(matrices, st.sampled_from(codecs.SUPPORTED))
def test_encode_then_decode_gives_the_matrix_back(matrix: np.ndarray, media: str) -> None:
    body, content_type = encode(matrix, media)
    assert content_type == media
    decoded = decode(body, content_type)
    assert decoded.shape == matrix.shape
    assert np.array_equal(decoded, matrix)


@given(
    hnp.arrays(
        st.sampled_from([np.float32, np.int64, np.bool_, np.uint8]),
        hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4),
    )
)
def test_npy_keeps_dtype_and_shape(array: np.ndarray) -> None:
    decoded = decode(npy(array), NPY)
    assert decoded.dtype == array.dtype
    assert np.array_equal(decoded, array, equal_nan=array.dtype.kind == "f")


@given(st.lists(finite, min_size=1, max_size=10), st.sampled_from(codecs.SUPPORTED))
def test_a_flat_array_is_one_row(row: list[float], media: str) -> None:
    body = {
        JSON: json.dumps(row).encode(),
        CSV: ",".join(repr(v) for v in row).encode(),
        NPY: npy(np.array(row)),
    }[media]
    decoded = decode(body, media)
    assert decoded.shape == (1, len(row))
    assert decoded.tolist() == [row]


@given(st.lists(st.integers(0, 9), min_size=1, max_size=20), st.sampled_from(codecs.SUPPORTED))
def test_labels_encode_one_per_row(labels: list[int], media: str) -> None:
    body, _ = encode(np.array(labels), media)
    if media == JSON:
        assert json.loads(body) == labels
    elif media == CSV:
        assert body.decode().splitlines() == [str(label) for label in labels]
    else:
        assert np.load(io.BytesIO(body)).tolist() == labels


# -- decoding ---------------------------------------------------------------------------


def test_json_instances_wrapper() -> None:
    decoded = decode(b'{"instances": [[1, 2], [3, 4]]}', JSON)
    assert decoded.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert decoded.dtype == np.float64


@pytest.mark.parametrize("content_type", [None, "", "Application/JSON; charset=utf-8"])
def test_json_is_the_default_and_parameters_are_ignored(content_type: str | None) -> None:
    assert decode(b"[1, 2.5]", content_type).tolist() == [[1.0, 2.5]]


def test_csv_with_parameters_blank_lines_and_bom() -> None:
    body = "\ufeff1,2\r\n\n3, 4\n".encode()
    assert decode(body, "TEXT/CSV; header=absent").tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_json_null_is_a_missing_value() -> None:
    assert np.isnan(decode(b"[1, null]", JSON)[0, 1])


def test_unsupported_content_type_is_415_naming_the_supported_ones() -> None:
    status, message = status_of(decode, b"x", "text/plain")
    assert status == 415
    assert all(media in message for media in codecs.SUPPORTED)


@pytest.mark.parametrize(
    ("body", "content_type", "fragment"),
    [
        (b"", JSON, "empty"),
        (b"  \n", JSON, "empty"),
        (b"[1, 2", JSON, "not valid JSON"),
        (b"\xff\xfe[", JSON, "not valid JSON"),
        (b"[[1, 2], [3]]", JSON, "equal length"),
        (b'["a", "b"]', JSON, "numbers"),
        (b"3", JSON, "must be an array"),
        (b"[]", JSON, "no values"),
        (b'{"rows": [1]}', JSON, "instances"),
        (b"a,b\n1,2\n", CSV, "line 1"),
        (b"1,2\n3\n", CSV, "row 2 has 1 values"),
        (b"1,,2\n", CSV, "line 1"),
        (b"\xff\xfe", CSV, "UTF-8"),
        (b"", CSV, "empty"),
        (b"not npy", NPY, ".npy"),
        (npy(np.float64(3.0)), NPY, "must be an array"),
    ],
)
def test_malformed_bodies_are_400_with_a_clear_message(
    body: bytes, content_type: str, fragment: str
) -> None:
    status, message = status_of(decode, body, content_type)
    assert status == 400
    assert fragment in message


def test_npz_is_refused() -> None:
    out = io.BytesIO()
    np.savez(out, a=np.zeros(2))
    status, message = status_of(decode, out.getvalue(), NPY)
    assert (status, ".npz" in message) == (400, True)


def test_pickled_npy_is_refused() -> None:
    out = io.BytesIO()
    np.save(out, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert status_of(decode, out.getvalue(), NPY)[0] == 400


# -- encoding ---------------------------------------------------------------------------


def test_encode_json_handles_plain_and_numpy_values() -> None:
    body, media = encode({"label": np.int64(3), "p": np.array([0.5])}, None)
    assert media == JSON
    assert json.loads(body) == {"label": 3, "p": [0.5]}


def test_encode_csv_quotes_text_labels() -> None:
    body, _ = encode(np.array(["cat", "a,b"]), CSV)
    assert body.decode().splitlines() == ["cat", '"a,b"']


def test_encode_scalar_as_csv_is_one_line() -> None:
    assert encode(np.float64(0.25), CSV)[0] == b"0.25\n"


def test_encode_3d_as_csv_is_406() -> None:
    assert status_of(encode, np.zeros((2, 2, 2)), CSV)[0] == 406


def test_encode_object_as_npy_is_406() -> None:
    assert status_of(encode, np.array([{"a": 1}], dtype=object), NPY)[0] == 406


def test_encode_unserializable_json_is_500() -> None:
    assert status_of(encode, {"x": object()}, JSON)[0] == 500


def test_encode_negotiates_the_accept_header() -> None:
    assert encode(np.array([1]), "text/*")[1] == CSV


# -- negotiation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("*", JSON),
        ("application/json", JSON),
        ("text/csv", CSV),
        ("application/x-npy", NPY),
        ("Text/CSV; charset=utf-8", CSV),
        ("application/*", JSON),
        ("text/*", CSV),
        ("text/html, */*;q=0.1", JSON),
        ("text/csv, */*", CSV),
        ("*/*, text/csv", CSV),  # an explicit mention beats a wildcard
        ("application/json;q=0.5, text/csv", CSV),
        ("application/json;q=0.5, application/x-npy;q=0.9", NPY),
        ("text/csv, application/json", CSV),  # equal q: first listed
        ("application/json, text/csv", JSON),
        ("application/json;q=0, */*", CSV),  # q=0 excludes, even under */*
        ("application/*;q=0.2, application/x-npy", NPY),
        ("garbage, text/csv", CSV),
        ("text/csv;q=oops, application/json;q=0.1", JSON),
    ],
)
def test_negotiate(accept: str | None, expected: str) -> None:
    assert negotiate(accept) == expected


@pytest.mark.parametrize(
    "accept", ["text/html", "image/*", "application/json;q=0", "*/*;q=0", "text/csv;q=2"]
)
def test_nothing_acceptable_is_406(accept: str) -> None:
    status, message = status_of(negotiate, accept)
    assert status == 406
    assert all(media in message for media in codecs.SUPPORTED)


q_values = st.integers(1, 1000).map(lambda n: n / 1000)


@given(st.permutations(codecs.SUPPORTED), st.lists(q_values, min_size=3, max_size=3, unique=True))
def test_negotiate_picks_the_highest_q(order: list[str], qs: list[float]) -> None:
    accept = ", ".join(f"{media};q={q}" for media, q in zip(order, qs, strict=True))
    assert negotiate(accept) == order[qs.index(max(qs))]


@given(st.text(max_size=40))
def test_negotiate_returns_a_supported_type_or_406(accept: str) -> None:
    try:
        assert negotiate(accept) in codecs.SUPPORTED
    except InvocationError as err:
        assert err.status == 406
