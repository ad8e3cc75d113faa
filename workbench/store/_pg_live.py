"""Which processes of a team store are alive, across machines, and the runs of dead ones.

A process that logs refreshes its row in ``wb_heartbeats`` (stamped with the *server's* clock,
as machines' clocks may disagree) every ``BEAT_EVERY_S`` from its shipper thread, never from a
logging call. A run still ``running`` is marked ``killed`` by any process of the store when:

* its process ran on this machine and is gone (pid and start time, as on the local store): at
  the next reaping pass, ``REAP_EVERY_S``;
* its process ran elsewhere and was last heard of more than ``TIMEOUT_S`` ago (by the server's
  clock), or never, with the run older than that.

So a killed run is marked within ``TIMEOUT_S + BEAT_EVERY_S + REAP_EVERY_S`` (45 s) of its
process's death when another machine reaps it, and within ``REAP_EVERY_S`` on its own machine.
A run whose end arrives later (its journal shipped after the reaping) gets that end: the
shipped status overwrites ``killed``. A run whose process left damaged journal bytes behind
(``wb_spool_damage``) is marked ``failed``, as on the local store: its end may have been in them.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from workbench._liveness import process_alive
from workbench.store._ingest import damaged_error, killed_error

if TYPE_CHECKING:
    import psycopg

    from workbench.store.base import ProcessInfo

BEAT_EVERY_S = 5.0
REAP_EVERY_S = 5.0
TIMEOUT_S = 30.0


def beat(con: psycopg.Connection[Any], processes: Iterable[ProcessInfo]) -> None:
    """Record that ``processes`` (of this machine) are alive now, by the server's clock."""
    rows = [(p.proc_id, p.host, p.pid) for p in processes]
    if not rows:
        return
    with con.transaction(), con.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO wb_heartbeats VALUES (%s, %s, %s, timezone('UTC', now())) "
            "ON CONFLICT (proc_id) DO UPDATE SET last_seen = excluded.last_seen",
            rows,
        )


def forget(con: psycopg.Connection[Any], proc_ids: Iterable[str]) -> None:
    """Remove the heartbeats of processes that retired (ended their runs and left)."""
    ids = list(proc_ids)
    if ids:
        with con.transaction():
            con.execute("DELETE FROM wb_heartbeats WHERE proc_id = ANY(%s)", (ids,))


def reap(con: psycopg.Connection[Any], *, timeout: float = TIMEOUT_S) -> int:
    """Mark the ``running`` runs of dead processes ``killed`` (see the module); how many."""
    here = socket.gethostname()
    with con.transaction():
        rows = con.execute(
            """SELECT r.run_id, r.host, r.pid, r.pid_started, h.last_seen, extract(epoch FROM
                      timezone('UTC', now()) - coalesce(h.last_seen, r.start_time)),
                      EXISTS (SELECT 1 FROM wb_spool_damage d
                              WHERE d.host = r.host AND d.pid = r.pid)
               FROM wb_runs r LEFT JOIN wb_heartbeats h ON h.proc_id = r.proc_id
               WHERE r.status = 'running' AND r.proc_id IS NOT NULL"""
        ).fetchall()
        dead = []
        for run_id, host, pid, pid_started, last_seen, silent_for, damaged in rows:
            if host == here:
                alive = process_alive(int(pid), started=pid_started)
            else:
                alive = float(silent_for) < timeout
            if alive:
                continue
            if damaged:  # its end may have been in the damaged bytes: "killed" could be false
                dead.append(("failed", damaged_error(host, int(pid)), last_seen, run_id))
            else:
                dead.append(("killed", killed_error(host, int(pid)), last_seen, run_id))
        if dead:
            with con.cursor() as cursor:
                cursor.executemany(
                    "UPDATE wb_runs SET status = %s, error = %s, "
                    "end_time = coalesce(%s, timezone('UTC', now())) "
                    "WHERE run_id = %s AND status = 'running'",
                    dead,
                )
    return len(dead)
