"""Background jobs through huey, so that slow work (scanning a large file) never blocks a request.

The queue is chosen by ``TASK_QUEUE``: a SQLite file in the instance folder by default
(no server; ``opendata worker`` runs the jobs), Redis for several machines, or
``immediate`` (tests) to run each job as it is enqueued. Jobs are plain functions
registered with ``@job``; each runs inside an application context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context
from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey

log = logging.getLogger(__name__)
JOBS: dict[str, Callable[..., Any]] = {}


def job(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function as a background job under ``name``."""
    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        JOBS[name] = function
        return function
    return register


@dataclass
class TaskQueue:
    huey: Huey
    tasks: dict[str, Any]


def make_huey(setting: str, instance: str) -> Huey:
    if setting == "immediate":
        return MemoryHuey("opendata", immediate=True, results=False)
    if setting.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("opendata", url=setting, results=False)
    if setting != "sqlite":
        raise RuntimeError(f"Unknown TASK_QUEUE {setting!r}: use sqlite, immediate or a redis:// URL.")
    return SqliteHuey("opendata", filename=str(Path(instance) / "tasks.db"), results=False)


def init_app(app: Flask) -> None:
    queue = make_huey(app.config["TASK_QUEUE"], app.config["INSTANCE"])

    def in_context(function: Callable[..., Any]) -> Callable[..., Any]:
        def run(**kwargs: Any) -> Any:
            if has_app_context() and current_app._get_current_object() is app:
                return function(**kwargs)  # immediate mode, inside the request
            with app.app_context():
                return function(**kwargs)
        return run

    tasks = {name: queue.task(name=name)(in_context(function)) for name, function in JOBS.items()}
    app.extensions["tasks"] = TaskQueue(queue, tasks)


def enqueue(name: str, **kwargs: Any) -> None:
    """Queue job ``name``; in immediate mode it runs now."""
    current_app.extensions["tasks"].tasks[name](**kwargs)
    log.info("job %s queued %s", name, kwargs)


def run_worker(app: Flask, workers: int = 2) -> None:
    """Run queued jobs until interrupted (``opendata worker``)."""
    queue: Huey = app.extensions["tasks"].huey
    consumer = queue.create_consumer(workers=workers, worker_type="thread")
    consumer.run()
