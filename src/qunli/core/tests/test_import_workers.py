"""The import's forked validating workers (imports._Workers): results in the order the tasks
were given, a worker's exception raised in the importing process, a dead worker an error
rather than a wait for ever."""

import os

import pytest

from qunli.core import imports


def _tenfold_but_two(x):
    if x == 2:
        raise ValueError("坏数据")
    return x * 10


def _echo(data):
    return data


def _die(_):
    os._exit(3)


@pytest.fixture
def workers():
    made = []

    def start(n, fn):
        made.append(imports._Workers(n, fn))
        return made[-1]
    yield start
    for w in made:
        w.close()


def test_results_come_back_in_order_and_a_workers_exception_is_raised_here(workers):
    w = workers(2, _tenfold_but_two)
    for x in (1, 3, 2, 4):
        w.submit(x)
    assert (w.result(), w.result()) == (10, 30)
    with pytest.raises(ValueError, match="坏数据"):
        w.result()
    assert w.result() == 40


def test_large_tasks_and_results_do_not_wait_on_each_other(workers):
    """Tasks bigger than a pipe, handed over before any result is read (a workbook's row
    chunks): the worker takes them off the pipe while its results wait to be read."""
    w = workers(1, _echo)
    blobs = [str(i) * (3 << 20) for i in range(3)]
    for b in blobs:
        w.submit(b)
    assert [w.result() for _ in blobs] == blobs


def test_a_worker_that_dies_ends_the_wait_with_an_error(workers):
    w = workers(1, _die)
    w.submit(None)
    with pytest.raises(RuntimeError):
        w.result()
