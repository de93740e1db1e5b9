"""A minimal gradient tape, so that a Lambda layer made of pyconv.nn ops trains.

While a tape records, each pyconv.nn op appends (inputs, output, backward) where `backward`
maps the gradient of its output to a tuple of gradients for its inputs (None where an input
is not differentiable). Arrays are identified by object identity, so only values that flow
from op to op are tracked: a NumPy expression between two ops cuts the chain (documented in
docs/api.md).
"""
import contextlib

_recording = None  # the active list of records, or None


def record(inputs, output, backward):
    """Called by every differentiable pyconv.nn op after it computed `output`."""
    if _recording is not None:
        _recording.append((tuple(inputs), output, backward))


@contextlib.contextmanager
def recording():
    """Record the pyconv.nn ops run inside the block; yields the list of records."""
    global _recording
    outer, _recording = _recording, []
    try:
        yield _recording
    finally:
        _recording = outer


def gradient(records, output, doutput, wrt):
    """d(output)/d(wrt) · doutput, by walking `records` backwards.

    Returns an array shaped like `wrt`, or None when `output` does not depend on `wrt`
    through the recorded ops.
    """
    grads = {id(output): doutput}
    for inputs, out, backward in reversed(records):
        g = grads.pop(id(out), None)
        if g is None:
            continue
        for x, gx in zip(inputs, backward(g)):
            if gx is None:
                continue
            prev = grads.get(id(x))
            grads[id(x)] = gx if prev is None else prev + gx
    return grads.get(id(wrt))
