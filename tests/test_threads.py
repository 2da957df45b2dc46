"""Thread stages: order, bounded queues, errors crossing threads, threads always joined."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import closing

import pytest

from vidcolor.errors import DecodeError
from vidcolor.threads import Consumer, produce


def stage_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("test-stage")]


@pytest.fixture(autouse=True)
def no_thread_left():
    """Every test, passing or not, must leave no stage thread behind."""
    yield
    assert stage_threads() == []


def test_produce_yields_every_item_in_order():
    assert list(produce(range(100), maxsize=2, name="test-stage")) == list(range(100))


def test_produce_runs_on_another_thread():
    def where() -> Iterator[str]:
        yield threading.current_thread().name

    assert list(produce(where(), name="test-stage")) == ["test-stage"]


def test_producer_error_reaches_consumer_with_its_type_after_earlier_items():
    failure = DecodeError("cannot decode frame 3", frame=3)

    def frames() -> Iterator[int]:
        yield from range(3)
        raise failure

    got = []
    with pytest.raises(DecodeError) as caught:
        for item in produce(frames(), name="test-stage"):
            got.append(item)
    assert caught.value is failure and caught.value.frame == 3
    assert got == [0, 1, 2]


def test_consumer_stopping_early_stops_and_joins_the_producer():
    cleaned = threading.Event()

    def endless() -> Iterator[int]:
        try:
            yield from itertools.count()
        finally:
            cleaned.set()  # closed on the producer's thread, so its resources are released

    began = time.monotonic()
    with closing(produce(endless(), maxsize=2, name="test-stage")) as items:
        assert [next(items) for _ in range(3)] == [0, 1, 2]
        assert len(stage_threads()) == 1  # blocked on the full queue
    assert stage_threads() == [] and cleaned.is_set()
    assert time.monotonic() - began < 2


def test_consumer_raising_stops_and_joins_the_producer():
    with pytest.raises(KeyboardInterrupt), closing(produce(itertools.count(), name="test-stage")):
        raise KeyboardInterrupt  # as Ctrl-C in the caller's thread would
    assert stage_threads() == []


def test_producer_never_more_than_maxsize_plus_one_ahead():
    maxsize, made = 2, []

    def recorded() -> Iterator[int]:
        for i in range(12):
            made.append(i)
            yield i

    ahead = []
    for item in produce(recorded(), maxsize=maxsize, name="test-stage"):
        time.sleep(0.03)  # a slow consumer: the producer fills the queue and waits
        ahead.append(len(made) - 1 - item)
    assert max(ahead) == maxsize + 1  # the queue, plus the item waiting to go in


def test_produce_rejects_an_empty_queue():
    with pytest.raises(ValueError, match="maxsize"):
        next(produce([1], maxsize=0))


def test_consumer_handles_every_item_in_order_on_its_thread():
    seen = []
    with Consumer(
        lambda i: seen.append((i, threading.current_thread().name)), 2, "test-stage"
    ) as c:
        for i in range(50):
            c.put(i)
    assert seen == [(i, "test-stage") for i in range(50)]


def test_consumer_error_is_raised_in_caller_with_its_type():
    failure = DecodeError("encoder refused frame 2", frame=2)

    def handle(item: int) -> None:
        if item == 2:
            raise failure

    with pytest.raises(DecodeError) as caught, Consumer(handle, 1, "test-stage") as c:
        for i in range(100):  # a put after the failure raises it; the exit at the latest
            c.put(i)
    assert caught.value is failure


def test_consumer_error_in_last_item_is_raised_at_exit():
    def handle(item: int) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"), Consumer(handle, 2, "test-stage") as c:
        c.put(0)


def test_caller_raising_drops_waiting_items_and_joins_promptly():
    handled = []

    def slow(item: int) -> None:
        time.sleep(0.05)
        handled.append(item)

    began = time.monotonic()
    with pytest.raises(KeyboardInterrupt), Consumer(slow, 2, "test-stage") as c:
        for i in range(5):
            c.put(i)
        raise KeyboardInterrupt
    assert time.monotonic() - began < 1
    assert handled == list(range(len(handled))) and len(handled) < 5


def test_caller_never_more_than_maxsize_plus_one_ahead():
    maxsize, handled, ahead = 2, [], []

    def slow(item: int) -> None:
        time.sleep(0.03)
        handled.append(item)

    with Consumer(slow, maxsize, "test-stage") as c:
        for i in range(12):
            c.put(i)
            ahead.append(i + 1 - len(handled))  # put, not yet handled
    assert max(ahead) == maxsize + 1  # the queue, plus the item in hand
    assert handled == list(range(12))
