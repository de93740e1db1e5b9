"""pool.c: the inference path's helper threads. The GEMM on the pool (a per-thread pool width,
kernels otherwise on one thread) gives the bits of one thread, for every operand form and task
split; the width is per thread; the tutorial models' predict runs on it; two callers at once
and a forked child work."""
import os
import sys
import threading

import numpy as np
import pytest

import pyconv
from pyconv import _geometry, _inference, _kernels, layers, models
from bench import specs
from bench.worker import keras_like_model


class _Pool:
    """The kernels called from this thread in the block: on one thread, with pool width w."""

    def __init__(self, w):
        self.w = w

    def __enter__(self):
        self.cap, self.width = _kernels.set_thread_cap(1), _kernels.set_pool_width(self.w)

    def __exit__(self, *exc):
        _kernels.set_thread_cap(self.cap)
        _kernels.set_pool_width(self.width)


# (N, C, K): the DNN's layers at batch 256 (8 tasks), a few MR tiles (fewer than 4 a thread), one
# MR tile (the pool splits N), W read in place (form 1), K below NR; and dense_forward_rows's
# column blocks (N <= dense_rows_max()): the DNN's first layer at batch 1 (2 blocks), 3 blocks
# on 2 threads, one block (no split)
DENSE = [(256, 784, 128), (256, 128, 10), (24, 576, 64), (7, 600, 96), (70, 300, 10), (40, 800, 64),
         (1, 784, 128), (4, 1000, 130), (1, 576, 64)]
# the tutorial CNN's convolutions at batch 1 and 3, padding, a stride
CONVS = [((1, 28, 28, 1), 32, 1, "valid"), ((1, 13, 13, 32), 64, 1, "valid"),
         ((1, 5, 5, 64), 64, 1, "valid"), ((3, 13, 13, 32), 64, 1, "same"), ((2, 14, 14, 16), 32, 2, "same")]


@pytest.mark.parametrize("shape", DENSE)
def test_dense_on_the_pool_is_bitwise_one_thread(shape, threads):
    n, c, k = shape
    rng = np.random.default_rng(n * c + k)
    x = rng.standard_normal((n, c)).astype(np.float32)
    w = rng.standard_normal((c, k)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    pyconv.set_num_threads(3)
    forms = [-1] + ([0, 1] if n > _kernels.dense_rows_max() and k % 8 == 0 else [])
    for form in forms:
        with _Pool(0):
            want = _kernels.dense_fwd(x, w, b, relu=True, form=form)
        for width in (2, 3, 2, 3):   # again: a helper that joins late, or not at all
            with _Pool(width):
                got = _kernels.dense_fwd(x, w, b, relu=True, form=form)
            np.testing.assert_array_equal(got, want, err_msg=f"{shape} form {form} width {width}")


@pytest.mark.parametrize("case", CONVS)
def test_conv2d_forward_on_the_pool_is_bitwise_one_thread(case, threads):
    xs, k, stride, padding = case
    rng = np.random.default_rng(k + xs[0])
    x = rng.standard_normal(xs).astype(np.float32)
    f = rng.standard_normal((3, 3, xs[3], k)).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    win = _geometry.conv_window(xs, (3, 3), (stride, stride), (1, 1), padding)
    pyconv.set_num_threads(2)
    for form in (-1, 0, 1):
        with _Pool(0):
            want = _kernels.conv2d_fwd(x, f, b, True, win, form=form)
        for width in (2, 3, 2):
            with _Pool(width):
                got = _kernels.conv2d_fwd(x, f, b, True, win, form=form)
            np.testing.assert_array_equal(got, want, err_msg=f"{case} form {form} width {width}")


@pytest.mark.parametrize("shape", [(1, 26, 26, 32), (1, 11, 11, 64), (3, 9, 9, 16)])
def test_maxpool_forward_on_the_pool_is_bitwise_ref(shape, threads):
    x = np.random.default_rng(shape[1]).standard_normal(shape).astype(np.float32)
    win = _geometry.window(shape[1], shape[2], 2, 2, (2, 2), (1, 1), "valid")
    want = _kernels.maxpool2d_fwd(x, win, ref=True)
    pyconv.set_num_threads(2)
    for width in (2, 3, 2):
        with _Pool(width):
            np.testing.assert_array_equal(_kernels.maxpool2d_fwd(x, win), want)


def test_pool_width_is_per_thread_and_restored():
    seen = {}
    before = _kernels.set_pool_width(3)
    try:
        t = threading.Thread(target=lambda: seen.update(other=_kernels.set_pool_width(0)))
        t.start()
        t.join()
        assert seen["other"] == 0   # another thread's width is its own
        assert _kernels.set_pool_width(2) == 3
        assert _kernels.set_pool_width(1000) == 2
        assert _kernels.set_pool_width(0) == 64   # POOL_MAX_WIDTH
    finally:
        _kernels.set_pool_width(before)


@pytest.mark.parametrize("name, n", [("cnn", 1), ("cnn", 3), ("dnn", 256), ("dnn", 40)])
def test_tutorial_models_predict_on_the_pool_bitwise(name, n, threads):
    """predict_on_batch of one chunk runs its GEMMs on the pool: the bits of one thread, and
    the pool width is back to 0 after the call."""
    m = keras_like_model(layers, models, name)
    x = np.random.default_rng(n).uniform(0, 1, (n,) + tuple(specs.MODELS[name]["input"])).astype(np.float32)
    prog = _inference._Program(m._plan())
    with _Pool(0):
        want = prog.run(prog.weights(), [x])[0]
    for t in (2, 3, 2):
        pyconv.set_num_threads(t)
        for _ in range(3):
            np.testing.assert_array_equal(m.predict_on_batch(x), want)
        assert _kernels.set_pool_width(0) == 0


def test_two_callers_on_the_pool_at_once(threads):
    """A second caller while a job runs does its own job alone: both get their bits."""
    pyconv.set_num_threads(2)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((256, 784)).astype(np.float32)
    w = rng.standard_normal((784, 128)).astype(np.float32)
    with _Pool(0):
        want = _kernels.dense_fwd(x, w)
    bad = []

    def caller(k):
        with _Pool(2):
            for _ in range(30):
                if not np.array_equal(_kernels.dense_fwd(x, w), want):
                    bad.append(k)

    ts = [threading.Thread(target=caller, args=(k,)) for k in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not bad


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="fork: Linux")
def test_a_forked_child_runs_on_its_own_pool(threads):
    pyconv.set_num_threads(2)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((256, 300)).astype(np.float32)
    w = rng.standard_normal((300, 64)).astype(np.float32)
    with _Pool(0):
        want = _kernels.dense_fwd(x, w)
    with _Pool(2):   # the parent's helpers exist before the fork
        np.testing.assert_array_equal(_kernels.dense_fwd(x, w), want)
    pid = os.fork()
    if pid == 0:   # the child: its own helpers, the same bits; never back into pytest
        ok = False
        try:
            with _Pool(2):
                ok = all(np.array_equal(_kernels.dense_fwd(x, w), want) for _ in range(10))
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
