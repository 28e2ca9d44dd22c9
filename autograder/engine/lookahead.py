"""Send the examples of a test to the worker ahead of their turn, so both processes work at once.

Judging an example has two halves: the worker runs the student's calls, then the grader compares
them with the reference. Judged one after the other, each process waits for the other. Here the
first batch of the next examples is planned (the check is run until it would send its first batch:
:meth:`~autograder.worker.client.WorkerClient.planning`) and sent before the current example is
judged, so the worker runs them meanwhile: a test whose examples need no dependency check between
them (all of them where none is set aside) reaches the worker at once, as many as the pipe holds, and
the grader and the worker wait for each other about once per test instead of once per example. The worker client takes the reply only when the check asks
for exactly those bytes in its turn (:meth:`~autograder.worker.client.WorkerClient.send_ahead`),
so every check sees the same results it would have seen without lookahead.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple

from autograder.engine.strategies import Example
from autograder.worker.client import Planned, Prepared, WorkerClient


class Lookahead:
    """Sends, in order, the batches of the examples of one run before each is judged.

    ``batches`` is how many batches of each example are planned: 1, or 2 where the second never
    depends on the first's results (a strict mode checks the dependencies of every example first).
    """

    def __init__(self, client: WorkerClient, check: Callable[[Example], None], enabled: bool = True,
                 batches: int = 1) -> None:
        self.client, self.check, self.enabled, self.batches = client, check, enabled, batches
        self.sent = 0  # examples[:sent] are sent ahead (or judged already)
        self._waiting: Optional[Tuple[int, List[Prepared]]] = None  # planned, not sent for want of room

    def through(self, examples: Sequence[Example], last: int) -> None:
        """Send ahead the examples up to index ``last`` that are not sent yet (stopping for good at the
        first one that cannot be: the worker must get them in the order they will be judged; for now
        only, where the pipe has no room until replies sent ahead are taken)."""
        while self.enabled and self.sent <= min(last, len(examples) - 1):
            if self._waiting is not None and self._waiting[0] == self.sent:
                prepared = self._waiting[1]
            else:
                planned = self._plan(examples[self.sent])
                found = [self.client.prepare_ahead(calls, clear) for calls, clear in planned]
                if not planned or any(p is None for p in found):
                    self.enabled = False
                    return
                prepared = [p for p in found if p is not None]
            if sum(len(p.key) for p in prepared) > self.client.room_ahead():
                if self.client.pending_ahead():  # room comes back as their replies are taken
                    self._waiting = (self.sent, prepared)
                    return
                self.enabled = False  # it will never fit
                return
            self._waiting = None
            if not all(self.client.send_prepared(p) for p in prepared):
                self.enabled = False
                return
            self.sent += 1

    def _plan(self, ex: Example) -> List[Tuple[List[dict], bool]]:
        with self.client.planning(self.batches):
            self.client.clear_handles()  # as the judge does before each example
            try:
                self.check(ex)
            except Planned as planned:
                return planned.batches
            except Exception:  # noqa: BLE001 - decided before (enough) calls: nothing to send ahead
                return []
        return []

    def restart(self, index: int) -> None:
        """The examples from ``index`` on changed (Hypothesis draws on otherwise): drop what was sent
        ahead of them; the next :meth:`through` sends the new ones."""
        self.client.settle()
        self.sent, self._waiting = index, None

    def settle(self) -> None:
        """The run is over: drop what was sent ahead and not asked for."""
        self.client.settle()
