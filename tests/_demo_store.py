"""What the demo leaves in a store, as plain data two runs of it can be compared on."""

from __future__ import annotations

from typing import Any

from workbench.client import Workbench
from workbench.demo import DEPLOYMENT, EXPERIMENT, MODEL, REPORT


def inventory(client: Workbench) -> dict[str, Any]:
    """Every run (id, status, end time), model version, alias move, deployment, sweep, kept
    report and served row of the demo's store."""
    client.flush()
    runs = client.search_runs(max_results=None, include_deleted=True)
    reports = client.search_runs(
        "drift-reports", filter="tags.`workbench.kind` = 'drift_report'", max_results=None
    )
    return {
        "runs": sorted(
            zip(runs["run_id"], runs["status"], runs["end_time"].astype(str), strict=True)
        ),
        "demo_runs": int((runs["experiment"] == EXPERIMENT).sum()),
        "versions": list(client.list_model_versions(MODEL)["version"]),
        "champion": client.get_model_version(f"{MODEL}@champion").version,
        "alias_moves": len(client.alias_history(MODEL)),
        "deployments": list(client.list_deployments()["deployment_id"]),
        "sweeps": list(client.list_sweeps()["name"]),
        "reports": list(reports["name"]),
        "served_rows": len(client.read_request_log(DEPLOYMENT)),
        "report": REPORT,
    }
