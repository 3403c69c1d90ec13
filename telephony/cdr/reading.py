"""Reading a call-log file beside the import: a thread that reads, parses and
groups it into batches of calls (:class:`Reader`, :func:`batches`) while the
import writes the previous batch, with Python's cyclic garbage collector off
for the while (:func:`no_collections`).
"""

from __future__ import annotations

import gc
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import TypeVar

from django.utils import translation

Item = TypeVar("Item")

_DONE = object()


def batches(items: Iterator[Item], size: int, *, first: int = 2_000) -> Iterator[list[Item]]:
    """Lists of ``size`` items, the first one of ``first`` at the most (a
    small first batch: the database starts sooner)."""
    count = min(first, size)
    while batch := list(islice(items, count)):
        yield batch
        count = size


class Reader:
    """The batches of calls of a file, read, parsed and grouped in a thread
    of their own while the import stores the previous batch: Python parses
    while the database writes (psycopg2 lets go of the GIL while it waits
    for the server). One batch is kept ready. The thread speaks the import's
    language (the parser's messages go into the report)."""

    def __init__(self, batches: Callable[[], Iterator[list]]):
        self.batches = batches
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.stop = threading.Event()
        self.language = translation.get_language()
        self.busy = 0.0  # the thread's seconds reading (not waiting to hand over)
        self.waited = 0.0  # the import's seconds waiting for a batch

    def _read(self) -> None:
        clock = time.perf_counter()
        try:
            with translation.override(self.language):
                for batch in self.batches():
                    self.busy += time.perf_counter() - clock
                    if not self._put(batch):
                        return
                    clock = time.perf_counter()
            self.busy += time.perf_counter() - clock
            self._put(_DONE)
        except BaseException as error:  # handed to the import, which raises it
            self._put(error)

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def __iter__(self) -> Iterator[list]:
        thread = threading.Thread(target=self._read, name="cdr-reader", daemon=True)
        thread.start()
        try:
            while True:
                clock = time.perf_counter()
                item = self.queue.get()
                self.waited += time.perf_counter() - clock
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.stop.set()
            thread.join()


_collector = threading.Lock()
_collector_holds = [0, True]  # imports running, whether the collector was on


@contextmanager
def no_collections():
    """No cyclic garbage collection while imports run (the collector as it
    was once the last one ends): a million calls are tens of millions of
    objects, none in a reference cycle, which it would traverse again and
    again (a fifth of the import's Python time)."""
    with _collector:
        if _collector_holds[0] == 0:
            _collector_holds[1] = gc.isenabled()
            gc.disable()
        _collector_holds[0] += 1
    try:
        yield
    finally:
        with _collector:
            _collector_holds[0] -= 1
            if _collector_holds[0] == 0 and _collector_holds[1]:
                gc.enable()
