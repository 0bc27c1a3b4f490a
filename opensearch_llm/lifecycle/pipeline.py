"""Deleting many of our resources at once (``sweep``): models first, each group as soon as its models are gone,
connectors after every model, a bounded pool of daemon workers, a deadline for the whole."""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Callable, Optional

from opensearch_llm.errors import OpenSearchLLMError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.facts import Owned
from opensearch_llm.lifecycle.report import RemovalReport
from opensearch_llm.lifecycle.teardown import delete_one, retry_transient
from opensearch_llm.resources import model

if TYPE_CHECKING:
    from opensearchpy import OpenSearch


def resource_row(res: Owned) -> dict:
    """How a report lists one resource."""
    return {"kind": res.kind, "id": res.id, "name": res.name, "run": res.marker.run,
            "run_kind": res.marker.run_kind(res.name), "blueprint": res.marker.blueprint,
            "created": res.marker.created}



class DeletePipeline:
    """Delete models first, each model group as soon as its models are gone, connectors after all models.

    ML Commons serialises deletes per system index (each forces a refresh), so the kinds proceed
    in parallel instead of one after the other. Connectors wait for every model: ML Commons finds
    "models still using this connector" with a match query on the text-mapped ``connector_id``,
    so any model whose id shares a token with it (say both end in ``-L``) blocks the delete (409).
    """

    def __init__(self, client: "OpenSearch", options: RunOptions, workers: int, report: RemovalReport) -> None:
        self.client, self.options, self.report = client, options, report
        self.pool = _DaemonPool(max(1, workers))
        self.lock = threading.Lock()
        self.closed = False  # past the deadline: workers still running report nothing more
        self.waiting: dict[tuple[str, str], int] = {}
        self.parked: dict[tuple[str, str], Owned] = {}
        self.dependents: dict[str, list[tuple[str, str]]] = {}
        self.unfinished: dict[tuple[str, str], Owned] = {}
        self.done = threading.Event()

    def run(self, selected: list[Owned], deadline: float) -> None:
        models = [r for r in selected if r.kind == "model"]
        for res in selected:
            self.unfinished[(res.kind, res.id)] = res
            if res.kind == "model":
                continue
            users = [m.id for m in models if res.kind == "connector" or m.doc.get("model_group_id") == res.id]
            self.waiting[(res.kind, res.id)] = len(users)
            self.parked[(res.kind, res.id)] = res
            for m in users:
                self.dependents.setdefault(m, []).append((res.kind, res.id))
        if models:
            try:  # one request instead of one undeploy per model
                model.undeploy_many(self.client, [m.id for m in models])
            except OpenSearchLLMError as exc:
                self.report.notes.append(f"bulk undeploy failed ({exc}); models are undeployed one by one")
        ready = models + [r for key, r in self.parked.items() if self.waiting[key] == 0]
        if not ready:
            return
        for res in ready:
            self.pool.submit(self._delete, res)
        finished = self.done.wait(timeout=max(0.0, deadline - time.monotonic()))
        with self.lock:
            self.closed = True
            left = list(self.unfinished.values())
        self.pool.close()
        if not finished:
            self.report.errors.append(f"sweep deadline reached with {len(left)} resource(s) not deleted: "
                                      + ", ".join(f"{r.kind} {r.id}" for r in left))

    def _delete(self, res: Owned) -> None:
        error = None
        try:
            if res.kind == "model":
                retry_transient(self.options, model.delete_undeployed, self.client, res.id,
                                model.Removal(sleep=self.options.sleep,
                                              settle_deploy=res.doc.get("model_state") != "DEPLOYED"))
            else:
                delete_one(self.client, res.kind, res.id, self.options)
        except Exception as exc:  # noqa: BLE001 - every worker failure is reported, none may hang the sweep
            error = f"{res.kind} {res.id}: {exc}"
        with self.lock:
            if self.closed:
                return
            if error:
                self.report.errors.append(error)
            else:
                self.report.deleted.append(resource_row(res))
            self.unfinished.pop((res.kind, res.id), None)
            released = []
            for key in self.dependents.get(res.id, []) if res.kind == "model" else []:
                self.waiting[key] -= 1
                if self.waiting[key] == 0:
                    released.append(self.parked[key])
            finished = not self.unfinished
        for nxt in released:
            self.pool.submit(self._delete, nxt)
        if finished:
            self.done.set()


class _DaemonPool:
    """Worker threads that never keep the process alive: a request hanging past the deadline is abandoned."""

    def __init__(self, workers: int) -> None:
        self.tasks: "queue.Queue[Optional[tuple]]" = queue.Queue()
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]
        for thread in self.threads:
            thread.start()

    def submit(self, call: Callable[..., None], *args: object) -> None:
        self.tasks.put((call, args))

    def close(self) -> None:
        for _ in self.threads:
            self.tasks.put(None)

    def _work(self) -> None:
        while True:
            task = self.tasks.get()
            if task is None:
                return
            call, args = task
            call(*args)
