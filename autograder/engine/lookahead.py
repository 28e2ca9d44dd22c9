"""Send the examples of a test to the worker ahead of their turn, so both processes work at once.

Judging an example has two halves: the worker runs the student's calls, then the grader compares
them with the reference. Judged one after the other, each process waits for the other. Here the
first batch of the next example is planned (the check is run until it would send its first batch:
:meth:`~autograder.worker.client.WorkerClient.planning`) and sent before the current example is
judged, so the worker runs it meanwhile. The worker client takes the reply only when the check asks
for exactly those bytes in its turn (:meth:`~autograder.worker.client.WorkerClient.send_ahead`),
so every check sees the same results it would have seen without lookahead.
"""
from __future__ import annotations

from typing import Callable, List, Sequence, Tuple

from autograder.engine.strategies import Example
from autograder.worker.client import Planned, WorkerClient


class Lookahead:
    """Sends, in order, the batches of the examples of one run before each is judged.

    ``batches`` is how many batches of each example are planned: 1, or 2 where the second never
    depends on the first's results (a strict mode checks the dependencies of every example first).
    """

    def __init__(self, client: WorkerClient, check: Callable[[Example], None], enabled: bool = True,
                 batches: int = 1) -> None:
        self.client, self.check, self.enabled, self.batches = client, check, enabled, batches
        self.sent = 0  # examples[:sent] are sent ahead (or judged already)

    def through(self, examples: Sequence[Example], last: int) -> None:
        """Send ahead the examples up to index ``last`` that are not sent yet (stopping for good at the
        first one that cannot be: the worker must get them in the order they will be judged)."""
        while self.enabled and self.sent <= min(last, len(examples) - 1):
            planned = self._plan(examples[self.sent])
            if not planned or not all(self.client.send_ahead(calls, clear) for calls, clear in planned):
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
        self.sent = index

    def settle(self) -> None:
        """The run is over: drop what was sent ahead and not asked for."""
        self.client.settle()
