"""The Jupyter half of workbench: a server extension (REST under ``<base_url>workbench/``), the
prebuilt JupyterLab sidebar it serves data to, and IPython magics (:mod:`.magics`).

``pip install workbench[jupyter]`` installs and enables both halves: the built frontend is in
the wheel under ``share/jupyter/labextensions/workbench`` and the server extension is enabled by
``etc/jupyter/jupyter_server_config.d/workbench.json``. See docs/jupyter.md.

The server reads the store that notebooks next to it use: ``WORKBENCH_STORE`` if set (a folder,
or a team store's ``postgresql://`` URL with the password in ``PGPASSWORD`` or ``~/.pgpass``),
else the nearest ``.workbench/`` folder from the server's root directory up to the git root
(else a new one there), exactly as ``workbench.connect()`` finds it from a notebook in that
folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__: list[str] = []

LABEXTENSION_NAME = "workbench"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    # The build output is the package folder workbench/labextension (next to this one).
    return [{"src": "../labextension", "dest": LABEXTENSION_NAME}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "workbench.jupyter"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Point workbench at the server's store and register the REST handlers."""
    import workbench
    from workbench.jupyter.handlers import setup_handlers
    from workbench.store import resolve_store_location

    if not os.environ.get("WORKBENCH_STORE", "").strip():
        root = Path(os.path.expanduser(str(getattr(server_app, "root_dir", "") or os.getcwd())))
        workbench.set_store(resolve_store_location(root))
    setup_handlers(server_app.web_app)
    server_app.log.info(
        "workbench: serving the sidebar's data from %s", workbench.connect().store.location
    )
