"""Long work in the vault owner (imports, exports): started by one request, followed by polling `job.get`.

A reply is one frame, so progress cannot stream back; a job id can.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from satchel.errors import NotFound, SatchelError

log = logging.getLogger("satchel.jobs")
KEEP_FINISHED = 600  # seconds a finished job stays readable

Progress = Callable[[dict[str, Any]], None]


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, kind: str, work: Callable[[Progress], dict[str, Any]]) -> str:
        job_id = f"{kind}-{next(self._ids)}-{int(time.time())}"
        job: dict[str, Any] = {"id": job_id, "kind": kind, "state": "running", "progress": {}, "result": None,
                               "error": None, "started": time.time(), "finished": None}
        with self._lock:
            self._forget_old()
            self._jobs[job_id] = job

        def progress(update: dict[str, Any]) -> None:
            job["progress"] = dict(update)

        def run() -> None:
            try:
                job["result"] = work(progress)
                job["state"] = "done"
            except SatchelError as exc:
                job["error"] = {"code": exc.code, "message": exc.message}
                job["state"] = "failed"
            except Exception as exc:
                log.exception("job %s failed", job_id)
                job["error"] = {"code": "internal", "message": f"{type(exc).__name__}: {exc}"[:500]}
                job["state"] = "failed"
            job["finished"] = time.time()

        threading.Thread(target=run, name=job_id, daemon=True).start()
        return job_id

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return {k: v for k, v in job.items() if k not in ("started", "finished")}

    def _forget_old(self) -> None:
        now = time.time()
        for job_id in [j for j, job in self._jobs.items() if job["finished"] and now - job["finished"] > KEEP_FINISHED]:
            del self._jobs[job_id]


JOBS = Jobs()
