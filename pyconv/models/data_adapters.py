"""Data adapters: one way for `fit`, `evaluate` and `predict` to walk any data in batches.

Each adapter yields, per epoch, batches `(xs, ys, sw)`: xs a list of float32 arrays aligned
with the model's inputs, ys a list aligned with its outputs (raw targets; the trainer checks
and converts them) or None, sw a sample-weight array or None. Keras 3 takes the same kinds:

- NumPy arrays (and lists/dicts of them for several inputs/outputs): batches cut in order or
  shuffled each epoch; float64 is converted batch by batch (C gathers and converts the
  shuffled rows of a C-contiguous array with both threads, into one reused buffer).
- Python generators and iterators yielding (x,), (x, y) or (x, y, sample_weight): read as they
  come; `steps_per_epoch` bounds an epoch (required for an endless one).
- `PyDataset` (keras.utils.PyDataset): `__len__` batches, `__getitem__(i)`, `on_epoch_end()`;
  `workers > 1` prefetches batches in threads, keeping their order.
"""
import collections
import concurrent.futures
import warnings

import numpy as np

from .. import _kernels, _validate, utils

__all__ = ["PyDataset", "get_adapter"]


class PyDataset:
    """Keras 3's base class for a data set given batch by batch.

    Subclasses implement `__len__` (the number of batches) and `__getitem__(index)` (batch
    `index` as (x, y) or (x, y, sample_weight)), and may implement `on_epoch_end()`.

    Args:
        workers: how many threads fetch batches ahead (1: in the training thread).
        use_multiprocessing: accepted as in Keras; batches are fetched in threads either way.
        max_queue_size: how many batches are fetched ahead at most (10).

    Example:
        >>> import numpy as np
        >>> from pyconv import utils
        >>> class Squares(utils.PyDataset):
        ...     def __len__(self):
        ...         return 3
        ...     def __getitem__(self, i):
        ...         x = np.full((2, 1), float(i))
        ...         return x, x ** 2
        >>> len(Squares())
        3
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = _validate.positive_int(workers, "workers")
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = _validate.positive_int(max_queue_size, "max_queue_size")

    @property
    def workers(self):
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self):
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self):
        return getattr(self, "_max_queue_size", 10)

    def on_epoch_end(self):
        """Called after each epoch of `fit` (e.g. to shuffle)."""

    @property
    def num_batches(self):
        return len(self)

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


def _as_list(x, what):
    """A list of arrays from an array, a list/tuple of arrays, or a dict (kept as a dict)."""
    if isinstance(x, dict):
        return x
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _unpack(batch, where):
    """(x, y, sample_weight) from a generator's or PyDataset's batch."""
    if isinstance(batch, tuple):
        if len(batch) == 1:
            return batch[0], None, None
        if len(batch) == 2:
            return batch[0], batch[1], None
        if len(batch) == 3:
            return batch
        raise ValueError(f"{where} must yield (x,), (x, y) or (x, y, sample_weight). "
                         f"Received a tuple of {len(batch)} elements.")
    return batch, None, None


class ArrayAdapter:
    """NumPy arrays: x a list of N-row arrays (unconverted), ys a list of prepared targets."""

    def __init__(self, xs, ys, sw, batch_size, shuffle, steps=None):
        self.xs, self.ys, self.sw = xs, ys, sw
        self.n = len(xs[0])
        self.batch_size = batch_size
        self.shuffle = shuffle
        full = -(-self.n // batch_size)
        self.num_batches = full if steps is None else min(steps, full)
        self._bufs = None

    def epoch(self):
        n, bs = self.n, self.batch_size
        xs, ys, sw = self.xs, self.ys, self.sw
        if not self.shuffle:
            for step in range(self.num_batches):
                lo, hi = step * bs, min(step * bs + bs, n)
                yield ([_validate.as_float32(x[lo:hi], "x") for x in xs],
                       None if ys is None else [None if y is None else y[lo:hi] for y in ys],
                       None if sw is None else sw[lo:hi])
            return
        if self._bufs is None:   # one buffer per array, reused every step
            m = min(bs, n)
            self._bufs = ([np.empty((m,) + x.shape[1:], np.float32) for x in xs],
                          None if ys is None else [None if y is None else np.empty((m,) + y.shape[1:], y.dtype)
                                                   for y in ys])
        xb_all, yb_all = self._bufs
        # how each array is gathered, decided once: C (contiguous float32/float64, converted on
        # the fly, both threads), NumPy's take (other float32), or a converting copy
        modes = [0 if x.dtype in (np.float32, np.float64) and x.flags.c_contiguous else
                 1 if x.dtype == np.float32 else 2 for x in xs]
        gather = _kernels.gather_rows_into
        order = utils.get_rng().permutation(n).astype(np.int64, copy=False)
        for step in range(self.num_batches):
            lo, hi = step * bs, min(step * bs + bs, n)
            idx = order[lo:hi]
            xbs = []
            for x, buf, mode in zip(xs, xb_all, modes):
                xb = buf[:hi - lo]
                if mode == 0:
                    gather(xb, x, idx)
                elif mode == 1:   # mode="clip": idx is valid, no buffering
                    x.take(idx, axis=0, out=xb, mode="clip")
                else:   # (take's out= would cast its own garbage first: a warning)
                    np.copyto(xb, x[idx], casting="unsafe")
                xbs.append(xb)
            ybs = None if ys is None else [None if y is None else y.take(idx, axis=0, out=b[:hi - lo], mode="clip")
                                           for y, b in zip(ys, yb_all)]
            yield xbs, ybs, None if sw is None else sw[idx]

    def on_epoch_end(self):
        pass


class GeneratorAdapter:
    """A generator or iterator: batches as they come, `steps` of them per epoch (or until it
    ends)."""

    def __init__(self, it, steps, where="`x`"):
        self.it = iter(it)
        self.num_batches = steps
        self.where = where
        self.exhausted = False

    def epoch(self):
        k = 0
        while self.num_batches is None or k < self.num_batches:
            try:
                batch = next(self.it)
            except StopIteration:
                if self.num_batches is not None:
                    warnings.warn(f"Your input ran out of data after {k} batches of {self.num_batches}; "
                                  f"interrupting training. Make sure that your dataset or generator can "
                                  f"generate at least `steps_per_epoch * epochs` batches.",
                                  RuntimeWarning, stacklevel=4)
                self.exhausted = True
                return
            yield _unpack(batch, self.where)
            k += 1

    def on_epoch_end(self):
        pass


class PyDatasetAdapter:
    """A PyDataset: batches 0 .. len-1, in a new random order each epoch when `shuffle` (as
    Keras 3's fit does), prefetched by threads (in that order) when workers > 1."""

    def __init__(self, ds, steps, shuffle=False):
        self.ds = ds
        self.shuffle = shuffle
        n = len(ds)
        if not _validate.is_int(n) or n < 0:
            raise ValueError(f"`len()` of a PyDataset must be an int >= 0. Received: {n!r}.")
        self.num_batches = n if steps is None else min(steps, n)

    def epoch(self):
        n, ds = self.num_batches, self.ds
        order = utils.get_rng().permutation(len(ds))[:n].tolist() if self.shuffle else list(range(n))
        workers = getattr(ds, "workers", 1) or 1
        if workers <= 1:
            for i in order:
                yield _unpack(ds[i], "A PyDataset's __getitem__")
            return
        ahead = max(workers, getattr(ds, "max_queue_size", 10) or 10)
        with concurrent.futures.ThreadPoolExecutor(workers) as ex:
            q = collections.deque()
            nxt = 0
            try:
                while nxt < n or q:
                    while nxt < n and len(q) < ahead:
                        q.append(ex.submit(ds.__getitem__, order[nxt]))
                        nxt += 1
                    yield _unpack(q.popleft().result(), "A PyDataset's __getitem__")
            finally:
                for f in q:
                    f.cancel()

    def on_epoch_end(self):
        self.ds.on_epoch_end()


def is_batched(x):
    """Whether `x` is data that comes in batches (a generator, iterator or PyDataset)."""
    return isinstance(x, PyDataset) or (hasattr(x, "__next__") or (
        hasattr(x, "__iter__") and not isinstance(x, (np.ndarray, list, tuple, dict, str, bytes))
        and not hasattr(x, "__array__") and not hasattr(x, "shape")))


def get_adapter(x, steps, where="`x`", shuffle=False):
    """The adapter for batched data `x` (a PyDataset, generator or iterator)."""
    if isinstance(x, PyDataset):
        return PyDatasetAdapter(x, steps, shuffle)
    return GeneratorAdapter(x, steps, where)
