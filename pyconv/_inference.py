"""Inference of a functional plan: the outputs only, with no training bookkeeping, the batch cut
into chunks that stay in cache and run on all the threads at once.

`Plan.predict` (pyconv/_graph.py) calls `run`. What a training forward keeps, this does not:
no tape, no per-layer context, and each intermediate value is dropped after its last reader,
so that its memory is free for the next one (in a chunk, NumPy gets it back from the heap
instead of fresh pages from the OS).

Chunks. When every layer of the graph computes each example on its own (`rowwise`: a fixed
list of built-in layers whose inference pass is per example), the batch is cut into equal
chunks along axis 0:
  - of at most as many examples as keep one step's input and output in cache (4x L2, in L3:
    at batch 256 the tutorial CNN's first activation is 22 MB, which went to memory and
    back between the convolution and the pooling that reads it; in chunks of 32 images it
    is 2.8 MB) -- unless that is so few that packing the weights again for each chunk would
    cost more;
  - into CHUNKS_PER_THREAD chunks per thread, where each chunk still does enough work
    (MIN_CHUNK_MACS) to pay for handing it to another thread.
Each thread -- the caller and `threads - 1` helpers, pyconv's own -- takes the next chunk not
yet taken and runs its kernels on that one thread (a per-thread cap: csrc/config.c), until
none is left; helpers take part only where the batch has MIN_THREAD_MACS of work a thread
(`chunk_threads`), and a smaller batch runs its chunks on the caller alone, one after the
other. The caller never waits for a helper that has not started: a helper that wakes late
finds no chunk left (as onnxruntime's thread pool revokes tasks not yet started); and a chunk
a helper took but has not finished when the caller is done is computed again by the caller
after a short wait (`_run_chunks`). That keeps a loaded machine from stalling the call
on a descheduled thread, the way the barrier of an OpenMP region does. A batch too small to
split runs as one chunk on the caller's thread alone: at batch 1 the kernels are too short for
a parallel region to pay, and up to MIN_THREAD_MACS a thread neither a helper nor the kernels'
own threads did on the virtual machine of docs/benchmarks.md 10.2, where a woken thread may
wait ~0.1 ms for a core (the tutorial DNN at batch 256: 0.33 ms on one thread, 0.47 in two
chunks on two, 1.5-2 ms with the kernels' OpenMP threads after an idle pause).

Results: a chunk's rows are computed exactly as in the whole batch (every kernel's sum for an
output element runs in an order that depends on the layer's sizes, never on the batch or on
the thread count; a chunk of a batch bigger than dense_rows_max() rows is bigger than that
too, so its Dense layers run the same kernel as the whole batch's), so the outputs are
bitwise the same for any chunking and any thread count; tests/test_inference.py checks both. A model with any other layer runs as one chunk
with the kernels' own threads.
"""
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import _kernels

__all__ = ["run"]

# A chunk handed to another thread should run for tens of microseconds at least: a helper
# wakes in a few (a futex), and the hand-off costs a few more in Python. 3e6 multiply-adds
# are ~30 us on one AVX-512 core (bench: conv2 of the tutorial CNN at ~95 GMAC/s).
MIN_CHUNK_MACS = 3e6
# The bytes of one step's input + output a chunk may have: 4x the L2 cache, so in L3. Each
# chunk costs ~3-10 us of Python per layer (more on a loaded machine), which decides the lower
# end: the tutorial CNN at batch 256, 1 and 2 threads, in chunks of 0.5, 1, 2, 4 and 8 MB,
# ran fastest from 2 MB up (bench/onnx_infer.py's machine: 1 MB of L2 per core).
L2_MULTIPLE = 4.0
# Helpers take chunks only when the batch has this many multiply-adds per thread. A hand-off
# costs more than its chunk's Python: on a virtual machine where waking a sleeping thread
# takes 20-120 us and the woken thread may share the waker's core until the next balance,
# the tutorial DNN at batch 256 (2.6e7 multiply-adds) took 0.47 ms in 2 chunks on 2 threads
# and 0.33 as one chunk on one; the CNN at batch 32 (8.9e7) 2.0 ms in 6 chunks and 1.45 as
# one; at batch 256 (7.2e8) 5.6 ms in 16 chunks, 12.9 as one (docs/benchmarks.md 10.2).
MIN_THREAD_MACS = 1e8
# Chunks per thread, where the batch has enough work for them: on a loaded machine a helper may
# start milliseconds late, or share a core; what it still holds at the end is then one chunk
# of an eighth of its share (the tutorial CNN at batch 256: 16 chunks of 16 images, ~0.6 ms).
CHUNKS_PER_THREAD = 8
# How long the caller, out of chunks, waits for one a helper holds before computing it itself,
# in its own mean chunk times: a helper running at full speed started it at most one ago.
TAIL_WAIT = 1.5


_budget = []


def _chunk_budget():
    if not _budget:   # the caches do not change while the process runs
        _budget.append(max(_kernels.cache_info()["l2"][0], 256 * 1024) * L2_MULTIPLE)
    return _budget[0]


class _Layout:
    """For one plan: per example, the largest input + output bytes of a step and the
    multiply-adds of the whole graph; and the bytes of the largest kernel (weights).
    `layout` gives None instead when some layer is not row-wise."""

    __slots__ = ("step_bytes", "macs", "weight_bytes")

    def __init__(self, step_bytes, macs, weight_bytes=0):
        self.step_bytes, self.macs, self.weight_bytes = step_bytes, macs, weight_bytes


def _per_example(shape):
    dims = shape[1:]
    return None if any(d is None for d in dims) else math.prod(dims)


def _rowwise_activation(act, ndim):
    """Whether an activation computes each example on its own: every built-in one, except a
    softmax over axis 0."""
    if act.name != "softmax" or not act.config:
        return True
    axis = act.config["axis"]
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return all(a % ndim != 0 for a in axes)


def _rowwise_types():
    from .layers import (Activation, Add, AveragePooling2D, Average, BatchNormalization, Conv2D,
                         Cropping2D, Dense, DepthwiseConv2D, Dropout, ELU, Flatten,
                         GlobalAveragePooling2D, GlobalMaxPooling2D, LeakyReLU, Maximum, MaxPooling2D,
                         Minimum, Multiply, ReLU, Rescaling, Reshape, SeparableConv2D, Softmax, Subtract,
                         UpSampling2D, ZeroPadding2D)
    return {Activation, Add, AveragePooling2D, Average, BatchNormalization, Conv2D, Cropping2D, Dense,
            DepthwiseConv2D, Dropout, ELU, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D,
            LeakyReLU, Maximum, MaxPooling2D, Minimum, Multiply, ReLU, Rescaling, Reshape,
            SeparableConv2D, Softmax, Subtract, UpSampling2D, ZeroPadding2D}


_ROWWISE = None


def layout(plan):
    """The plan's _Layout (None: not row-wise), from the graph's symbolic shapes."""
    global _ROWWISE
    if _ROWWISE is None:
        _ROWWISE = _rowwise_types()
    step_bytes, macs, weight_bytes = 0, 0, 0
    for s in plan.steps:
        layer, node = s.layer, s.node
        if type(layer) not in _ROWWISE:
            return None
        act = getattr(layer, "activation", None)
        if act is not None and not _rowwise_activation(act, len(node.outputs[0].shape)):
            return None
        sizes = [_per_example(t.shape) for t in list(node.inputs) + list(node.outputs)]
        if None in sizes:
            return None
        step_bytes = max(step_bytes, 4 * sum(sizes))
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and kernel.ndim >= 2:   # Dense, Conv2D: outputs x (fan-in)
            macs += sizes[-1] * math.prod(kernel.shape[:-1]) // max(getattr(layer, "groups", 1), 1)
            weight_bytes = max(weight_bytes, kernel.nbytes)
    return _Layout(step_bytes, macs, weight_bytes)


def chunk_threads(n, lay, threads):
    """The threads that run the chunks of a batch of n examples: all `threads` where each has
    MIN_THREAD_MACS of work, else the caller alone (its chunks one after the other, their
    kernels on one thread)."""
    if lay is None or threads <= 1 or n * lay.macs < MIN_THREAD_MACS * threads:
        return 1
    return threads


def chunk_bounds(n, lay, threads):
    """[(lo, hi)]: the batch of n examples cut into equal chunks (sizes differ by one at most),
    for `threads` threads (chunk_threads)."""
    if lay is None or n <= 1:
        return [(0, n)]
    step = max(lay.step_bytes, 1)
    fit = max(1, int(_chunk_budget() // step))
    # The GEMM packs a layer's weights on every call: a chunk reads at least twice their bytes
    # of activations, so that packing them again costs less than a third of its traffic (the
    # DNN's 784 x 128 kernel is 400 KB, its examples 6 KB: chunks of 128 or more).
    least = math.ceil(2 * lay.weight_bytes / step)
    k = math.ceil(n / max(fit, least))
    if threads > 1 and lay.macs > 0:
        # enough work to pay for a hand-off, and CHUNKS_PER_THREAD per thread where the batch
        # has them: a thread that lost its core holds the call up by one small chunk at most
        least = max(least, math.ceil(MIN_CHUNK_MACS / lay.macs))
        k = max(k, min(CHUNKS_PER_THREAD * threads, n // max(least, 1)))
    if threads > 1 and k > threads:   # a multiple of the threads: 8 chunks on 2, not 7 (4 + 3)
        k = math.ceil(k / threads) * threads
    # A Dense layer runs a batch of at most dense_rows_max() rows on another kernel than a
    # bigger one (csrc/dense_loops.h), which rounds differently: a chunk takes the path of the
    # whole batch, so that chunking never changes a bit.
    small = _kernels.dense_rows_max()
    k = max(1, min(k, n if n <= small else n // (small + 1)))
    return [(i * n // k, (i + 1) * n // k) for i in range(k)]


class _Program:
    """A plan's steps for inference, made once per plan (`of`): per op, the step, the fold it
    heads (or None), the step whose slot takes its output, whether it runs as a lean
    `_kernel_layer`, and the slots no later op reads, dropped after it; and the plan's `layout`. `weights()` computes the folded
    BatchNormalizations' weights of one call, shared by its chunks; `run(weights, inputs)` runs
    one chunk."""

    def __init__(self, plan):
        from ._graph import _step_input, _step_output
        self.plan = plan
        self._input, self._output = _step_input, _step_output
        skipped = {j for f in plan.folds.values() for j in f if j is not None}
        ops = []
        for k, s in enumerate(plan.steps):
            if k in skipped:   # computed with the Conv2D/Dense step it follows
                continue
            fold = plan.folds.get(k)
            if fold is None:
                ops.append([s, None, s])
                continue
            bn, relu = (None if j is None else plan.steps[j] for j in fold)
            ops.append([s, (bn, relu is not None), bn if relu is None else relu])
        from .layers import Conv2D, Dense
        from .layers.base import FROM_LOGITS, RELU_IN_BN
        for op in ops:   # a Dense or Conv2D without a fold: the lean call (_kernel_layer)
            s = op[0]
            op.append(op[1] is None and type(s.layer) in (Conv2D, Dense)
                      and not s.fuse & (FROM_LOGITS | RELU_IN_BN))
        last = {}
        for i, op in enumerate(ops):
            ins = op[0].ins
            for slot in (ins if isinstance(ins, tuple) else (ins,)):
                last[slot] = i
        keep = set(plan.out_slots)
        for i, op in enumerate(ops):
            op.append(tuple(slot for slot, j in last.items() if j == i and slot not in keep))
        self.ops = [tuple(op) for op in ops]
        self.folded = any(op[1] is not None for op in self.ops)
        self.layout = layout(plan)

    @staticmethod
    def of(plan):
        prog = plan.__dict__.get("_inference_program")
        if prog is None:   # a pure function of the plan, which never changes: kept on it
            prog = plan._inference_program = _Program(plan)
        return prog

    def weights(self):
        """{op index: (kernel, bias)} of the folds, from the weights as they are now."""
        if not self.folded:
            return None
        return {i: fold[0].layer._fold(s.layer.kernel, s.layer.bias)
                for i, (s, fold, _, _, _) in enumerate(self.ops) if fold is not None}

    def run(self, weights, inputs):
        plan = self.plan
        vals = [None] * plan.nslots
        for i, a in zip(plan.in_slots, inputs):
            vals[i] = a
        for i, (s, fold, last, lean, drop) in enumerate(self.ops):
            x = vals[s.ins] if s.struct is None else self._input(s, vals)
            if lean:
                vals[s.outs] = _kernel_layer(s.layer, x)
            elif fold is not None:
                vals[last.outs] = s.layer._pre(x, False, relu=fold[1], weights=weights[i])[0]
            elif s.multi_out:
                self._output(s, vals, s.layer._fwd(x, False, s.fuse)[0])
            else:
                vals[s.outs] = s.layer._fwd(x, False, s.fuse)[0]
            for slot in drop:   # no later op reads it: its memory is free for the next
                vals[slot] = None
        return [vals[o] for o in plan.out_slots]


_SOFTMAX = []


def _kernel_layer(layer, x):
    """A Dense or Conv2D layer's inference output: its `_fwd` without the context a backward
    pass needs, and a softmax over the last axis -- Keras's activation='softmax' -- as the
    kernel alone (pyconv.nn.softmax checks its input and its axis again and consults the tape:
    ~1-2 us of a 16 us batch-1 DNN call). The same kernels, so the same bits."""
    if layer._fused_relu:
        return layer._pre(x, False, relu=True)[0]
    z = layer._pre(x, False)[0]
    if layer._linear:
        return z
    act = layer.activation
    if not _SOFTMAX:
        from . import activations
        _SOFTMAX.append(activations.get("softmax"))
    return _kernels.softmax_fwd(z) if act is _SOFTMAX[0] else act.forward(z)


class _ThreadCap:
    """The kernels called from this thread in the block use at most n threads."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.prev = _kernels.set_thread_cap(self.n)

    def __exit__(self, *exc):
        _kernels.set_thread_cap(self.prev)


_pool_lock = threading.Lock()
_pool = [None, 0]   # the helpers' executor and its number of threads


def _helpers(n):
    """An executor of n helper threads, shared by every call (made again when n changes)."""
    with _pool_lock:
        if _pool[1] != n:
            if _pool[0] is not None:
                _pool[0].shutdown(wait=False)
            _pool[0] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="pyconv-predict")
            _pool[1] = n
        return _pool[0]


def _run_chunks(prog, inputs, bounds, threads):
    """Run the chunks on the caller and up to threads - 1 helpers; the outputs in chunk order.

    When the caller finds no chunk left, it waits for each chunk a helper still holds for at
    most TAIL_WAIT times its own mean chunk time, then computes that chunk itself: a helper
    that lost its core (a loaded machine) holds the call up by that much at most. Both runs of
    a chunk give the same bits (a chunk is a function of its rows alone); the first one to
    finish is kept, and a helper that finishes after the call returned is ignored."""
    n = len(bounds)
    results, done, errors = [None] * n, [False] * n, {}
    state = {"next": 0}
    cond = threading.Condition()

    def take():
        with cond:
            k = state["next"]
            state["next"] = k + 1
        return k

    def one(k):
        lo, hi = bounds[k]
        return prog([a[lo:hi] for a in inputs])

    def keep(k, out, err=None):
        with cond:
            if not done[k]:
                results[k], done[k] = out, True
                if err is not None:
                    errors[k] = err
            cond.notify_all()

    def helper():
        with _ThreadCap(1):
            while (k := take()) < n:
                try:
                    keep(k, one(k))
                except BaseException as e:   # re-raised by the caller
                    keep(k, None, e)

    pool = _helpers(threads - 1)
    for _ in range(min(threads, n) - 1):
        pool.submit(helper)
    with _ThreadCap(1):
        mine, t0 = 0, time.perf_counter()
        while (k := take()) < n:
            keep(k, one(k))
            mine += 1
        wait = TAIL_WAIT * (time.perf_counter() - t0) / mine if mine else None
        for k in range(n):   # the chunks helpers still hold
            with cond:
                if not cond.wait_for(lambda: done[k], timeout=wait):
                    wait = 0.0   # that helper is late: the others have had as long
            if not done[k]:
                keep(k, one(k))
    if errors:
        raise errors[min(errors)]
    return list(results)


def run(plan, inputs):
    """The plan's outputs for `inputs` (a list of arrays), in inference mode."""
    prog = _Program.of(plan)
    w = prog.weights()
    lay = prog.layout
    n = len(inputs[0]) if inputs else 0
    if lay is None or (len(inputs) > 1 and any(len(a) != n for a in inputs)):
        return prog.run(w, inputs)
    total = _kernels.num_threads()
    threads = chunk_threads(n, lay, total)
    bounds = chunk_bounds(n, lay, threads)
    if threads > 1:
        parts = _run_chunks(lambda chunk: prog.run(w, chunk), inputs, bounds, threads)
        return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
    # The caller runs the chunks, its kernels on one thread -- but its GEMMs on pool.c's helpers
    # (the pool width), which stay awake while kernels and calls come back to back
    # (_ThreadCap's work without the object: a batch-1 call is ~16 us)
    prev, prev_pool = _kernels.set_thread_cap(1), _kernels.set_pool_width(total)
    try:
        if len(bounds) == 1:
            return prog.run(w, inputs)
        parts = [prog.run(w, [a[lo:hi] for a in inputs]) for lo, hi in bounds]
    finally:
        _kernels.set_thread_cap(prev)
        _kernels.set_pool_width(prev_pool)
    return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
