"""The MLflow flavor: a saved MLflow model (an `MLmodel` file at the root), loaded with
`mlflow.pyfunc.load_model` and spoken to as MLflow's scoring server is.

Bodies in: `application/json` with exactly one of `dataframe_split`, `dataframe_records`
(a pandas DataFrame), `instances` or `inputs` (tensors: a list, or an object of named
lists), and optionally `params` (passed to predict; such a request is predicted alone); or
`text/csv` with a header row. MLflow's own parsers read them, with the model's signature,
so types are cast as `mlflow models serve` casts them. A request without Content-Type is
JSON. The answer is `{"predictions": ...}` (a DataFrame as a list of records), JSON only.

Open Inference Protocol tensors go in as MLServer's MLflow runtime passes them: for a model
whose signature is tensor-based, the single tensor (or a dict of tensors by name); else a
DataFrame with one column per tensor (a single 2-D tensor fills the signature's columns).

The model's own framework must be importable (MLflow's sklearn flavor saves with skops by
default: `pip install skops`); the model's requirements.txt lists what it needs.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from turnout.models.codecs import sagemaker as codecs
from turnout.models.codecs.tensors import datatype
from turnout.models.errors import InvocationError, ModelLoadError
from turnout.models.frameworks import import_framework
from turnout.models.layout import Listing
from turnout.models.registry import Flavor, register
from turnout.models.runtime import Array, Call, LoadedModel, Prediction, TensorSpec

NAME = "mlflow"
MLMODEL = "MLmodel"
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARAMS = "params"
ANSWERS = (codecs.JSON,)
MAX_MESSAGE = 300  # MLflow's messages can quote the whole input
# MLflow's column types -> Open Inference Protocol datatypes
_COLUMN_TYPES = {
    "double": "FP64",
    "float": "FP32",
    "long": "INT64",
    "integer": "INT32",
    "boolean": "BOOL",
}


def _detect(listing: Listing, environment: Mapping[str, str]) -> bool:
    return MLMODEL in listing.files


def _explain(listing: Listing, environment: Mapping[str, str]) -> str:
    return f"has no {MLMODEL} file at its root (save the model with mlflow's save_model)"


def _one_line(err: BaseException) -> str:
    text = " ".join(str(getattr(err, "message", None) or err).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


class WithParams:
    """One request's inputs with its `params`: predicted alone (they never stack)."""

    __slots__ = ("data", "params")

    def __init__(self, data: Any, params: dict[str, Any]) -> None:
        self.data = data
        self.params = params


class MlflowModel:
    """A pyfunc model; `predict` takes a DataFrame, an array, a dict of arrays or WithParams."""

    __slots__ = ("_bad_input", "pyfunc")

    def __init__(self, pyfunc: Any, bad_input: type[Exception]) -> None:
        self.pyfunc = pyfunc
        self._bad_input = bad_input

    def predict(self, batch: Any) -> Any:
        try:
            if isinstance(batch, WithParams):
                return self.pyfunc.predict(batch.data, params=batch.params)
            return self.pyfunc.predict(batch)
        except (self._bad_input, ValueError) as err:  # schema enforcement, input validation
            raise InvocationError(400, _one_line(err)) from None
        except Exception as err:
            raise InvocationError(500, f"{type(err).__name__}: {_one_line(err)}") from None


class MlflowBodies:
    """The scoring server's bodies, read by MLflow's own parsers (`utils`)."""

    __slots__ = ("_bad_input", "_pandas", "_schema", "_utils")

    def __init__(self, schema: Any, utils: Any, pandas: Any, bad_input: type[Exception]) -> None:
        self._schema = schema
        self._utils = utils
        self._pandas = pandas
        self._bad_input = bad_input

    def decode(self, call: Call) -> Any:
        codecs.negotiate(call.accept, ANSWERS)
        media, _, parameters = (call.content_type or codecs.JSON).partition(";")
        media = media.strip().lower()
        charset = parameters.partition("charset=")[2].split(";")[0].strip().lower()
        if charset not in ("", "utf-8", "utf8"):
            raise InvocationError(415, f"the body must be UTF-8, not {charset}")
        try:
            if media == codecs.CSV:
                return self._csv(call.body)
            if media == codecs.JSON:
                return self._json(codecs.parse_json(call.body))
        except (self._bad_input, ValueError, TypeError) as err:  # the parsers' word on the body
            raise InvocationError(400, _one_line(err)) from None
        raise InvocationError(
            415, f"Content-Type {call.content_type!r} is not supported; use {codecs.JSON} "
            f"or {codecs.CSV} (with a header row)"
        )  # fmt: skip

    def _csv(self, body: bytes) -> Any:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvocationError(400, "the text/csv body is not UTF-8") from None
        dtypes = None
        if self._schema is not None and not self._schema.is_tensor_spec():
            dtypes = dict(zip(self._schema.input_names(), self._schema.pandas_types(), strict=True))
        try:
            return self._pandas.read_csv(io.StringIO(text), dtype=dtypes)
        except Exception as err:  # pandas raises many kinds for a bad CSV
            raise InvocationError(
                400, f"the text/csv body is not a CSV table with a header row: {_one_line(err)}"
            ) from None

    def _json(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise InvocationError(
                400, f"the JSON body must be an object with one of {', '.join(FORMATS)}"
            )
        found = [key for key in FORMATS if key in data]
        if len(found) != 1:
            raise InvocationError(
                400, f"the JSON body must have exactly one of {', '.join(FORMATS)}; it has "
                f"{', '.join(data) or 'no keys'}"
            )  # fmt: skip
        (key,) = found
        if key.startswith("dataframe_"):
            inputs = self._utils.dataframe_from_parsed_json(
                data[key], pandas_orient=key.removeprefix("dataframe_"), schema=self._schema
            )
        else:
            inputs = self._utils.parse_tf_serving_input({key: data[key]}, schema=self._schema)
        params = data.get(PARAMS)
        if params is not None:
            if not isinstance(params, dict):
                raise InvocationError(400, f'"{PARAMS}" must be a JSON object')
            return WithParams(inputs, params)
        return inputs

    def encode(self, call: Call, outputs: Any) -> Prediction:
        predictions = self._utils._get_jsonable_obj(outputs, pandas_orient="records")
        try:
            body = json.dumps({"predictions": predictions}, cls=self._utils.NumpyEncoder)
        except (TypeError, ValueError) as err:
            raise InvocationError(500, f"cannot write the prediction as JSON: {err}") from None
        return Prediction(body.encode(), codecs.JSON)


class MlflowTensors:
    """Named tensors to what the signature wants, as MLServer's MLflow runtime does."""

    __slots__ = ("_output", "_pandas", "_schema")

    def __init__(self, schema: Any, output: str, pandas: Any) -> None:
        self._schema = schema
        self._output = output
        self._pandas = pandas

    def inputs(self, tensors: Mapping[str, Array]) -> Any:
        if not tensors:
            raise InvocationError(400, "the request has no input tensors")
        schema = self._schema
        if schema is not None and schema.is_tensor_spec():
            specs = {spec.name: spec for spec in schema.inputs}
            if not schema.has_input_names():
                if len(tensors) != 1:
                    raise InvocationError(
                        400, f"the model takes one input tensor; the request has {len(tensors)}"
                    )
                return _cast(next(iter(tensors.values())), schema.inputs[0])
            missing = [name for name in specs if name not in tensors]
            if missing:
                raise InvocationError(400, f"the request lacks input tensors {', '.join(missing)}")
            return {name: _cast(tensors[name], specs[name]) for name in specs}
        if len(tensors) == 1:
            (array,) = tensors.values()
            if array.ndim == 2 and array.shape[1] > 1:
                if schema is None:
                    return array
                names = schema.input_names()
                if len(names) != array.shape[1]:
                    raise InvocationError(
                        400, f"the tensor has {array.shape[1]} columns; the model takes "
                        f"{len(names)} ({', '.join(map(str, names))})"
                    )  # fmt: skip
                return self._pandas.DataFrame(array, columns=names)
        columns = {}
        for name, array in tensors.items():
            if array.ndim > 2 or (array.ndim == 2 and array.shape[1] != 1):
                raise InvocationError(
                    400, f"tensor {name!r} has shape {list(array.shape)}; a column takes [N] "
                    "or [N, 1]"
                )  # fmt: skip
            columns[name] = array.reshape(-1)
        if len({len(column) for column in columns.values()}) > 1:
            raise InvocationError(400, "the input tensors have different numbers of rows")
        return self._pandas.DataFrame(columns)

    def outputs(self, outputs: Any) -> dict[str, Array]:
        pandas = self._pandas
        if isinstance(outputs, pandas.DataFrame):
            return {str(name): outputs[name].to_numpy() for name in outputs.columns}
        if isinstance(outputs, pandas.Series):
            return {str(outputs.name or self._output): outputs.to_numpy()}
        if isinstance(outputs, dict):
            return {str(name): np.asarray(value) for name, value in outputs.items()}
        return {self._output: np.asarray(outputs)}


def _cast(array: Array, spec: Any) -> Array:
    want = spec.type
    if array.dtype == want:
        return array
    try:
        return array.astype(want)
    except (TypeError, ValueError):
        raise InvocationError(400, f"the tensor is not {want} values") from None


def _specs(schema: Any, default: str) -> tuple[TensorSpec, ...]:
    """A signature's inputs or outputs as metadata; () for a model without one."""
    if schema is None:
        return ()
    if schema.is_tensor_spec():
        return tuple(
            TensorSpec(spec.name or default, datatype(spec.type), tuple(spec.shape))
            for spec in schema.inputs
        )
    return tuple(
        TensorSpec(
            str(spec.name or default),
            _COLUMN_TYPES.get(getattr(spec.type, "name", ""), "BYTES"),
            (-1,),
        )
        for spec in schema.inputs
    )


def load(model_dir: Path, environment: Mapping[str, str]) -> LoadedModel:
    if not (model_dir / MLMODEL).is_file():
        raise ModelLoadError(f"{model_dir} {_explain(Listing.of_directory(model_dir), {})}")
    pyfunc = import_framework("mlflow.pyfunc", NAME, "mlflow (the mlflow-skinny package)")
    utils = import_framework("mlflow.utils.proto_json_utils", NAME, "mlflow")
    exceptions = import_framework("mlflow.exceptions", NAME, "mlflow")
    pandas = import_framework("pandas", NAME, "pandas")
    try:
        model = pyfunc.load_model(str(model_dir))
    except Exception as err:  # the model's own loader: a missing package, a bad file, ...
        hint = ""
        if isinstance(err, ImportError):
            hint = f"; install what {model_dir / 'requirements.txt'} lists"
        raise ModelLoadError(
            f"cannot load the MLflow model: {type(err).__name__}: {_one_line(err)}{hint}"
        ) from None
    inputs = model.metadata.get_input_schema()
    outputs = model.metadata.get_output_schema()
    output_specs = _specs(outputs, "predictions")
    output_name = output_specs[0].name if len(output_specs) == 1 else "predictions"
    bad_input = exceptions.MlflowException
    return LoadedModel(
        MlflowModel(model, bad_input),
        MlflowBodies(inputs, utils, pandas, bad_input),
        MlflowTensors(inputs, output_name, pandas),
        batchable=True,
        platform="mlflow",
        inputs=_specs(inputs, "input-0"),
        outputs=output_specs,
    )


FLAVOR = register(
    Flavor(
        name=NAME,
        summary="an MLflow model (MLmodel at the root), served by mlflow.pyfunc as `mlflow "
        "models serve` does: JSON dataframe_split / dataframe_records / instances / inputs "
        'or CSV with a header in, {"predictions": ...} out',
        rank=20,  # before sklearn: an MLflow directory holds a model.pkl too
        detect=_detect,
        explain=_explain,
        load=load,
        marker=f"an {MLMODEL} file",
        images=("turnout/mlflow",),
        batching="yes (params: alone)",
    )
)
