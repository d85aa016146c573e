"""What the benchmarks share: counting queries, timing sizes side by side, percentiles, and a real Celery
worker started beside the run (stopped by the caller, by its process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class QueryCounter:
    """Counts every query (no cap, unlike ``connection.queries_log``)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def timed(actions: dict[int, Callable[[], None]], repeat: int) -> dict[int, tuple[list[float], int]]:
    """For each size, the milliseconds of each run (after two warming runs) and the most queries one run
    made. The sizes take turns, run after run, so that a busy machine slows them down alike."""
    from django.db import connection

    for action in actions.values():
        action()
        action()
    times: dict[int, list[float]] = {size: [] for size in actions}
    queries = dict.fromkeys(actions, 0)
    for _ in range(repeat):
        for size, action in actions.items():
            counter = QueryCounter()
            with connection.execute_wrapper(counter):
                started = time.perf_counter()
                action()
                times[size].append((time.perf_counter() - started) * 1000)
            queries[size] = max(queries[size], counter.count)
    return {size: (times[size], queries[size]) for size in actions}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def worker_start(log_name: str = "worker.log", *, pool: str = "--pool=solo") -> subprocess.Popen:
    """A real ``celery -A portal worker`` on the run's settings, its log in ``var/bench/<log_name>``."""
    log = open(ROOT / "var" / "bench" / log_name, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "portal",
            "worker",
            pool,
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
