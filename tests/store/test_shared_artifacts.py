"""Artifacts in a shared location (S3 or a shared folder) on a team store, across machines.

Each "machine" is a ``PostgresStore`` with a folder of its own (journals, artifact staging and
cache) on one throw-away PostgreSQL server. S3 is moto's server on a loopback port, started by
the test module; the AWS variables point botocore at it (never the network). A blob logged on
one machine is uploaded in the background and read on another, downloaded and checked against
its digest; a damaged blob is refused by name; a process killed before uploading has its blob
uploaded by the next process of its machine.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _postgres import PostgresServer

import workbench as wb
from workbench.exceptions import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    InvalidParameterError,
    StoreError,
)
from workbench.store import _artifact_backends, _team_artifacts
from workbench.store.artifacts import ArtifactStore
from workbench.store.postgres import PostgresStore, local_folder, set_artifacts_location

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

SECRET = "not-a-real-secret-3f9a"  # must never appear in a message or a log line


# -- S3 on loopback ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server in this process, on a free loopback port, for the module."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log on stderr
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _aws_env(endpoint: str, home: Path) -> dict[str, str]:
    """The AWS configuration of a test machine: fixed keys, the given endpoint, no config
    files or instance metadata of the real machine, one attempt per request."""
    return {
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    }


@pytest.fixture
def s3(s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; returns the artifact location ``s3://BUCKET/team/artifacts``."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in _aws_env(s3_endpoint, tmp_path).items():
        monkeypatch.setenv(name, value)
    bucket = f"wb-{uuid.uuid4().hex[:12]}"
    _bucket_client().create_bucket(Bucket=bucket)
    return f"s3://{bucket}/team/artifacts"


def _bucket_client() -> Any:
    import boto3

    return boto3.client("s3")


def _split(location: str) -> tuple[str, str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return bucket, prefix


def _keys(location: str) -> set[str]:
    bucket, prefix = _split(location)
    listing = _bucket_client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return {item["Key"].removeprefix(prefix + "/") for item in listing.get("Contents", [])}


def _put_object(location: str, digest: str, data: bytes) -> None:
    bucket, prefix = _split(location)
    key = f"{prefix}/{_artifact_backends.blob_key(digest)}"
    _bucket_client().put_object(Bucket=bucket, Key=key, Body=data)


def _delete_object(location: str, digest: str) -> None:
    bucket, prefix = _split(location)
    key = f"{prefix}/{_artifact_backends.blob_key(digest)}"
    _bucket_client().delete_object(Bucket=bucket, Key=key)


# -- team store machines -------------------------------------------------------------------------
@pytest.fixture
def team(postgres: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh team store's URL; this machine's default folders under the test's tmp dir."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("WORKBENCH_ARTIFACTS", raising=False)
    return postgres.url(postgres.new_database())


Machine = Callable[..., wb.Workbench]


@pytest.fixture
def machine(team: str, tmp_path: Path) -> Iterator[Machine]:
    """``machine(name, artifacts=...)``: a client on the team store with its own folder."""
    clients: list[wb.Workbench] = []

    def open_machine(name: str, **kwargs: Any) -> wb.Workbench:
        client = wb.connect(PostgresStore(team, local=tmp_path / name, **kwargs))
        clients.append(client)
        return client

    yield open_machine
    for client in clients:
        client.close()


def _digest(client: wb.Workbench, run_id: str, path: str) -> str:
    return next(a.digest for a in client.get_run(run_id).artifacts if a.path == path)


def _cached(client: wb.Workbench, digest: str) -> Path:
    return client.store.artifacts.root / "sha256" / digest[:2] / digest


def _trained_model() -> Any:
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.9], [0.9, 0.2]])
    return LogisticRegression().fit(X, [0, 1, 0, 1]), X


# -- across machines through S3 ----------------------------------------------------------------
def test_artifacts_logged_on_one_machine_are_read_on_another(
    s3: str, machine: Machine, tmp_path: Path
) -> None:
    a = machine("machine-a", artifacts=s3)  # records the location in the store
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "loss.csv").write_text("step,loss\n0,1.0\n1,0.5\n")
    (folder / "sub" / "notes.md").write_text("# notes\n")
    model, X = _trained_model()
    with a.start_run("shared", "train") as run:
        run.log_text("hello from machine a", "notes.txt")
        run.log_artifact(folder, "plots")
        run.log_bytes(bytes(range(256)) * 1000, "raw.bin")
    version = a.register_model("clf", run=run, model=model)
    a.flush()  # uploads this machine's blobs, then ships its journals
    assert a.store.artifacts.pending() == []

    refs = {ref.path: ref.digest for ref in a.get_run(run.run_id).artifacts}
    digests = {*refs.values(), version.artifact_digest}
    assert _keys(s3) == {_artifact_backends.blob_key(d) for d in digests}

    b = machine("machine-b")  # no argument, no variable: the store tells it where to look
    assert b.store.artifacts.remote == s3
    assert not any(_cached(b, d).exists() for d in digests)
    assert b.load_artifact(run.run_id, "notes.txt") == "hello from machine a"
    assert b.load_artifact(run.run_id, "plots/loss.csv")["loss"].tolist() == [1.0, 0.5]
    assert b.load_artifact(run.run_id, "plots/sub/notes.md") == "# notes\n"
    assert b.load_artifact(run.run_id, "raw.bin") == bytes(range(256)) * 1000
    loaded = b.load_model("clf/1")
    assert loaded.predict(X).tolist() == model.predict(X).tolist()
    # Cached where it was read, read-only; a second read needs no download.
    for digest in digests:
        assert _cached(b, digest).is_file()
        assert not os.access(_cached(b, digest), os.W_OK) or os.geteuid() == 0
    assert b.artifact_path(run.run_id, "notes.txt") == _cached(b, refs["notes.txt"])


def test_a_blob_already_in_the_bucket_is_not_uploaded_again(
    s3: str, machine: Machine, monkeypatch: pytest.MonkeyPatch
) -> None:
    uploads: list[str] = []
    upload = _artifact_backends.FsspecBackend.upload

    def counted(self: Any, digest: str, source: Path) -> None:
        uploads.append(digest)
        upload(self, digest, source)

    monkeypatch.setattr(_artifact_backends.FsspecBackend, "upload", counted)
    a, b = machine("machine-a", artifacts=s3), machine("machine-b")
    with a.start_run("shared") as run_a:
        run_a.log_text("the same bytes", "same.txt")
    a.flush()
    with b.start_run("shared") as run_b:
        run_b.log_text("the same bytes", "copy.txt")  # logged again on another machine
    b.flush()
    assert b.store.artifacts.pending() == []
    assert uploads == [_digest(a, run_a.run_id, "same.txt")]
    assert _digest(b, run_b.run_id, "copy.txt") == uploads[0]


def test_a_damaged_blob_in_the_bucket_is_refused_by_name(s3: str, machine: Machine) -> None:
    a = machine("machine-a", artifacts=s3)
    model, _ = _trained_model()
    with a.start_run("shared") as run:
        run.log_text("the original text", "notes.txt")
    version = a.register_model("clf", run=run, model=model)
    a.flush()
    notes = _digest(a, run.run_id, "notes.txt")
    _put_object(s3, notes, b"the original texT")  # same size, one byte changed
    _put_object(s3, version.artifact_digest, b"not a model")

    b = machine("machine-b")
    with pytest.raises(ArtifactIntegrityError) as caught:
        b.load_artifact(run.run_id, "notes.txt")
    message = str(caught.value)
    assert f"{s3}/{_artifact_backends.blob_key(notes)} is damaged" in message
    assert "not used nor cached" in message
    assert SECRET not in message
    assert not _cached(b, notes).exists()
    assert list(_cached(b, notes).parent.glob(".fetch-*")) == []
    with pytest.raises(ArtifactIntegrityError, match=version.artifact_digest):
        b.load_model("clf/1")
    # The machine that logged them still reads its own copies.
    assert a.load_artifact(run.run_id, "notes.txt") == "the original text"


def test_a_blob_missing_from_the_bucket_says_it_may_not_be_uploaded_yet(
    s3: str, machine: Machine
) -> None:
    a = machine("machine-a", artifacts=s3)
    with a.start_run("shared") as run:
        run.log_text("soon gone", "notes.txt")
    a.flush()
    _delete_object(s3, _digest(a, run.run_id, "notes.txt"))
    b = machine("machine-b")
    with pytest.raises(ArtifactNotFoundError, match="not uploaded yet"):
        b.load_artifact(run.run_id, "notes.txt")


CHILD = """
import sys, time
from pathlib import Path
import workbench as wb
run = wb.start_run("killed", "child")
started = time.perf_counter()
run.log_text("logged just before the kill", "notes.txt")
took = time.perf_counter() - started
run._recorder.flush()  # the artifact's row is in this process's journal
Path(sys.argv[1]).write_text(f"{run.run_id} {took}")
while True:
    time.sleep(0.05)
"""


@pytest.mark.slow
def test_a_process_killed_before_uploading_has_its_blob_uploaded_by_the_next(
    s3: str, s3_endpoint: str, team: str, machine: Machine, tmp_path: Path
) -> None:
    set_artifacts_location(team, s3)
    ready = tmp_path / "ready"
    with socket.socket() as stalled:  # an S3 endpoint that takes connections, never answers
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(64)
        env = {
            **os.environ,
            **_aws_env(f"http://127.0.0.1:{stalled.getsockname()[1]}", tmp_path),
            "WORKBENCH_STORE": team,
        }
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(ready)], env=env)
        try:
            deadline = time.monotonic() + 60
            while not ready.exists() and child.poll() is None:
                assert time.monotonic() < deadline, "the child never logged"
                time.sleep(0.05)
            assert child.poll() is None, "the child died on its own"
            run_id, took = ready.read_text().split()
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
    assert float(took) < 2.0  # the local disk only: the stalled S3 would take 60 s to fail

    # The child's machine is this process's default folder (XDG_CACHE_HOME); its blob waits.
    markers = list((local_folder(team) / "artifacts" / "pending").iterdir())
    assert len(markers) == 1
    digest = markers[0].name
    assert _keys(s3) == set()
    again = wb.connect(PostgresStore(team))  # the next workbench process of that machine
    try:
        again.flush()  # (the uploader started when the store opened; flush waits for it)
        assert again.store.artifacts.pending() == []
        assert _keys(s3) == {_artifact_backends.blob_key(digest)}
    finally:
        again.close()
    other = machine("machine-b")
    assert other.load_artifact(run_id, "notes.txt") == "logged just before the kill"


EXITING_CHILD = """
import workbench as wb
with wb.start_run("exits", "child") as run:
    run.log_text("uploaded before the process exits", "notes.txt")
print(run.run_id)
"""


@pytest.mark.slow
def test_a_process_that_exits_uploads_its_blobs_first(
    s3: str, team: str, machine: Machine, tmp_path: Path
) -> None:
    set_artifacts_location(team, s3)
    done = subprocess.run(
        [sys.executable, "-c", EXITING_CHILD],
        env={**os.environ, "WORKBENCH_STORE": team},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    assert "could not upload" not in done.stderr
    assert not list((tmp_path / "cache").rglob("pending/*"))  # nothing left for a next process
    other = machine("machine-b")
    assert other.load_artifact(run_id, "notes.txt") == "uploaded before the process exits"


# -- a shared folder -----------------------------------------------------------------------------
def test_a_shared_folder_works_across_machines(machine: Machine, tmp_path: Path) -> None:
    share = tmp_path / "nfs" / "team-artifacts"  # a folder every machine mounts
    a = machine("machine-a", artifacts=share)
    model, X = _trained_model()
    with a.start_run("shared") as run:
        run.log_text("via the share", "notes.txt")
    a.register_model("clf", run=run, model=model)
    a.flush()
    notes = _digest(a, run.run_id, "notes.txt")
    assert (share / _artifact_backends.blob_key(notes)).read_text() == "via the share"
    assert list(share.rglob(".tmp-*")) == []

    b = machine("machine-b")
    assert b.store.artifacts.remote == str(share)
    assert b.load_artifact(run.run_id, "notes.txt") == "via the share"
    assert b.load_model("clf/1").predict(X).tolist() == model.predict(X).tolist()

    blob = share / _artifact_backends.blob_key(notes)
    os.chmod(blob, 0o644)
    blob.write_text("via the sharE")
    c = machine("machine-c")
    with pytest.raises(ArtifactIntegrityError, match=f"{blob} is damaged"):
        c.load_artifact(run.run_id, "notes.txt")


# -- where the location comes from ------------------------------------------------------------
def test_the_location_comes_from_argument_then_variable_then_store_then_this_machine(
    team: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    opened: list[PostgresStore] = []

    def remote(**kwargs: Any) -> str | None:
        store = PostgresStore(team, local=tmp_path / f"m{len(opened)}", **kwargs)
        opened.append(store)
        return store.artifacts.remote

    share, other, third = (str(tmp_path / name) for name in ("share", "other", "third"))
    try:
        with caplog.at_level(logging.WARNING, "workbench.store"):
            assert remote() is None  # nothing set: this machine's folder, with a warning
            assert remote() is None
        assert opened[0].artifacts.location == str(tmp_path / "m0" / "artifacts")
        warned = [r for r in caplog.records if "other machines cannot read them" in r.message]
        assert len(warned) == 1  # once per process

        assert remote(artifacts=share) == share  # the first argument is recorded ...
        assert remote() == share  # ... so every machine finds it
        monkeypatch.setenv("WORKBENCH_ARTIFACTS", other)
        assert remote() == other  # the variable beats the store's setting
        assert remote(artifacts=third) == third  # the argument beats the variable
        monkeypatch.delenv("WORKBENCH_ARTIFACTS")
        assert remote() == share  # an argument never replaces a recorded location

        assert set_artifacts_location(team, "s3://team-bucket/artifacts/") == (
            "s3://team-bucket/artifacts"
        )
        assert remote() == "s3://team-bucket/artifacts"
        assert set_artifacts_location(team, None) is None
        assert remote() is None
        assert remote(read_only=True, artifacts=share) == share
        assert remote() is None  # a read-only store records nothing
    finally:
        for store in opened:
            store.close()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("postgresql://u@h/db", "not a place for artifact files"),
        ("s3://", "needs a bucket or host"),
        ("  ", "it takes an absolute folder path"),
        (f"s3://key:{SECRET}@bucket/prefix", "give credentials to the storage library"),
    ],
)
def test_a_bad_location_is_refused_before_anything_is_written(
    team: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    with pytest.raises(InvalidParameterError, match=message) as caught:
        set_artifacts_location(team, value)
    assert SECRET not in str(caught.value)
    if value.strip():
        monkeypatch.setenv("WORKBENCH_ARTIFACTS", value)
        with pytest.raises(InvalidParameterError, match="WORKBENCH_ARTIFACTS"):
            PostgresStore(team, local=tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_file_urls_and_home_folders_become_absolute_paths(team: str, tmp_path: Path) -> None:
    assert set_artifacts_location(team, f"file://{tmp_path}/share") == f"{tmp_path}/share"
    with PostgresStoreClosing(team, local=tmp_path / "m") as store:
        assert store.artifacts.remote == f"{tmp_path}/share"
    assert _team_artifacts.SETTING == "artifacts"


class PostgresStoreClosing:
    """``with PostgresStoreClosing(url, ...) as store``: a team store closed afterwards."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        self.store = PostgresStore(url, **kwargs)

    def __enter__(self) -> PostgresStore:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.close()


# -- the artifact store alone --------------------------------------------------------------------
@pytest.fixture
def stores() -> Iterator[Callable[..., ArtifactStore]]:
    """``stores(root, remote=...)``: artifact stores closed after the test."""
    made: list[ArtifactStore] = []

    def make(root: Path, **kwargs: Any) -> ArtifactStore:
        store = ArtifactStore(root, **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def test_a_location_that_is_down_keeps_the_blob_for_the_next_store(
    s3: str, s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stores: Any
) -> None:
    # The location is down: logging still works, and says nothing secret when it fails.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", down)
    first = stores(tmp_path / "machine", remote=s3)
    digest, size = first.put_bytes(b"kept until the location answers")
    assert (size, first.pending()) == (31, [digest])
    with pytest.raises(StoreError) as caught:
        first.upload_pending()
    assert f"{s3}/{_artifact_backends.blob_key(digest)}" in str(caught.value)
    assert SECRET not in str(caught.value)
    first.close()  # tries once more, logs, keeps the marker
    assert first.pending() == [digest]

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)  # the location answers again
    second = stores(tmp_path / "machine", remote=s3)  # the next process of the machine
    deadline = time.monotonic() + 30
    while second.pending():  # its uploader started when it opened
        assert time.monotonic() < deadline, "the next store did not upload the blob"
        time.sleep(0.05)
    assert _keys(s3) == {_artifact_backends.blob_key(digest)}
    reader = stores(tmp_path / "elsewhere", remote=s3)
    assert reader.exists(digest) and not reader.exists("0" * 64)
    assert not (reader.root / "sha256").exists()  # asked, not downloaded
    assert reader.path(digest).read_bytes() == b"kept until the location answers"


def test_a_blob_damaged_on_this_machine_is_never_uploaded(
    tmp_path: Path, stores: Any, caplog: pytest.LogCaptureFixture
) -> None:
    share = tmp_path / "share"
    store = stores(tmp_path / "machine", remote=str(share))
    store.close()  # no background uploads: this test drives them
    digest, _ = store.put_bytes(b"good bytes")
    blob = store.root / "sha256" / digest[:2] / digest
    os.chmod(blob, 0o644)
    blob.write_bytes(b"bad bytes!")
    with caplog.at_level(logging.ERROR, "workbench.store"):
        assert store.upload_pending()
    assert not (share / _artifact_backends.blob_key(digest)).exists()
    assert (store.root / "corrupt" / digest).read_bytes() == b"bad bytes!"
    assert store.pending() == []
    assert any(digest in r.message and "damaged" in r.message for r in caplog.records)


def test_a_marker_whose_blob_never_came_is_dropped_but_one_being_written_is_not(
    tmp_path: Path, stores: Any
) -> None:
    share = tmp_path / "share"
    store = stores(tmp_path / "machine", remote=str(share))
    store.close()
    dead = "ab" * 32  # a put that died between its marker and its blob
    (store.root / "pending").mkdir(parents=True)
    (store.root / "pending" / dead).touch()
    assert store.pending() == [dead]
    writing = "cd" * 32
    with store._marked(writing):  # a put still writing its blob holds the marker's lock
        assert not store.upload_pending(timeout=0.2)
        assert store.pending() == [writing]
    assert store.pending() == [writing]  # its blob never came (the put raised): dropped next
    assert store.upload_pending()
    assert store.pending() == []
    assert not share.exists()


def test_a_malformed_digest_is_not_a_path(tmp_path: Path, stores: Any) -> None:
    store = stores(tmp_path / "machine", remote=str(tmp_path / "share"))
    with pytest.raises(ArtifactNotFoundError, match="not an artifact digest"):
        store.path("../../etc/passwd")
