"""Where shared artifact blobs live: a folder (a local or shared file system), or an fsspec URL.

A backend stores each blob under its content digest, ``<location>/sha256/ab/abcdef...`` (the
layout of a store's own ``artifacts/`` folder), and knows four things: the size of a stored blob
(``None``: not there), how to upload one, how to download one, and how to name one in a message.
It checks nothing: :class:`workbench.store.artifacts.ArtifactStore` hashes what it uploads and
what it downloads.

A blob appears whole or not at all:

* in a folder, it is written to a temporary file beside its place, fsync'ed, and renamed;
* on object storage (S3 and S3-compatible servers, Google Cloud Storage, Azure), one PUT or a
  completed multipart upload is atomic, so it is written to its own key;
* on any other fsspec file system (SFTP, WebDAV ...), it is written to a temporary name and
  moved into place.

Credentials and endpoints are the storage library's own: for ``s3://``, the AWS variables and
files botocore reads (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_PROFILE``,
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` for MinIO, Ceph or a test server, or
``endpoint_url`` in ``~/.aws/config``), and fsspec's configuration (``FSSPEC_S3_*``). Nothing
here reads or shows them; messages show the location with any password replaced by ``***``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any, Protocol

from workbench.config import redact_url
from workbench.exceptions import StoreError

_CHUNK = 1 << 20

#: fsspec protocols whose single-object writes are atomic (object stores).
ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "memory"})


def blob_key(digest: str) -> str:
    """A blob's path under a location: ``sha256/ab/abcdef...``."""
    return f"sha256/{digest[:2]}/{digest}"


class Backend(Protocol):
    """A place that holds blobs by digest (see the module docstring)."""

    #: The location, safe to show (no password).
    location: str

    def describe(self, digest: str) -> str:
        """Where the blob ``digest`` is (for messages)."""

    def size(self, digest: str) -> int | None:
        """The size of the stored blob ``digest``, or ``None`` if it is not there."""

    def upload(self, digest: str, source: Path) -> None:
        """Store the file ``source`` as blob ``digest``, atomically."""

    def download(self, digest: str, target: Path) -> None:
        """Copy blob ``digest`` to the file ``target``; ``FileNotFoundError`` if not there."""


def open_backend(location: str) -> Backend:
    """The backend of ``location``: a folder path, or a URL with a protocol fsspec knows."""
    if "://" not in location:
        return FolderBackend(Path(location))
    return FsspecBackend(location)


class FolderBackend:
    """Blobs in a folder of a local or shared file system (NFS, SMB, a mounted volume)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)

    def _path(self, digest: str) -> Path:
        return self.root / blob_key(digest)

    def describe(self, digest: str) -> str:
        return str(self._path(digest))

    def size(self, digest: str) -> int | None:
        try:
            return self._path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def upload(self, digest: str, source: Path) -> None:
        target = self._path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def download(self, digest: str, target: Path) -> None:
        with open(self._path(digest), "rb") as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)


class FsspecBackend:
    """Blobs under an fsspec URL (``s3://bucket/prefix``, ``gs://...``, ``sftp://...``).

    The file system is made on first use (opening a store never waits on the network), as a
    fresh instance rather than fsspec's shared one, so the endpoint and credentials in force
    when it is made are the ones used.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.location = redact_url(self.url)
        self.protocol = self.url.split("://", 1)[0].lower()
        self._fs: Any = None
        self._base = ""
        self._pid = -1
        self._lock = threading.Lock()

    def _filesystem(self) -> tuple[Any, str]:
        with self._lock:
            if self._fs is None or self._pid != os.getpid():  # fsspec's are not fork-safe
                self._fs, self._base = _make_filesystem(self.url, self.protocol, self.location)
                self._pid = os.getpid()
            return self._fs, self._base

    def _key(self, digest: str) -> str:
        return f"{self._base}/{blob_key(digest)}" if self._base else blob_key(digest)

    def describe(self, digest: str) -> str:
        return f"{self.location}/{blob_key(digest)}"

    def size(self, digest: str) -> int | None:
        fs, _ = self._filesystem()
        key = self._key(digest)
        fs.invalidate_cache(key)  # another machine may have written it since a listing
        try:
            info = fs.info(key)
        except FileNotFoundError:
            return None
        if info.get("type") != "file":
            return None
        return int(info["size"])

    def upload(self, digest: str, source: Path) -> None:
        fs, _ = self._filesystem()
        key = self._key(digest)
        if self.protocol in ATOMIC_PUT:
            fs.put_file(str(source), key)
            return
        parent = key.rsplit("/", 1)[0]
        fs.makedirs(parent, exist_ok=True)
        tmp = f"{parent}/.tmp-{uuid.uuid4().hex}"
        try:
            fs.put_file(str(source), tmp)
            fs.mv(tmp, key)
        except BaseException:
            with contextlib.suppress(Exception):  # already moved, or never written
                fs.rm_file(tmp)
            raise

    def download(self, digest: str, target: Path) -> None:
        fs, _ = self._filesystem()
        fs.get_file(self._key(digest), str(target))


def _make_filesystem(url: str, protocol: str, location: str) -> tuple[Any, str]:
    try:
        import fsspec
    except ImportError:
        raise StoreError(
            f"Artifacts at {location} need fsspec (and s3fs for s3://): "
            "pip install 'workbench[team]'."
        ) from None
    try:
        fs, base = fsspec.url_to_fs(url, skip_instance_cache=True)
    except ImportError as exc:
        raise StoreError(
            f"Artifacts at {location} need the fsspec implementation of {protocol}://: {exc} "
            "(s3:// comes with pip install 'workbench[team]')."
        ) from None
    except ValueError as exc:
        raise StoreError(
            f"Artifacts at {location}: {exc}. Use a folder path or a URL of a protocol fsspec "
            "knows, such as s3://bucket/prefix."
        ) from None
    return fs, str(base).rstrip("/")
