"""The inference path (pyconv/_inference.py): the batch in chunks on all threads, bitwise the
same as one chunk on one thread; which models are chunked; a per-thread kernel thread cap;
a model shared between threads."""
import math
import threading
import time

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import pyconv
from pyconv import _inference, _kernels, layers, models


def cnn(rng):
    """The tutorial CNN's layer kinds, a folded BatchNormalization and a relu after it, small."""
    m = models.Sequential([layers.Input((12, 12, 2)), layers.Conv2D(8, 3, activation="relu"),
                           layers.MaxPooling2D(2), layers.Conv2D(16, 3), layers.BatchNormalization(),
                           layers.ReLU(), layers.Flatten(), layers.Dense(12, activation="relu"),
                           layers.Dropout(0.5), layers.Dense(5, activation="softmax")])
    for l in m.layers:
        if isinstance(l, layers.BatchNormalization):
            l.set_weights([rng.uniform(0.5, 2, 16), rng.standard_normal(16), rng.standard_normal(16),
                           rng.uniform(0.5, 2, 16)])
        elif l.weights:
            l.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in l.weights])
    return m


def one_chunk(plan, inputs):
    """The reference: the whole batch as one chunk, its kernels on one thread."""
    prog = _inference._Program(plan)
    with _inference._ThreadCap(1):
        return prog.run(prog.weights(), inputs)


@settings(max_examples=25)
@given(n=st.integers(1, 40), budget=st.sampled_from([1.0, 3e4, 1e5, 1e9]), threads=st.integers(1, 3),
       min_macs=st.sampled_from([1.0, 3e6]), helpers=st.booleans())
@example(n=1, budget=1e9, threads=2, min_macs=3e6, helpers=True).via("batch 1: one chunk on the caller")
@example(n=37, budget=1.0, threads=2, min_macs=1.0, helpers=True).via("the smallest chunks: 5 rows, on the GEMM")
@example(n=4, budget=1.0, threads=2, min_macs=1.0, helpers=True).via("a chunk per example, on dense_forward_rows")
@example(n=16, budget=1e9, threads=3, min_macs=1.0, helpers=True).via("more threads than the L2 needs")
@example(n=37, budget=1.0, threads=2, min_macs=1.0, helpers=False).via("chunks on the caller alone")
def test_chunks_are_bitwise_one_chunk(monkeypatch, threads, n, budget, min_macs, helpers):
    rng = np.random.default_rng(n)
    m = cnn(rng)
    x = rng.standard_normal((n, 12, 12, 2)).astype(np.float32)
    want = one_chunk(m._plan(), [x])[0]
    monkeypatch.setattr(_inference, "_chunk_budget", lambda: budget)
    monkeypatch.setattr(_inference, "MIN_CHUNK_MACS", min_macs)
    # the test model is small: helpers take part only with the threshold lowered
    monkeypatch.setattr(_inference, "MIN_THREAD_MACS", 1.0 if helpers else 1e8)
    before = pyconv.get_num_threads()
    try:
        pyconv.set_num_threads(threads)
        got = m.predict_on_batch(x)
    finally:
        pyconv.set_num_threads(before)
    np.testing.assert_array_equal(got, want)


def test_chunk_bounds_cover_the_batch_in_near_equal_chunks():
    lay = _inference._Layout(step_bytes=1e5, macs=3e6)
    for n in (1, 2, 7, 255, 256):
        for threads in (1, 2, 3):
            b = _inference.chunk_bounds(n, lay, threads)
            assert b[0][0] == 0 and b[-1][1] == n and all(p[1] == q[0] for p, q in zip(b, b[1:]))
            sizes = [hi - lo for lo, hi in b]
            assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1, (n, threads, sizes)
            # a batch that runs its Dense layers on the GEMM is cut in chunks that do too
            assert n <= _kernels.dense_rows_max() or min(sizes) > _kernels.dense_rows_max()
    budget = _inference._chunk_budget()
    fit = _inference._Layout(step_bytes=budget / 13.5, macs=3e6)   # 13 examples fit in the budget
    assert len(_inference.chunk_bounds(256, fit, 1)) == -(-256 // 13)   # 20
    # CHUNKS_PER_THREAD a thread: 8 x 3 = 24 chunks of 10-11 rather than the 20 that fit
    assert len(_inference.chunk_bounds(256, fit, 3)) == 3 * _inference.CHUNKS_PER_THREAD == 24
    # never fewer than 5 rows a chunk (the GEMM's Dense, as the whole batch's): 105 in 21, 30 in 6
    assert len(_inference.chunk_bounds(105, _inference._Layout(1e5, 3e6), 4)) == 21
    assert len(_inference.chunk_bounds(30, _inference._Layout(1e5, 1.5e6), 2)) == 6
    # and never less work than MIN_CHUNK_MACS a chunk: 2 examples of 1.5e6
    assert len(_inference.chunk_bounds(4, _inference._Layout(1e5, 1.5e6), 2)) == 2
    # a batch too small to pay for a hand-off is one chunk; two examples of 3e6 are two
    assert _inference.chunk_bounds(1, lay, 2) == [(0, 1)]
    assert _inference.chunk_bounds(2, lay, 2) == [(0, 1), (1, 2)]
    assert _inference.chunk_bounds(2, _inference._Layout(1e5, 1e6), 2) == [(0, 2)]
    assert _inference.chunk_bounds(9, None, 2) == [(0, 9)]


def test_helpers_take_chunks_only_where_each_thread_has_enough_work():
    """chunk_threads: helpers only where the batch has MIN_THREAD_MACS a thread; a smaller batch
    runs on the caller alone, in chunks of the cache budget (one when it fits), its kernels on
    one thread."""
    from bench.worker import keras_like_model
    cnn_lay = _inference.layout(keras_like_model(layers, models, "cnn")._plan())
    dnn_lay = _inference.layout(keras_like_model(layers, models, "dnn")._plan())
    least = _inference.MIN_THREAD_MACS
    for threads in (2, 3):
        assert _inference.chunk_threads(1, cnn_lay, threads) == 1
        assert _inference.chunk_threads(32, cnn_lay, threads) == 1      # 8.9e7 multiply-adds
        assert _inference.chunk_threads(256, cnn_lay, threads) == threads   # 7.2e8
        assert _inference.chunk_threads(256, dnn_lay, threads) == 1     # 2.6e7: one chunk, one thread
        assert _inference.chunk_bounds(256, dnn_lay, 1) == [(0, 256)]
        n = math.ceil(least * threads / cnn_lay.macs)   # the smallest batch that pays for the helpers
        assert _inference.chunk_threads(n, cnn_lay, threads) == threads
        assert _inference.chunk_threads(n - 1, cnn_lay, threads) == 1
    assert _inference.chunk_threads(10**6, cnn_lay, 1) == 1
    assert _inference.chunk_threads(10**6, None, 2) == 1


def test_a_batch_below_the_helper_threshold_runs_on_the_caller_alone(monkeypatch, threads):
    """Its chunks one after the other, every kernel capped at one thread, no helper asked."""
    pyconv.set_num_threads(2)
    full = _kernels.num_threads()   # 1 in a build without OpenMP
    m = cnn(np.random.default_rng(4))
    x = np.random.default_rng(5).standard_normal((10, 12, 12, 2)).astype(np.float32)
    monkeypatch.setattr(_inference, "_chunk_budget", lambda: 1.0)   # chunks of 5 rows (> DENSE_ROWS_MAX)
    seen = []
    real = _inference._Program.run
    monkeypatch.setattr(_inference._Program, "run", lambda self, w, inputs: seen.append(
        (threading.current_thread() is threading.main_thread(), _kernels.num_threads(),
         len(inputs[0]))) or real(self, w, inputs))
    monkeypatch.setattr(_inference, "_run_chunks", None)   # calling it would raise
    got = m.predict_on_batch(x)
    assert seen == [(True, 1, 5), (True, 1, 5)]
    assert _kernels.num_threads() == full   # the cap is lifted after the call
    np.testing.assert_array_equal(got, one_chunk(m._plan(), [x])[0])


def test_tutorial_models_are_rowwise_and_their_layout_is_counted():
    from bench.worker import keras_like_model
    lay = _inference.layout(keras_like_model(layers, models, "cnn")._plan())
    # conv1 32x3x3x1 on 26x26, conv2 64x3x3x32 on 11x11, conv3 64x3x3x64 on 3x3, dense 576x64, 64x10
    assert lay.macs == 26 * 26 * 32 * 9 + 11 * 11 * 64 * 288 + 3 * 3 * 64 * 576 + 576 * 64 + 64 * 10
    assert lay.step_bytes == 4 * (26 * 26 * 32 + 13 * 13 * 32)   # the first pooling's input + output
    lay = _inference.layout(keras_like_model(layers, models, "dnn")._plan())
    assert lay.macs == 784 * 128 + 128 * 10 and lay.step_bytes == 4 * (784 + 784)
    assert lay.weight_bytes == 4 * 784 * 128
    # its examples are small beside its weights: a chunk per thread, each packing them once
    # (where the batch is big enough for helpers at all: chunk_threads)
    assert _inference.chunk_bounds(256, lay, 2) == [(0, 128), (128, 256)]


@pytest.mark.parametrize("last", [layers.Lambda(lambda t: t - pyconv.ops.mean(t, axis=0)),
                                  layers.Softmax(axis=0), layers.Activation(pyconv.activations.make_softmax(0))],
                         ids=["lambda", "softmax-layer-axis0", "softmax-axis0"])
def test_a_layer_that_mixes_examples_turns_chunking_off(last):
    m = models.Sequential([layers.Input((6,)), layers.Dense(4), last])
    assert _inference.layout(m._plan()) is None
    x = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
    np.testing.assert_array_equal(m.predict_on_batch(x), m(x, training=False))


def test_softmax_over_the_last_axis_stays_rowwise():
    m = models.Sequential([layers.Input((6,)), layers.Dense(4), layers.Softmax(axis=1)])
    assert _inference.layout(m._plan()) is not None


def test_thread_cap_is_per_thread_and_restored(threads):
    pyconv.set_num_threads(2)
    full = _kernels.num_threads()   # 1 in a build without OpenMP
    seen = {}

    def other():
        seen["other"] = _kernels.num_threads()

    with _inference._ThreadCap(1):
        assert _kernels.num_threads() == 1
        t = threading.Thread(target=other)
        t.start()
        t.join()
        with _inference._ThreadCap(0):
            assert _kernels.num_threads() == full
        assert _kernels.num_threads() == 1
    assert _kernels.num_threads() == full and seen["other"] == full
    assert pyconv.get_num_threads() == full


def test_an_error_in_a_helper_reaches_the_caller(monkeypatch, threads):
    pyconv.set_num_threads(2)
    calls = []

    def prog(inputs):
        calls.append(threading.current_thread().name)
        if len(calls) == 3:
            raise FloatingPointError("chunk 3")
        return [inputs[0] * 2]

    x = np.arange(8, dtype=np.float32)
    with pytest.raises(FloatingPointError, match="chunk 3"):
        _inference._run_chunks(prog, [x], [(i, i + 1) for i in range(8)], 2)
    got = _inference._run_chunks(lambda i: [i[0] * 2], [x], [(i, i + 2) for i in range(0, 8, 2)], 2)
    np.testing.assert_array_equal(np.concatenate([p[0] for p in got]), 2 * x)


def test_the_caller_does_not_wait_long_for_a_helper_that_stalls(threads):
    pyconv.set_num_threads(2)
    release = threading.Event()
    ran = []

    def prog(inputs):   # a helper that loses its core: stalled until released
        ran.append(threading.current_thread() is threading.main_thread())
        if not ran[-1]:
            release.wait(5.0)
        return [inputs[0] * 2]

    x = np.arange(8, dtype=np.float32)
    t0 = time.perf_counter()
    got = _inference._run_chunks(prog, [x], [(i, i + 2) for i in range(0, 8, 2)], 2)
    took = time.perf_counter() - t0
    release.set()
    np.testing.assert_array_equal(np.concatenate([p[0] for p in got]), 2 * x)
    assert took < 2.0, took   # the caller computed the stalled helper's chunk itself
    assert ran.count(True) == 4   # the caller ran every chunk: its own three and the stalled one


def test_a_model_shared_by_threads_predicts_the_same(threads):
    pyconv.set_num_threads(2)
    rng = np.random.default_rng(5)
    m = cnn(rng)
    xs = [rng.standard_normal((n, 12, 12, 2)).astype(np.float32) for n in (1, 3, 17, 64)]
    want = [one_chunk(m._plan(), [x])[0] for x in xs]
    bad = []

    def worker(k):
        for _ in range(5):
            for x, w in zip(xs, want):
                if not np.array_equal(m.predict_on_batch(x), w):
                    bad.append(k)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not bad


def test_model_call_in_inference_runs_the_predict_path(monkeypatch):
    m = cnn(np.random.default_rng(2))
    x = np.random.default_rng(3).standard_normal((5, 12, 12, 2)).astype(np.float32)
    seen = []
    real = _inference.run
    monkeypatch.setattr(_inference, "run", lambda plan, inputs: seen.append(1) or real(plan, inputs))
    np.testing.assert_array_equal(m(x), m.predict_on_batch(x))
    np.testing.assert_array_equal(m(x, training=False), m.predict(x, verbose=0))
    assert len(seen) == 4
    m(x, training=True)   # a training-mode pass is not inference
    assert len(seen) == 4


@pytest.mark.parametrize("act", ["softmax", "relu", None, "tanh", "elu"])
@pytest.mark.parametrize("n", [1, 3, 9])
def test_lean_kernel_layers_are_bitwise_their_fwd(act, n):
    """A Dense or Conv2D runs as `_kernel_layer` (no context, a softmax as its kernel alone):
    the same bits as the layer's own forward, at the batch sizes of both dense kernels; a
    Dense the loss takes the logits of, or one a BatchNormalization folds into, does not."""
    rng = np.random.default_rng(7)
    m = models.Sequential([layers.Input((7, 7, 3)), layers.Conv2D(6, 3, activation=act),
                           layers.Flatten(), layers.Dense(5, activation=act)])
    for l in m.layers:
        l.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in l.weights])
    x = rng.standard_normal((n, 7, 7, 3)).astype(np.float32)
    prog = _inference._Program(m._plan())
    assert [op[3] for op in prog.ops] == [True, False, True]
    want = x
    for l in m.layers:
        want = l._fwd(want, False)[0]
    np.testing.assert_array_equal(m.predict_on_batch(x), want)
    folded = models.Sequential([layers.Input((4,)), layers.Dense(3), layers.BatchNormalization(),
                                layers.Dense(2)])
    assert [op[3] for op in _inference._Program(folded._plan()).ops] == [False, True]


def test_predict_on_batch_takes_other_inputs_as_before():
    """The float32 fast path of `_xs` and the one-output path of `_pack_outputs` change nothing
    for other inputs: float64 and non-contiguous arrays are converted, lists of rows too."""
    m = models.Sequential([layers.Input((3,)), layers.Dense(2, activation="softmax")])
    x = np.random.default_rng(1).standard_normal((4, 3))
    want = m.predict_on_batch(x.astype(np.float32))
    np.testing.assert_array_equal(m.predict_on_batch(x), want)
    np.testing.assert_array_equal(m.predict_on_batch(np.asfortranarray(x.astype(np.float32))), want)
    np.testing.assert_array_equal(m.predict_on_batch(x.tolist()), want)
    with pytest.raises(ValueError, match="expected shape=\\(None, 3\\)"):
        m.predict_on_batch(np.zeros((2, 4), np.float32))
