"""csrc/scratch.c: the kernels' workspaces come from a block each thread keeps, so that a
training step in steady state calls malloc not at all in C (issue 12: "no allocation per
training step for the new layers' workspaces"). The arena's own cases (nesting, growth, the
cap, impossible sizes) are checked in C by tests/c/kernel_check.c (check_scratch)."""
import threading
import time

import numpy as np
import pytest

import pyconv
from pyconv import _kernels

from bench.allocs import model

ARENA = _kernels.scratch_stats()["arena"]
needs_arena = pytest.mark.skipif(not ARENA, reason="a malloc per workspace in this build "
                                 "(a sanitizer build, or no POSIX threads)")


def issue12_model():
    """bench/allocs.py's model of issue 12's layers, smaller: 16x16 images, 16 channels."""
    return model(pyconv, 32, side=16, width=16)


@needs_arena
def test_training_steps_allocate_no_workspace_after_the_first():
    m, x, y = issue12_model()
    m.train_on_batch(x, y)   # warm-up: each thread's block grows to its largest call
    before = _kernels.scratch_stats()
    for _ in range(10):
        m.train_on_batch(x, y)
    after = _kernels.scratch_stats()
    assert after["blocks"] == before["blocks"], (before, after)
    assert after["depth"] == 0 and 0 < after["kept"] <= after["keep_max"]


def in_new_thread(fn):
    """fn() run in a thread of its own (a stack of its own, empty at first); its result."""
    out = {}
    t = threading.Thread(target=lambda: out.update(r=fn()))
    t.start()
    t.join()
    return out["r"]


def test_workspaces_are_all_freed_and_kept_blocks_reused():
    """Every kernel returns its workspaces (depth 0 after any call, also after a failure); a
    thread's first call grows its block, the same call again mallocs nothing, a bigger one
    grows it again."""
    rng = np.random.default_rng(0)
    small = rng.standard_normal((4096, 64)).astype(np.float32)
    big = rng.standard_normal((16384, 64)).astype(np.float32)

    def calls():
        stats = []
        for g in (small, small, big, big):   # bias_add's workspace: (rows / 64) x C floats
            np.testing.assert_allclose(_kernels.bias_add_bwd(g), g.sum(0, dtype=np.float64),
                                       rtol=1e-4, atol=1e-3)
            stats.append(_kernels.scratch_stats())
        return stats
    s = in_new_thread(calls)
    assert all(st["depth"] == 0 for st in s)
    if ARENA:
        assert s[0]["kept"] == 4096 // 64 * 64 * 4 and s[2]["kept"] == 4 * s[0]["kept"]
        assert s[1]["blocks"] == s[0]["blocks"] and s[3]["blocks"] == s[2]["blocks"]
    with pytest.raises(MemoryError):   # a workspace that cannot be had: nothing left behind
        pyconv.nn.conv2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 1)),
                         padding=[[0, 0], [2**31 - 1, 2**31 - 1], [2**20, 2**20], [0, 0]])
    assert _kernels.scratch_stats()["depth"] == 0


def test_two_threads_train_at_once_with_the_bits_of_one():
    """Each thread has its own stack: two models trained at once in two threads end with the
    weights of the same training run alone; a thread that ends frees its stack."""
    m, x, y = issue12_model()
    start = m.get_weights()
    for _ in range(3):
        m.train_on_batch(x, y)
    want = m.get_weights()
    arenas = _kernels.scratch_stats()["arenas"]
    models = [issue12_model()[0] for _ in range(2)]
    got = {}

    def work(i):
        models[i].set_weights(start)
        for _ in range(3):
            models[i].train_on_batch(x, y)
        got[i] = models[i].get_weights()
    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for i in range(2):
        for a, b in zip(got[i], want):
            np.testing.assert_array_equal(a, b)
    if ARENA:   # the threads' stacks are freed as they end (just after join returns)
        deadline = time.monotonic() + 5
        while _kernels.scratch_stats()["arenas"] > arenas and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _kernels.scratch_stats()["arenas"] <= arenas
