"""A minimal gradient tape, so that a `call` written with pyconv layers and ops trains.

While a tape records, each differentiable op (pyconv.nn, pyconv.ops, and every layer called on
arrays) appends (inputs, output, backward) where `backward` maps the gradient of its output to
a tuple of gradients for its inputs (None where an input is not differentiable). Arrays are
identified by object identity, so only values that flow from op to op are tracked: a NumPy
expression between two ops cuts the chain (documented in docs/api.md).

The tape belongs to the running thread (a context variable): two threads that train two
models never see each other's records, and leaving `recording()` always stops recording.
"""
import contextlib
import contextvars

_active = contextvars.ContextVar("pyconv_tape", default=None)  # list of records, or None


def is_recording():
    return _active.get() is not None


def record(inputs, output, backward):
    """Called by every differentiable op after it computed `output`."""
    recs = _active.get()
    if recs is not None:
        recs.append((tuple(inputs), output, backward))


@contextlib.contextmanager
def recording():
    """Record the ops run inside the block (in this thread); yields the list of records."""
    recs = []
    token = _active.set(recs)
    try:
        yield recs
    finally:
        _active.reset(token)


@contextlib.contextmanager
def paused():
    """Record nothing inside the block: a layer that records itself as one op runs its own
    kernels (and any nn op it calls) here, so that nothing is counted twice."""
    token = _active.set(None)
    try:
        yield
    finally:
        _active.reset(token)


def gradients(records, outputs, doutputs, wrt):
    """d(outputs)/d(wrt) · doutputs, by walking `records` backwards.

    Returns a list aligned with `wrt`: an array shaped like each target, or None where no
    recorded op links the outputs to it.
    """
    grads = {}
    for o, d in zip(outputs, doutputs):
        if d is not None:
            grads[id(o)] = d if id(o) not in grads else grads[id(o)] + d
    for inputs, out, backward in reversed(records):
        g = grads.pop(id(out), None)
        if g is None:
            continue
        for x, gx in zip(inputs, backward(g)):
            if gx is None:
                continue
            prev = grads.get(id(x))
            grads[id(x)] = gx if prev is None else prev + gx
    return [grads.get(id(w)) for w in wrt]


def gradient(records, output, doutput, wrt):
    """d(output)/d(wrt) · doutput for one output and one target (None when unlinked)."""
    return gradients(records, [output], [doutput], [wrt])[0]
