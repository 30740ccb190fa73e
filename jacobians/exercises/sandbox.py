"""A hard time limit: run a function in a forked child process and kill it when time is up.

The expression language's limits (length, nodes, depth, sizes, work) keep every answer well
under a second; this is the backstop for whatever could still run long. :func:`run_streaming`
lets the child send results as it goes, so that what it finished before the deadline is kept.
Where the platform cannot fork (Windows), the function runs in this process and only those
limits apply.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

Emit = Callable[[Any], None]
"""How a streaming function sends one message (a picklable value) to the parent."""

_DONE = "__done__"


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


def _streaming_child(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        fn(*args, conn.send)
        conn.send(_DONE)
    except BaseException as e:  # reported to the parent, which re-raises it
        conn.send(("__error__", e))
    finally:
        conn.close()


def run_streaming(
    fn: Callable[..., None], args: tuple[Any, ...], seconds: float | None
) -> tuple[list[Any], bool]:
    """Run ``fn(*args, emit)`` and collect what it emits: in a forked child killed
    ``seconds`` after the start (one deadline for the whole run), or here when ``seconds``
    is ``None`` or the platform cannot fork.

    Returns the messages received, in order, and whether ``fn`` returned (``False``: the
    child was killed at the deadline, or died). An exception ``fn`` raises is re-raised here.

    >>> def count(n, emit):
    ...     for i in range(n):
    ...         emit(i)
    >>> run_streaming(count, (3,), 5.0)
    ([0, 1, 2], True)
    """
    if seconds is None or not can_fork():
        out: list[Any] = []
        fn(*args, out.append)
        return out, True
    deadline = time.monotonic() + seconds
    ctx = mp.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_streaming_child, args=(send, fn, args), daemon=True)
    process.start()
    send.close()
    messages: list[Any] = []
    finished = False
    try:
        while (left := deadline - time.monotonic()) > 0 and receive.poll(left):
            try:
                item = receive.recv()
            except EOFError:  # the child died (killed for memory, say)
                break
            if isinstance(item, str) and item == _DONE:
                finished = True
                break
            if isinstance(item, tuple) and len(item) == 2 and item[0] == "__error__":
                raise item[1]
            messages.append(item)
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receive.close()
    return messages, finished
