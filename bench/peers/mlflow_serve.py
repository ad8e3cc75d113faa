"""MLflow side of the serving benchmark. Runs inside bench/.venvs/mlflow (see bench_serving.py).

    python mlflow_serve.py save DIR

trains the benchmark's model (the same data, estimator and settings as the workbench side, so
the predictions are identical: both venvs have the same scikit-learn), saves it with
``mlflow.sklearn.save_model`` (with a signature and an input example, so the scoring server
enforces the schema as workbench does), and times the pyfunc's in-process ``predict`` on one row.
The last stdout line is one JSON object. ``bench_serving.py`` then starts
``mlflow models serve -m DIR/model --env-manager local`` from this venv.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] != "save":
        raise SystemExit("usage: mlflow_serve.py save DIR")
    target = Path(sys.argv[2]) / "model"
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(X, y)
    signature = infer_signature(X, model.predict(X))
    mlflow.sklearn.save_model(model, str(target), signature=signature, input_example=X.head(5))
    pyfunc = mlflow.pyfunc.load_model(str(target))
    row = X.iloc[:1]
    for _ in range(200):
        pyfunc.predict(row)
    times = []
    for _ in range(1000):
        t0 = time.perf_counter()
        pyfunc.predict(row)
        times.append(time.perf_counter() - t0)
    print(
        json.dumps(
            {
                "model_path": str(target),
                "mlflow": mlflow.__version__,
                "sklearn": sklearn.__version__,
                "pyfunc_predict_p50_s": statistics.median(times),
                "predictions": model.predict(X.iloc[:50]).tolist(),
            }
        )
    )


if __name__ == "__main__":
    main()
