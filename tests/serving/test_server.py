"""A real server process on a free loopback port: every payload format, every route, precise 4xx
answers after which the server keeps serving, and the deployment's life in the store."""

from __future__ import annotations

import io
import json
import os
import signal
import time

import httpx
import numpy as np
import pytest
from _serving_models import Models, split_payload

import workbench as wb
from workbench.exceptions import InvalidParameterError, ModelNotFoundError, SignatureMismatchError
from workbench.serving import Deployment, deploy, get_deployment, list_deployments


def _predict(http: httpx.Client, **request: object) -> list[object]:
    response = http.post("/invocations", **request)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-model-version"] == "bc/1"
    assert response.headers["x-model-role"] == "primary"
    return response.json()["predictions"]  # type: ignore[no-any-return]


def test_every_payload_format_gives_model_predict(
    models: Models, server: Deployment, http: httpx.Client
) -> None:
    rows = models.X.iloc[:7]
    expected = models.v1.predict(rows).tolist()
    records = rows.to_dict(orient="records")
    columns = {c: rows[c].tolist() for c in rows.columns}
    for payload in (
        split_payload(rows),
        {"dataframe_records": records},
        {"instances": records},
        {"instances": rows.values.tolist()},
        {"inputs": columns},
        {"inputs": records},
        {"inputs": rows.values.tolist()},
    ):
        assert _predict(http, json=payload) == expected, list(payload)
    csv = rows.to_csv(index=False).encode()
    assert _predict(http, content=csv, headers={"content-type": "text/csv"}) == expected
    legacy = json.dumps({"columns": list(rows.columns), "data": rows.values.tolist()})
    headers = {"content-type": "application/json; format=pandas-split"}
    assert _predict(http, content=legacy, headers=headers) == expected
    # one row, the latency path, and the handle's own client
    assert _predict(http, json=split_payload(rows.head(1))) == expected[:1]
    np.testing.assert_array_equal(server.predict(rows), expected)
    np.testing.assert_array_equal(server.predict(records), expected)


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code", "needle"),
    [
        (
            {"json": {"dataframe_records": [{"mean radiu": 1.0}]}},
            400,
            "SIGNATURE_MISMATCH",
            "missing column 'mean radius' (float, float64) (did you mean 'mean radiu'?)",
        ),
        ({"json": "ROW"}, 400, "SIGNATURE_MISMATCH", "cannot be read as numbers: ['abc']"),
        ({"json": "NULL"}, 400, "SIGNATURE_MISMATCH", "missing value(s) at rows [0]"),
        ({"content": b""}, 400, "MALFORMED_REQUEST", "body is empty"),
        (
            {"content": b"{", "headers": {"content-type": "application/json"}},
            400,
            "MALFORMED_REQUEST",
            "not valid JSON",
        ),
        (
            {"json": {"dataframe_split": {"columns": ["a"], "data": []}}},
            400,
            "MALFORMED_REQUEST",
            "no rows",
        ),
        (
            {"content": b"x", "headers": {"content-type": "text/plain"}},
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "text/plain",
        ),
        ({"json": "MANY"}, 413, "PAYLOAD_TOO_LARGE", "at most 1,000 per request"),
        (
            {
                "content": b"[" + b"1," * 200_000 + b"1]",
                "headers": {"content-type": "application/json"},
            },
            413,
            "PAYLOAD_TOO_LARGE",
            "at most 300,000",
        ),
    ],
)
def test_bad_requests_get_4xx_naming_the_problem_and_the_server_keeps_serving(
    models: Models,
    http: httpx.Client,
    request_kwargs: dict[str, object],
    status: int,
    code: str,
    needle: str,
) -> None:
    row = models.X.iloc[:1]
    if request_kwargs.get("json") == "ROW":
        payload = split_payload(row)
        payload["dataframe_split"]["data"][0][3] = "abc"  # type: ignore[index]
        request_kwargs = {"json": payload}
    elif request_kwargs.get("json") == "NULL":
        payload = split_payload(row)
        payload["dataframe_split"]["data"][0][0] = None  # type: ignore[index]
        request_kwargs = {"json": payload}
    elif request_kwargs.get("json") == "MANY":
        request_kwargs = {"json": {"instances": models.X.iloc[[0] * 1001].values.tolist()}}
    response = http.post("/invocations", **request_kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert needle in body["message"]
    assert response.headers["x-request-id"]  # errors are traceable like answers
    assert _predict(http, json=split_payload(row)) == models.v1.predict(row).tolist()


def test_client_errors_raise_the_servers_error(models: Models, server: Deployment) -> None:
    with pytest.raises(SignatureMismatchError, match="missing column 'mean radius'"):
        server.predict(models.X.drop(columns=["mean radius"]).head(2))


def test_health_ready_version_metadata_metrics_openapi(
    models: Models, server: Deployment, http: httpx.Client
) -> None:
    health = http.get("/health").json()
    assert health["status"] == "ok" and health["ready"] is True
    assert health["models"]["primary"]["uri"] == "bc/1"
    assert http.get("/ping").status_code == 200
    assert http.get("/ready").json()["ready"] is True
    version = http.get("/version").json()
    assert (version["model"], version["version"], version["workbench"]) == (
        "bc",
        1,
        wb.__version__,
    )
    metadata = http.get("/metadata").json()
    assert metadata["deployment_id"] == server.deployment_id
    assert [c["name"] for c in metadata["signature"]["inputs"]] == list(models.X.columns)
    assert len(metadata["input_example"]["data"]) == 5
    http.post("/invocations", json=split_payload(models.X.iloc[:3]))
    http.post("/invocations", json={"nope": 1})
    metrics = http.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'workbench_requests_total{model="bc",role="primary",status="200",version="1"}' in text
    assert (
        'workbench_request_errors_total{error_code="MALFORMED_REQUEST",kind="client",model="bc"'
        in text
    )
    assert "workbench_request_latency_seconds_bucket{" in text
    assert 'workbench_prediction_rows_total{model="bc",role="primary",version="1"}' in text
    document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    schemas = document["components"]["schemas"]
    records = schemas["DataframeRecords"]["properties"]["dataframe_records"]["items"]
    assert records["required"] == list(models.X.columns)
    assert records["properties"]["mean radius"]["type"] == "number"


def test_unknown_routes_and_methods_answer_json(http: httpx.Client) -> None:
    missing = http.get("/nope")
    assert missing.status_code == 404 and missing.json()["error_code"] == "NOT_FOUND"
    wrong = http.get("/invocations")
    assert wrong.status_code == 405 and wrong.json()["error_code"] == "METHOD_NOT_ALLOWED"
    assert "POST" in wrong.headers["allow"]


def test_deployments_are_listed_and_stopped_from_any_handle(
    models: Models, server: Deployment
) -> None:
    listed = list_deployments(client=models.client)
    row = listed.set_index("deployment_id").loc[server.deployment_id]
    assert (row["status"], row["url"], row["model_uri"]) == ("running", server.url, "bc@champion")
    with deploy("bc/2", client=models.client, deployment="second-bc") as second:
        other = get_deployment("second-bc", client=models.client)
        status = other.status()
        assert status.state == "running" and status.healthy
        assert status.models["primary"]["uri"] == "bc/2"
        other.stop()
        assert second.status().state == "stopped"
    assert get_deployment("second-bc", client=models.client).status().state == "stopped"


def test_a_killed_server_shows_as_dead(models: Models) -> None:
    deployment = deploy("bc/1", client=models.client)
    os.kill(deployment.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while deployment.status().state != "dead" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert deployment.status().state == "dead"
    listed = list_deployments(client=models.client).set_index("deployment_id")
    assert listed.loc[deployment.deployment_id, "status"] == "dead"
    assert not deployment.status().healthy
    deployment.stop()  # reaps the process; a dead deployment stays dead
    assert deployment.status().state == "dead"


def test_refusals_before_any_process_starts(models: Models) -> None:
    with pytest.raises(InvalidParameterError, match=r"'host' parameter of deploy.*allow_remote"):
        deploy("bc/1", client=models.client, host="0.0.0.0")
    with pytest.raises(ModelNotFoundError):
        deploy("bc/99", client=models.client)
    with pytest.raises(InvalidParameterError, match="canary"):
        deploy("bc/1", client=models.client, canary=("bc/2", 1.5))
    with pytest.raises(InvalidParameterError, match="store"):
        deploy("bc/1", client=wb.connect(":memory:"))


def test_csv_with_bad_values_is_a_400(models: Models, http: httpx.Client) -> None:
    frame = models.X.iloc[:2].copy()
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    text = buffer.getvalue().replace(str(frame.iloc[1, 0]), "oops", 1)
    response = http.post("/invocations", content=text, headers={"content-type": "text/csv"})
    assert response.status_code == 400
    assert "'mean radius'" in response.json()["message"] and "oops" in response.json()["message"]
