"""The checksum that ties the committed frontend build to its sources.

``bash scripts/build-labextension`` rebuilds ``workbench/labextension`` from
``extensions/jupyterlab`` and stores :func:`source_checksum` next to the build; a test compares
it with the checksum of the sources, so a source edit without a rebuild fails CI.

    python -m workbench.jupyter._build           # print the checksum of the sources
    python -m workbench.jupyter._build --write   # store it next to the build
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

__all__ = ["CHECKSUM_FILE", "SOURCE_DIR", "source_checksum", "stored_checksum"]

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIR = ROOT / "extensions" / "jupyterlab"
BUILD_DIR = ROOT / "workbench" / "labextension"
CHECKSUM_FILE = BUILD_DIR / "SOURCE_SHA256"
# Everything the built assets depend on: code, styles, dependencies and build settings.
SOURCES = ("src", "style", "package.json", "tsconfig.json", "yarn.lock", "install.json")


def source_files(source_dir: Path = SOURCE_DIR) -> list[Path]:
    files: list[Path] = []
    for name in SOURCES:
        path = source_dir / name
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return files


def source_checksum(source_dir: Path = SOURCE_DIR) -> str:
    """SHA-256 over the relative path and content of every source file (line endings kept)."""
    digest = hashlib.sha256()
    for path in source_files(source_dir):
        digest.update(path.relative_to(source_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def stored_checksum() -> str | None:
    """The checksum stored by the last build, or ``None``."""
    return CHECKSUM_FILE.read_text().strip() if CHECKSUM_FILE.is_file() else None


def main(argv: list[str]) -> int:
    checksum = source_checksum()
    if "--write" in argv:
        CHECKSUM_FILE.write_text(checksum + "\n")
    sys.stdout.write(checksum + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
