"""Serving benchmark: the same model behind workbench.deploy and ``mlflow models serve``.

    python bench/bench_serving.py                       # 2,000 latency + 5,000 throughput requests
    python bench/bench_serving.py --workers 2           # both servers with 2 worker processes
    python bench/bench_serving.py --json out.json
    python bench/bench_serving.py --keepalive-only      # workbench alone: the keep-alive case

One scikit-learn model (LogisticRegression on breast_cancer, 30 float columns) is trained twice,
identically: here (registered in a temporary workbench store and served by ``workbench.deploy``)
and in ``bench/.venvs/mlflow`` (saved with ``mlflow.sklearn.save_model`` with a signature and
served by ``mlflow models serve --env-manager local`` from that venv; see
``peers/mlflow_serve.py``). Both servers get the same bytes from the same httpx load generator on
127.0.0.1: a one-row ``dataframe_split`` request, sequentially for latency (p50/p99), then at
concurrency 16 for throughput. Rounds alternate between the two servers so that noise from
other processes on the machine falls on both. ``model.predict`` on the same row, in-process, is
the floor the overhead is measured from.

Goals (the issue's): p50 overhead <= 2 ms over ``model.predict``; throughput >= 5x MLflow's.

The keep-alive case: one client sending requests one after another on a single reused connection
(what a notebook calling ``Deployment.predict`` in a loop does), with a minimal HTTP/1.1 client
(so that the figure is the server's) and with the handle's own httpx client; for workbench under
each event loop / HTTP parser pair (``--stacks``), since whether a response waits for the
client's delayed ACK (~40 ms on Linux) depends on the server setting TCP_NODELAY, which uvloop
always does and asyncio only for sockets named as TCP.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _peers when run as a script
from _peers import _clean_env, ensure_venv, run_in_venv

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
MLFLOW_REQUIREMENTS = ["mlflow==3.17.2"]  # the venv bench_tracking.py uses
MLFLOW_SCRIPT = BENCH_DIR / "peers" / "mlflow_serve.py"
GOAL_OVERHEAD_S = 0.002
DELAYED_ACK_S = 0.035  # a p50 above this on loopback means responses wait for delayed ACKs
GOAL_THROUGHPUT_RATIO = 5.0
ROUNDS = 4
WARMUP = 200


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _import_workbench() -> Any:
    try:
        import workbench
    except ImportError:
        sys.path.insert(0, str(REPO_ROOT))
        import workbench
    return workbench


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --------------------------------------------------------------------------- load generator


def latency_round(url: str, body: bytes, requests: int) -> list[float]:
    """Sequential requests on one keep-alive connection; seconds per request."""
    import httpx

    headers = {"content-type": "application/json"}
    times = []
    with httpx.Client(base_url=url, timeout=30.0, trust_env=False) as http:
        for _ in range(WARMUP // ROUNDS):
            http.post("/invocations", content=body, headers=headers).raise_for_status()
        for _ in range(requests):
            t0 = time.perf_counter()
            response = http.post("/invocations", content=body, headers=headers)
            times.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
    return times


def keepalive_round(url: str, body: bytes, requests: int) -> list[float]:
    """Sequential requests on one reused connection with a minimal blocking HTTP/1.1 client
    (request line, headers and body in one ``sendall``); seconds per request."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    request = (
        f"POST /invocations HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    times = []
    with socket.create_connection((host.strip("[]"), int(port))) as sock:
        reader = sock.makefile("rb")
        for i in range(WARMUP // ROUNDS + requests):
            t0 = time.perf_counter()
            sock.sendall(request)
            status = reader.readline()
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            reader.read(length)
            if i >= WARMUP // ROUNDS:
                times.append(time.perf_counter() - t0)
            if not status.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"{url}: {status!r}")
    return times


def predict_round(deployment: Any, row: Any, requests: int) -> list[float]:
    """``Deployment.predict`` on one row, sequentially (its httpx client keeps the connection)."""
    times = []
    for i in range(WARMUP // ROUNDS + requests):
        t0 = time.perf_counter()
        deployment.predict(row)
        if i >= WARMUP // ROUNDS:
            times.append(time.perf_counter() - t0)
    return times


async def _throughput(url: str, body: bytes, requests: int, concurrency: int) -> float:
    import httpx

    headers = {"content-type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    remaining = iter(range(concurrency * 10))  # warm-up: open the connections
    failures = 0
    async with httpx.AsyncClient(
        base_url=url, timeout=60.0, limits=limits, trust_env=False
    ) as http:

        async def worker() -> None:
            nonlocal failures
            for _ in remaining:
                response = await http.post("/invocations", content=body, headers=headers)
                failures += response.status_code != 200

        await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm the connections
        remaining = iter(range(requests))
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"{url}: {failures} requests failed")
    return requests / elapsed


def _throughput_process(
    url: str, body: bytes, requests: int, concurrency: int, start_at: float
) -> tuple[float, float]:
    """One load-generator process: warm up, wait for the common start, run; (start, end)."""

    async def go() -> tuple[float, float]:
        import httpx

        headers = {"content-type": "application/json"}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=url, timeout=60.0, limits=limits, trust_env=False
        ) as http:
            remaining = iter(range(concurrency * 10))

            async def worker() -> None:
                for _ in remaining:
                    response = await http.post("/invocations", content=body, headers=headers)
                    if response.status_code != 200:
                        raise RuntimeError(f"{url}: {response.status_code}")

            await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm-up
            await asyncio.sleep(max(0.0, start_at - time.time()))
            remaining = iter(range(requests))
            started = time.time()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return started, time.time()

    return asyncio.run(go())


def throughput_round(
    url: str, body: bytes, requests: int, concurrency: int, processes: int = 1
) -> float:
    """Requests per second at ``concurrency`` with httpx's AsyncClient, the load generator.

    httpx costs ~1.7 ms of client CPU per request here, so one asyncio process cannot send more
    than ~600 requests/s; ``processes`` generators share the concurrency and the requests."""
    if processes == 1:
        return asyncio.run(_throughput(url, body, requests, concurrency))
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    share = requests // processes
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        start_at = time.time() + 3.0  # after every process has started and warmed up
        spans = list(
            pool.map(
                _throughput_process,
                [url] * processes,
                [body] * processes,
                [share] * processes,
                [concurrency // processes] * processes,
                [start_at] * processes,
            )
        )
    return share * processes / (max(e for _, e in spans) - min(s for s, _ in spans))


async def _raw_throughput(url: str, body: bytes, requests: int, concurrency: int) -> float:
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"POST /invocations HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    remaining = iter(range(requests))
    failures = 0

    async def connection() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for _ in remaining:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                failures += not head.startswith(b"HTTP/1.1 200")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"{url}: {failures} requests failed")
    return requests / elapsed


def raw_throughput_round(url: str, body: bytes, requests: int, concurrency: int) -> float:
    """The same at the same concurrency with a minimal HTTP/1.1 client on asyncio streams:
    ~20x less client CPU per request than httpx, so on a 2-core machine it measures the server
    rather than the client."""
    return asyncio.run(_raw_throughput(url, body, requests, concurrency))


# --------------------------------------------------------------------------- servers


def register_workbench(model: Any, X: Any, store: Path) -> None:
    wb = _import_workbench()
    client = wb.connect(str(store))  # the client deploy() uses too; closed by the caller
    registry = wb.registry.ModelRegistry(client)
    with client.start_run("bench-serving") as run:
        run.log_params({"model": "LogisticRegression", "max_iter": 5000})
    registry.register_model("bench", run=run.run_id, model=model, input_example=X)
    registry.set_alias("bench", "champion", 1)


def start_workbench(
    model: Any,
    X: Any,
    store: Path,
    workers: int,
    stack: str = "auto/auto",
    *,
    register: bool = True,
) -> Any:
    if register:
        register_workbench(model, X, store)
    t0 = time.perf_counter()
    from workbench.serving import deploy

    loop, http = stack.split("/")
    client = _import_workbench().connect(str(store))
    deployment = deploy("bench@champion", client=client, workers=workers, loop=loop, http=http)
    log(f"workbench ({stack}) ready at {deployment.url} in {time.perf_counter() - t0:.1f} s")
    return deployment


def start_mlflow(
    model_path: str, workers: int, workdir: Path
) -> tuple[subprocess.Popen[bytes], str]:
    python = ensure_venv("mlflow", MLFLOW_REQUIREMENTS)
    port = _free_port()
    command = [
        str(python.parent / "mlflow"),
        "models",
        "serve",
        "-m",
        model_path,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        str(workers),
    ]
    env = _clean_env()
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"  # it runs `uvicorn`
    log_file = open(workdir / "mlflow-serve.log", "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        command, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    import httpx

    t0 = time.perf_counter()
    deadline = t0 + 180
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"mlflow models serve exited: {(workdir / 'mlflow-serve.log').read_text()[-2000:]}"
            )
        try:
            if httpx.get(f"{url}/ping", timeout=1.0, trust_env=False).status_code == 200:
                log(f"mlflow ready at {url} in {time.perf_counter() - t0:.1f} s")
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_mlflow(process)
    raise RuntimeError("mlflow models serve was not ready after 180 s")


def stop_mlflow(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the process group this script started
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --------------------------------------------------------------------------- main


def predict_floor(model: Any, row: Any, calls: int = 3000) -> tuple[float, float]:
    for _ in range(300):
        model.predict(row)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        model.predict(row)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), _quantile(times, 0.99)


def _model_and_one_row_body() -> tuple[Any, Any, bytes]:
    """The benchmark's data, fitted model, and the body of a one-row request."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(X, y)
    body = json.dumps(
        {"dataframe_split": {"columns": list(X.columns), "data": X.iloc[:1].values.tolist()}}
    ).encode()
    return X, model, body


def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    X, model, body = _model_and_one_row_body()
    row = X.iloc[:1]
    out: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "workers": args.workers,
        "concurrency": args.concurrency,
        "client_processes": args.client_processes,
    }
    p50, p99 = predict_floor(model, row)
    out["predict_p50_s"], out["predict_p99_s"] = p50, p99
    log(f"model.predict on 1 row, in-process: p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms")
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        workdir = Path(tmp)
        log("preparing the MLflow model in its venv ...")
        python = ensure_venv("mlflow", MLFLOW_REQUIREMENTS)
        peer = run_in_venv(python, MLFLOW_SCRIPT, ["save", str(workdir)], timeout=600)
        out["mlflow_meta"] = {k: peer[k] for k in ("mlflow", "sklearn", "pyfunc_predict_p50_s")}
        deployment = start_workbench(model, X, workdir / "store", args.workers)
        mlflow_process, mlflow_url = start_mlflow(peer["model_path"], args.workers, workdir)
        try:
            servers = {"workbench": deployment.url, "mlflow": mlflow_url}
            sample = json.dumps(
                {
                    "dataframe_split": {
                        "columns": list(X.columns),
                        "data": X.iloc[:50].values.tolist(),
                    }
                }
            )
            answers = {
                name: httpx.post(
                    f"{url}/invocations",
                    content=sample,
                    headers={"content-type": "application/json"},
                    trust_env=False,
                ).json()["predictions"]
                for name, url in servers.items()
            }
            expected = model.predict(X.iloc[:50]).tolist()
            if not answers["workbench"] == answers["mlflow"] == peer["predictions"] == expected:
                raise RuntimeError(f"the servers disagree: {answers}")
            pids = {"workbench": deployment.pid, "mlflow": mlflow_process.pid}
            latency: dict[str, list[float]] = {name: [] for name in servers}
            keepalive: dict[str, list[float]] = {name: [] for name in servers}
            per_round = max(1, args.latency_requests // ROUNDS)
            for i in range(ROUNDS):
                for name, url in servers.items() if i % 2 == 0 else reversed(servers.items()):
                    latency[name] += latency_round(url, body, per_round)
                    keepalive[name] += keepalive_round(url, body, per_round)
            log("latency done; throughput ...")
            rates: dict[str, dict[str, list[float]]] = {
                name: {"httpx": [], "raw": [], "cpu": []} for name in servers
            }
            for i in range(2):
                for name, url in servers.items() if i % 2 == 0 else reversed(servers.items()):
                    n = args.throughput_requests // 2
                    rate = throughput_round(url, body, n, args.concurrency, args.client_processes)
                    rates[name]["httpx"].append(rate)
                    before = _tree_cpu(pids[name])
                    raw = raw_throughput_round(url, body, n, args.concurrency)
                    rates[name]["cpu"].append((_tree_cpu(pids[name]) - before) / n)
                    rates[name]["raw"].append(raw)
                    log(f"{name}: {rate:,.0f} req/s (httpx client), {raw:,.0f} req/s (raw client)")
            ping = []
            with httpx.Client(base_url=deployment.url, trust_env=False) as http:
                for _ in range(500):
                    t0 = time.perf_counter()
                    http.get("/ping")
                    ping.append(time.perf_counter() - t0)
            out["workbench_ping_p50_s"] = statistics.median(ping)
        finally:
            deployment.stop()
            stop_mlflow(mlflow_process)
            _import_workbench().connect(str(workdir / "store")).close()
        for name in servers:
            times = latency[name]
            out[name] = {
                "latency_requests": len(times),
                "p50_s": statistics.median(times),
                "p99_s": _quantile(times, 0.99),
                "keepalive_p50_s": statistics.median(keepalive[name]),
                "keepalive_p99_s": _quantile(keepalive[name], 0.99),
                "throughput_requests": args.throughput_requests,
                "throughput_rps": statistics.mean(rates[name]["httpx"]),
                "throughput_rounds_rps": rates[name]["httpx"],
                "raw_throughput_rps": statistics.mean(rates[name]["raw"]),
                "raw_throughput_rounds_rps": rates[name]["raw"],
                "server_cpu_per_request_s": statistics.mean(rates[name]["cpu"]),
            }
    wb, ml = out["workbench"], out["mlflow"]
    out["overhead_p50_s"] = wb["p50_s"] - out["predict_p50_s"]
    out["throughput_ratio"] = wb["throughput_rps"] / ml["throughput_rps"]
    out["raw_throughput_ratio"] = wb["raw_throughput_rps"] / ml["raw_throughput_rps"]
    return out


def run_keepalive(args: argparse.Namespace) -> dict[str, Any]:
    """The keep-alive case alone, for workbench under each ``--stacks`` (no MLflow venv)."""
    X, model, body = _model_and_one_row_body()
    row = X.iloc[:1]
    out: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_average": os.getloadavg()[0],
        "keepalive": {},
    }
    p50, p99 = predict_floor(model, row)
    out["predict_p50_s"], out["predict_p99_s"] = p50, p99
    per_round = max(1, args.latency_requests // ROUNDS)
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        store = Path(tmp) / "store"
        register_workbench(model, X, store)
        for stack in args.stacks.split(","):
            deployment = start_workbench(model, X, store, args.workers, stack, register=False)
            raw: list[float] = []
            handle: list[float] = []
            try:
                for _ in range(ROUNDS):
                    raw += keepalive_round(deployment.url, body, per_round)
                    handle += predict_round(deployment, row, per_round // 4)
            finally:
                deployment.stop()
            out["keepalive"][stack] = {
                "raw_p50_s": statistics.median(raw),
                "raw_p99_s": _quantile(raw, 0.99),
                "predict_p50_s": statistics.median(handle),
                "predict_p99_s": _quantile(handle, 0.99),
                "requests": len(raw),
            }
            log(f"{stack}: keep-alive p50 {statistics.median(raw) * 1e3:.2f} ms")
        _import_workbench().connect(str(store)).close()
    return out


def report_keepalive(out: dict[str, Any]) -> None:
    ms = 1e3
    print(
        "\nKeep-alive: one client, sequential 1-row requests on one connection "
        f"(load average {out['load_average']:.1f})"
    )
    print(f"{'loop/http':18} {'raw p50':>9} {'raw p99':>9} {'predict() p50':>14} {'p99':>9}  (ms)")
    for stack, m in out["keepalive"].items():
        print(
            f"{stack:18} {m['raw_p50_s'] * ms:9.2f} {m['raw_p99_s'] * ms:9.2f} "
            f"{m['predict_p50_s'] * ms:14.2f} {m['predict_p99_s'] * ms:9.2f}"
        )
        if m["raw_p50_s"] > DELAYED_ACK_S:
            print(f"  {stack}: responses wait for the client's delayed ACK (TCP_NODELAY unset?)")
    print(f"{'model.predict in-process':18} {out['predict_p50_s'] * ms:9.3f}")


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its children (MLflow's server is a grandchild)."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            times = proc.cpu_times()
            total += times.user + times.system
    except psutil.Error:
        pass
    return total


def report(out: dict[str, Any]) -> None:
    wb, ml = out["workbench"], out["mlflow"]
    ms = 1e3
    c = out["concurrency"]
    rows = [
        ("p50 latency, 1 row (ms)", wb["p50_s"] * ms, ml["p50_s"] * ms, ml["p50_s"] / wb["p50_s"]),
        ("p99 latency, 1 row (ms)", wb["p99_s"] * ms, ml["p99_s"] * ms, ml["p99_s"] / wb["p99_s"]),
        (
            "p50 keep-alive, raw client (ms)",
            wb["keepalive_p50_s"] * ms,
            ml["keepalive_p50_s"] * ms,
            ml["keepalive_p50_s"] / wb["keepalive_p50_s"],
        ),
        (
            f"throughput @ {c}, httpx x{out['client_processes']} (req/s)",
            wb["throughput_rps"],
            ml["throughput_rps"],
            out["throughput_ratio"],
        ),
        (
            f"throughput @ {c}, raw (req/s)",
            wb["raw_throughput_rps"],
            ml["raw_throughput_rps"],
            out["raw_throughput_ratio"],
        ),
        (
            "server CPU per request (ms)",
            wb["server_cpu_per_request_s"] * ms,
            ml["server_cpu_per_request_s"] * ms,
            ml["server_cpu_per_request_s"] / wb["server_cpu_per_request_s"],
        ),
    ]
    meta = out.get("mlflow_meta", {})
    print(f"\nServing benchmark ({out['workers']} worker(s) each; MLflow {meta.get('mlflow', '')})")
    print(f"{'':34} {'workbench':>10} {'mlflow':>10} {'ratio':>7}")
    for label, a, b, ratio in rows:
        print(f"{label:34} {a:10.2f} {b:10.2f} {ratio:6.1f}x")
    print(f"{'model.predict in-process (ms)':34} {out['predict_p50_s'] * ms:10.3f}")
    if "pyfunc_predict_p50_s" in meta:
        print(
            f"{'mlflow pyfunc.predict (ms)':34} {'':10} {meta['pyfunc_predict_p50_s'] * ms:10.3f}"
        )
    print(f"{'GET /ping, workbench (ms)':34} {out['workbench_ping_p50_s'] * ms:10.3f}")
    overhead = out["overhead_p50_s"]
    met = "met" if overhead <= GOAL_OVERHEAD_S else "NOT met"
    print(
        f"\np50 overhead over model.predict: {overhead * ms:.2f} ms "
        f"(goal <= {GOAL_OVERHEAD_S * ms:.0f} ms: {met})"
    )
    for label, ratio in (("httpx", out["throughput_ratio"]), ("raw", out["raw_throughput_ratio"])):
        met = "met" if ratio >= GOAL_THROUGHPUT_RATIO else "NOT met"
        print(
            f"throughput vs MLflow, {label} client: {ratio:.1f}x "
            f"(goal >= {GOAL_THROUGHPUT_RATIO:.0f}x: {met})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-requests", type=int, default=2000)
    parser.add_argument("--throughput-requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--client-processes",
        type=int,
        default=2,
        help="httpx load-generator processes sharing the concurrency (2)",
    )
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    parser.add_argument(
        "--keepalive-only",
        action="store_true",
        help="only the keep-alive case, for workbench alone (no MLflow venv needed)",
    )
    parser.add_argument(
        "--stacks",
        default="asyncio/h11,auto/auto",
        help="event loop/HTTP parser pairs for --keepalive-only (asyncio/h11,auto/auto)",
    )
    args = parser.parse_args()
    if args.keepalive_only:
        out = run_keepalive(args)
        report_keepalive(out)
    else:
        out = run(args)
        report(out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
