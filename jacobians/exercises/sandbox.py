"""A hard time limit: run a function in a forked child process and kill it when time is up.

The expression language's limits (length, nodes, depth, sizes, work) keep every answer well
under a second; this is the backstop for whatever could still run long. Where the platform
cannot fork (Windows), the function runs in this process and only those limits apply.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


class TimeLimitError(Exception):
    """The child ran past its time limit and was killed."""


def can_fork() -> bool:
    """Whether a hard time limit is available here."""
    return "fork" in mp.get_all_start_methods()


def _child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        conn.send(("ok", fn(*args)))
    except BaseException as e:  # reported to the parent, which decides
        conn.send(("error", e))
    finally:
        conn.close()


def run_limited(fn: Callable[..., Any], args: tuple[Any, ...], seconds: float) -> Any:
    """``fn(*args)`` in a forked child; its result, its exception re-raised, or
    :class:`TimeLimitError` after ``seconds``. Without fork, ``fn(*args)`` runs here."""
    if not can_fork():
        return fn(*args)
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(send, fn, args), daemon=True)
    process.start()
    send.close()
    try:
        if not receive.poll(seconds):
            raise TimeLimitError(f"stopped after {seconds:g} s")
        try:
            status, value = receive.recv()
        except EOFError:
            raise TimeLimitError("the evaluation stopped without a result") from None
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receive.close()
    if status == "error":
        raise value
    return value
