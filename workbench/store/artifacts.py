"""Content-addressed artifact files, written atomically.

A file's address is the SHA-256 of its bytes: ``<root>/sha256/ab/abcdef...``. Writing goes to a
temporary file in the same folder, is fsync'ed, then renamed into place, so a reader never sees
a partial file and a crash leaves at most a stray temporary file. Equal content is stored once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from workbench.exceptions import ArtifactNotFoundError

__all__ = ["ArtifactStore"]

_CHUNK = 1 << 20


class ArtifactStore:
    """Stores and finds files by content digest under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        """Where the file with ``digest`` lives (raises if it is not stored)."""
        path = self._path_for(digest)
        if not path.is_file():
            raise ArtifactNotFoundError(f"No artifact file with digest {digest!r} in {self.root}.")
        return path

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; return (digest, size)."""
        digest = hashlib.sha256(data).hexdigest()
        target = self._path_for(digest)
        if not target.exists():
            self._write_atomically(target, lambda f: f.write(data))
        return digest, len(data)

    def put_file(self, source: str | os.PathLike[str]) -> tuple[str, int]:
        """Store a copy of the file at ``source``; return (digest, size)."""
        hasher, size = hashlib.sha256(), 0
        with open(source, "rb") as f:
            while chunk := f.read(_CHUNK):
                hasher.update(chunk)
                size += len(chunk)
        digest = hasher.hexdigest()
        target = self._path_for(digest)
        if not target.exists():
            with open(source, "rb") as src:
                self._write_atomically(target, lambda f: shutil.copyfileobj(src, f, _CHUNK))
        return digest, size

    def _path_for(self, digest: str) -> Path:
        return self.root / "sha256" / digest[:2] / digest

    @staticmethod
    def _write_atomically(target: Path, write: object) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)  # type: ignore[operator]
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
