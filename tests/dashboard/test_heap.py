"""dashboard/heap.py: the long-lived heap is frozen out of the collection after each page run,
again only when a page run imported new modules."""
import gc
import importlib
import sys

import pytest

from dashboard import heap


@pytest.fixture
def unfrozen(monkeypatch):
    monkeypatch.setattr(heap, "_modules_at_last_freeze", 0)  # as in a new server process
    yield
    gc.unfreeze()  # leave the test process's collector as it found it


def test_freezes_once_per_new_imports(unfrozen):
    heap.freeze_long_lived_objects()
    frozen = gc.get_freeze_count()
    assert frozen > 1000  # the test process's modules and their objects
    assert heap.freeze_long_lived_objects() is False  # nothing imported since: no collection either

    sys.modules.pop("colorsys", None)
    importlib.import_module("colorsys")  # a page run's first import of a module
    assert heap.freeze_long_lived_objects() is True
    assert gc.get_freeze_count() >= frozen


def test_collection_after_freeze_walks_only_new_objects(unfrozen):
    heap.freeze_long_lived_objects()
    long_lived = gc.get_freeze_count()
    made = [[i] for i in range(1000)]  # what a page run makes
    tracked = len(gc.get_objects())
    assert tracked < long_lived  # the collector now sees the new objects, not the frozen heap
    assert len(made) == 1000
