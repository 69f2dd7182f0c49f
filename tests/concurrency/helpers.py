"""Running one piece of work in several threads at once, as several requests would.

Each thread gets its own app context (so its own session and connection), waits at a barrier until every
thread is ready, then acts; what each thread ended with is returned in thread order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import Conflict

from psa.core.errors import ValidationError
from psa.extensions import db

THREADS = 8
ROUNDS = 3
#: Long enough for eight writers queueing behind each other on a slow, shared machine; never reached when fine.
TIMEOUT = 60


@dataclass
class Outcome:
    """How one thread's work ended: "ok" (with the value returned), "conflict", "invalid" or "error"."""

    kind: str
    value: Any = None


def race(app, work: Callable[[int, Callable[[], None]], Any], threads: int = THREADS,
         app_context: bool = True) -> list[Outcome]:
    """Run work(index, go) in `threads` threads. work prepares what it needs (loads rows, reads a CSRF
    token), calls go() to wait for the others, then acts; it commits itself. Route work (test clients,
    which push a context per request) passes app_context=False."""
    barrier = threading.Barrier(threads)
    outcomes: list[Outcome | None] = [None] * threads

    def go() -> None:
        barrier.wait(timeout=TIMEOUT)

    def run(index: int) -> None:
        try:
            outcomes[index] = Outcome("ok", work(index, go))
        except Conflict as exc:
            outcomes[index] = Outcome("conflict", exc)
        except ValidationError as exc:
            outcomes[index] = Outcome("invalid", exc)
        except Exception as exc:  # reported by the test's assertions, with the exception shown
            outcomes[index] = Outcome("error", exc)
            barrier.abort()

    def in_context(index: int) -> None:
        if not app_context:
            run(index)
            return
        with app.app_context():
            try:
                run(index)
            finally:
                db.session.rollback()
                db.session.remove()

    pool = [threading.Thread(target=in_context, args=(i,), name=f"race-{i}") for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in pool), "a racing thread never finished"
    return outcomes  # type: ignore[return-value]


def kinds(outcomes: list[Outcome]) -> list[str]:
    return sorted(outcome.kind for outcome in outcomes)


def no_errors(outcomes: list[Outcome]) -> None:
    errors = [outcome.value for outcome in outcomes if outcome.kind == "error"]
    assert not errors, f"unexpected errors: {errors!r}"
