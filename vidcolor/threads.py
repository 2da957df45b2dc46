"""Stages of a pipeline on threads, joined by bounded queues.

:func:`produce` runs an iterable ahead of its consumer; :class:`Consumer` runs a function
behind its producer. Both keep the rules of STYLE.md ("Threads inside a worker"):

- the queue is bounded, so a fast stage waits for a slow one instead of filling memory;
- an end mark closes the stream, and an exception travels in its place and is raised again,
  the same object, on the other side (a ``DecodeError`` stays a ``DecodeError``);
- the thread is joined in ``finally``, also when the other side stops early or raises
  (``KeyboardInterrupt`` included): a stop event, polled while a queue is full or empty,
  ends it within ``_POLL`` seconds of the item in hand.

Threads pay off here because the heavy work of every stage (PyAV decode and encode, torch and
OpenCV kernels) releases the GIL. Threads are daemons: one stuck inside a C call must not keep
the process alive after its owner has given up on it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar, cast

T = TypeVar("T")

_POLL = 0.05  # seconds between looks at the stop event while a queue is full or empty
_END = object()  # the end mark: nothing follows it


@dataclass(frozen=True)
class _Failed:
    """Sent instead of the end mark when the producing side raised."""

    error: BaseException


def produce(
    items: Iterable[T], maxsize: int = 2, name: str = "vidcolor-produce"
) -> Generator[T, None, None]:
    """Yields ``items`` in order while a thread computes them ahead of the consumer.

    The thread starts on the first ``next`` and runs at most ``maxsize + 1`` items ahead:
    ``maxsize`` in the queue and one waiting to go in. A consumer that may stop early or
    raise should close the generator (``contextlib.closing``) rather than leave it to the
    garbage collector: closing stops the thread after the item it is computing, closes
    ``items`` on that thread if it is a generator, and joins it.

    Args:
        items: Iterated on the thread only.
        maxsize: How many finished items may wait in the queue; at least 1.
        name: The thread's name, as ``threading.enumerate()`` shows it.

    Raises:
        ValueError: ``maxsize`` below 1.
        BaseException: Whatever iterating ``items`` raised, the same object, once the items
            before it have been yielded.
    """
    if maxsize < 1:
        raise ValueError(f"maxsize must be at least 1, got {maxsize}")
    handoff: queue.Queue[object] = queue.Queue(maxsize)
    stop = threading.Event()
    thread = threading.Thread(
        target=_fill, args=(iter(items), handoff, stop), name=name, daemon=True
    )
    thread.start()
    try:
        while (item := handoff.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield cast(T, item)
    finally:
        stop.set()
        thread.join()


def _fill(items: Iterator[object], handoff: queue.Queue[object], stop: threading.Event) -> None:
    """The producing thread: puts every item, then the end mark or the error that ended it."""
    try:
        for item in items:
            if not _put(handoff, item, stop):
                return  # the consumer has gone
        _put(handoff, _END, stop)
    except BaseException as error:  # every kind: the consumer decides what is fatal
        _put(handoff, _Failed(error), stop)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # a generator's cleanup (an open file) runs on the thread that used it


def _put(handoff: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Puts ``item`` unless ``stop`` is set first; returns whether it was put.

    Polls, because a plain ``put`` into a full queue whose reader has gone would never return.
    """
    while not stop.is_set():
        try:
            handoff.put(item, timeout=_POLL)
        except queue.Full:
            continue
        return True
    return False


class Consumer(Generic[T]):
    """Calls ``handle(item)`` on a thread for every item put, in order; a context manager.

    ``put`` blocks while ``maxsize`` items wait, so the caller is at most ``maxsize + 1``
    items ahead of ``handle``. When the ``with`` block ends normally, the exit waits until
    every item put has been handled; when it raises, the exit drops the waiting items and
    returns once the item in hand is done. Either way the thread is joined. An exception in
    ``handle`` stops the thread and is raised again, the same object, by the next ``put`` or
    by the exit.

    Args:
        handle: Called on the thread, once per item.
        maxsize: How many items may wait for ``handle``; at least 1.
        name: The thread's name, as ``threading.enumerate()`` shows it.
    """

    def __init__(
        self, handle: Callable[[T], None], maxsize: int = 2, name: str = "vidcolor-consume"
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize}")
        self._handle = handle
        self._queue: queue.Queue[object] = queue.Queue(maxsize)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def put(self, item: T) -> None:
        """Queues ``item``, waiting while the queue is full.

        Raises:
            BaseException: What ``handle`` raised on an earlier item.
        """
        self._send(item)

    def _send(self, item: object) -> None:
        while True:
            self._raise_failure()
            try:
                self._queue.put(item, timeout=_POLL)  # polled: the thread may fail meanwhile
            except queue.Full:
                continue
            return

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    item = self._queue.get(timeout=_POLL)
                except queue.Empty:
                    continue
                if item is _END:
                    return
                self._handle(cast(T, item))
        except BaseException as error:  # every kind: re-raised in the caller
            self._error = error

    def __enter__(self) -> Consumer[T]:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self._send(_END)
                self._thread.join()  # drains the queue, then meets the end mark
        finally:
            self._stop.set()  # reached with items waiting only on an error: drop them
            self._thread.join()
        if exc_type is None:
            self._raise_failure()
