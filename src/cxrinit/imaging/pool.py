"""A small crash-tolerant process pool: one chunk per worker at a time, deaths pinned to their chunk.

Why not ProcessPoolExecutor: when a worker dies it breaks the whole executor, cannot say which
task killed it, and its teardown can wait forever on a forkserver child. Here each worker has its
own pipe, so a native decoder crash (or the OOM killer) is an EOF on that pipe; the dead worker's
chunk is retried one item per worker, and an item that kills a worker on its own is reported
through ``on_crash`` instead of stopping the run. Every wait on a process has a timeout.
"""

from __future__ import annotations

import logging
import multiprocessing
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any

log = logging.getLogger(__name__)

Chunk = list[tuple[int, Any]]  # (row, payload)
START_TIMEOUT_S = 300.0  # a worker that has not said "ready" by then is not coming
_READY, _RESULT, _ERROR = "ready", "result", "error"


def mp_context(preload: list[str]) -> multiprocessing.context.BaseContext:
    """forkserver where available: fork is unsafe once threads exist (torch, tqdm, MLflow), and a
    forkserver that preloaded the decoders starts each later worker in milliseconds, not seconds."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(preload)  # only acts before the server starts
        return ctx
    return multiprocessing.get_context("spawn")


def _worker_main(conn: Connection, fn: Callable, initializer: Callable, initargs: tuple) -> None:
    try:
        initializer(*initargs)
        conn.send((_READY, None))
        while True:
            chunk = conn.recv()
            if chunk is None:
                return
            try:
                conn.send((_RESULT, fn(chunk)))
            except Exception:  # a Python error in fn is a bug, not a bad image: report it
                conn.send((_ERROR, traceback.format_exc()))
    except (EOFError, KeyboardInterrupt, BrokenPipeError):
        return


class _Worker:
    def __init__(self, ctx: multiprocessing.context.BaseContext, fn: Callable, initializer: Callable, initargs: tuple):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, fn, initializer, initargs), daemon=True)
        self.proc.start()
        child.close()
        self.task: Chunk | None = None

    def await_ready(self) -> None:
        if not self.conn.poll(START_TIMEOUT_S):
            raise TimeoutError("worker did not start")
        kind, _ = self.conn.recv()  # EOFError if it died while starting
        assert kind == _READY

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.conn.close()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=5)


def run_pool(
    chunks: list[Chunk],
    workers: int,
    fn: Callable[[Chunk], list[tuple[int, Any]]],
    initializer: Callable[..., None],
    initargs: tuple,
    on_crash: Callable[[int, Any], Any],
    preload: list[str] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield the (row, result) pairs of ``fn(chunk)`` over ``workers`` processes, in completion order.

    A chunk whose worker dies is requeued item by item; a single item whose worker dies yields
    ``(row, on_crash(row, payload))``. Raises RuntimeError if workers cannot start at all (say, an
    unguarded main module) or if ``fn`` raises.
    """
    ctx = mp_context(preload or [])
    queue: deque[Chunk] = deque(chunks)
    pool: list[_Worker] = []

    def start() -> _Worker:
        w = _Worker(ctx, fn, initializer, initargs)
        try:
            w.await_ready()
        except (EOFError, OSError, TimeoutError) as exc:
            w.stop()
            raise RuntimeError(
                "a decoder worker process could not start (workers re-import the main module: run "
                "from a file guarded by `if __name__ == '__main__':`, or pass workers=1)"
            ) from exc
        return w

    try:
        pool = [_Worker(ctx, fn, initializer, initargs) for _ in range(max(1, min(workers, len(chunks))))]
        for i, w in enumerate(pool):  # started together, then checked one by one
            try:
                w.await_ready()
            except (EOFError, OSError, TimeoutError):
                w.stop()
                pool[i] = start()  # one retry, then a clear error
        while queue or any(w.task is not None for w in pool):
            for i, w in enumerate(pool):
                if w.task is None and queue:
                    w.task = queue.popleft()
                    try:
                        w.conn.send(w.task)
                    except (OSError, ValueError):  # it died while idle: nothing of ours was running
                        queue.appendleft(w.task)
                        w.task = None
                        w.stop()
                        pool[i] = start()
            busy = {w.conn: w for w in pool if w.task is not None}
            for conn in wait(list(busy)):
                w = busy[conn]
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):
                    yield from _buried(w, queue, on_crash)
                    pool[pool.index(w)] = start()
                    continue
                if kind == _ERROR:
                    raise RuntimeError(f"worker failed on rows {[r for r, _ in w.task]}:\n{payload}")
                w.task = None
                yield from payload
    finally:
        for w in pool:
            w.stop()


def _buried(w: _Worker, queue: deque[Chunk], on_crash: Callable[[int, Any], Any]) -> Iterator[tuple[int, Any]]:
    """The worker died on its chunk: retry the chunk item by item, or report the item that did it."""
    chunk, w.task = w.task, None
    w.stop()
    code = w.proc.exitcode
    if len(chunk) == 1:
        row, payload = chunk[0]
        log.error("row %s (%s) killed its worker process (exit code %s); quarantined", row, payload, code)
        yield row, on_crash(row, payload)
    else:
        log.warning("a worker process died (exit code %s) on %d items; retrying them one by one", code, len(chunk))
        queue.extendleft([item] for item in reversed(chunk))
