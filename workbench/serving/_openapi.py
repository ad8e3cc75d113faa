"""The OpenAPI 3.1 document of a model server, with request schemas from the model's signature.

Written by hand rather than generated from route docstrings, so that the request bodies are
exact: each MLflow format is a schema of its own (``oneOf``), and record and column schemas carry
the signature's columns, JSON types and nullability. That is what lets a fuzzer (schemathesis)
send well-typed inputs and malformed ones alike. Column names and kinds come from the primary
version being served; the document follows alias moves.
"""

from __future__ import annotations

from typing import Any

from workbench._version import __version__
from workbench.registry import ColumnSpec, ModelSignature

__all__ = ["openapi_document"]

_INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
_ANY_SCALAR = {"type": ["string", "number", "boolean", "null"]}


def _column_schema(spec: ColumnSpec) -> dict[str, Any]:
    kind = spec.kind
    schema: dict[str, Any]
    if kind == "float":
        schema = {"type": "number"}
    elif kind == "integer":
        schema = dict(_INT64)
    elif kind == "boolean":
        schema = {"type": "boolean"}
    elif kind == "string":
        schema = {"type": "string"}
    elif kind == "datetime":
        schema = {"type": "string", "format": "date-time"}
    elif kind == "category":
        schema = {"type": ["string", "number", "boolean"]}
    else:
        return {"description": f"{spec.name} ({spec.dtype}): any JSON value"}
    if spec.nullable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    schema["description"] = f"{spec.name} ({spec.kind}, {spec.dtype})"
    return schema


def _record_schema(signature: ModelSignature | None) -> dict[str, Any]:
    if signature is None:
        return {"type": "object", "minProperties": 1}
    return {
        "type": "object",
        "properties": {s.name: _column_schema(s) for s in signature.inputs},
        "required": [s.name for s in signature.inputs],
        "description": "One row: column name to value. Columns the model does not take are "
        "ignored.",
    }


def _row_schema(signature: ModelSignature | None) -> dict[str, Any]:
    if signature is None:
        return {"type": "array", "items": _ANY_SCALAR, "minItems": 1}
    columns = [_column_schema(s) for s in signature.inputs]
    return {
        "type": "array",
        "prefixItems": columns,
        "items": False,
        "minItems": len(columns),
        "description": f"One row: values in signature order {[s.name for s in signature.inputs]}",
    }


def _request_schemas(signature: ModelSignature | None) -> dict[str, Any]:
    record = _record_schema(signature)
    row = _row_schema(signature)
    params = {"type": ["object", "null"], "maxProperties": 0, "description": "Only empty."}
    split = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "columns": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            "data": {"type": "array", "items": {"type": "array"}, "minItems": 1},
            "index": {"type": "array"},
        },
        "additionalProperties": False,
        "description": "pandas orient='split'. Every row has one value per column; columns "
        "may come in any order.",
    }
    columns: dict[str, Any] = {"type": "object", "minProperties": 1}
    if signature is not None:
        columns = {
            "type": "object",
            "properties": {
                s.name: {"type": "array", "items": _column_schema(s), "minItems": 1}
                for s in signature.inputs
            },
            "required": [s.name for s in signature.inputs],
            "description": "Column name to a list of values (all lists of the same length).",
        }
    many = {"type": "array", "items": record, "minItems": 1}
    rows = {"type": "array", "items": row, "minItems": 1}

    def wrap(key: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": [key],
            "properties": {key: schema, "params": params},
            "additionalProperties": False,
        }

    return {
        "DataframeSplit": wrap("dataframe_split", split),
        "DataframeRecords": wrap("dataframe_records", many),
        "Instances": wrap("instances", {"anyOf": [many, rows]}),
        "Inputs": wrap("inputs", {"anyOf": [columns, record, many, rows]}),
    }


def openapi_document(signature: ModelSignature | None, model_uri: str) -> dict[str, Any]:
    """The OpenAPI document of a server answering for ``model_uri`` with ``signature``."""
    schemas: dict[str, Any] = _request_schemas(signature)
    schemas["Error"] = {
        "type": "object",
        "required": ["error_code", "message"],
        "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
    }
    schemas["Predictions"] = {
        "type": "object",
        "required": ["predictions"],
        "properties": {"predictions": {"type": "array"}},
    }
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    json_object = {"content": {"application/json": {"schema": {"type": "object"}}}}

    def described(text: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"description": text, **body}

    def get(summary: str, ok: dict[str, Any], extra: dict[str, Any] | None = None) -> Any:
        return {"get": {"summary": summary, "responses": {"200": ok, **(extra or {})}}}

    headers = {
        name: {"schema": {"type": "string"}, "description": text}
        for name, text in (
            ("x-request-id", "Id of the request in the request log."),
            ("x-model-version", "The version that answered (name/version)."),
            ("x-model-role", "primary, canary or fallback."),
        )
    }
    request_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": f"#/components/schemas/{n}"}
                        for n in ("DataframeSplit", "DataframeRecords", "Instances", "Inputs")
                    ]
                }
            },
            "text/csv": {"schema": {"type": "string", "description": "A header row, then rows."}},
        },
    }
    invocations = {
        "post": {
            "summary": f"Score rows with {model_uri} (MLflow scoring formats).",
            "requestBody": request_body,
            "responses": {
                "200": {
                    "description": "Predictions, one per row.",
                    "headers": headers,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Predictions"}}
                    },
                },
                "400": described(
                    "Malformed payload, or rows that do not fit the signature.", error
                ),
                "413": described("More bytes or rows than the server accepts.", error),
                "415": described("Content-Type other than JSON or CSV.", error),
                "500": described("The model failed on a valid input (no fallback).", error),
                "503": described("The models are still loading.", error),
                "504": described("The model timed out (no fallback).", error),
            },
        }
    }
    text = {"content": {"text/plain": {"schema": {"type": "string"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"workbench model server: {model_uri}",
            "version": __version__,
            "description": "Scores rows with a model from the workbench registry. No "
            "authentication: bind to loopback, or put an authenticating proxy in front.",
        },
        "paths": {
            "/invocations": invocations,
            "/health": get(
                "Liveness, and the versions being served.", described("Alive.", json_object)
            ),
            "/ping": get("Liveness (MLflow's path).", described("Alive.", json_object)),
            "/ready": get(
                "Readiness: 200 once every configured model is loaded.",
                described("Ready.", json_object),
                {"503": described("Still loading.", error)},
            ),
            "/version": get("Model and workbench versions.", described("Versions.", json_object)),
            "/metadata": get(
                "Model, versions, signature, input example, traffic policy.",
                described("Metadata.", json_object),
            ),
            "/metrics": get("Prometheus metrics.", described("Text exposition format.", text)),
            "/openapi.json": get("This document.", described("OpenAPI 3.1.", json_object)),
        },
        "components": {"schemas": schemas},
    }
