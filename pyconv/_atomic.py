"""Blocks of code that run to their end: a signal that arrives meanwhile is handled after.

Python runs signal handlers (Ctrl-C's KeyboardInterrupt, a SIGTERM handler calling sys.exit,
an alarm handler raising) in the main thread, between bytecodes, whichever thread the kernel
delivered the signal to: an update of many arrays could be cut anywhere by the handler's
exception. While a `SignalGuard` is active (fit and train_on_batch hold one, in the main
thread), every Python-level handler is wrapped: one that fires inside `committing()` is
recorded and run when the outermost committing block ends, so its exception comes after the
whole update. A signal the process ignores (SIG_IGN) or leaves to its default stays so: only
Python handlers are wrapped, and each is put back when the guard ends.
"""
import signal
import threading

try:   # signal's C core: signal.getsignal/signal convert each result to an enum, 1-2 us a call
    import _signal as _sig
except ImportError:   # not CPython
    _sig = signal

_state = threading.local()
# The signals a handler can be set for: fixed for the process, and slow to ask for (~200 us).
_SIGNALS = tuple(signal.valid_signals()) if hasattr(signal, "valid_signals") else ()


def _main():
    return threading.current_thread() is threading.main_thread()


class SignalGuard:
    """Wrap the main thread's Python signal handlers for the length of a `with` block."""

    def __init__(self):
        self._saved = []
        self.depth = 0
        self.pending = []

    def __enter__(self):
        if not _main() or getattr(_state, "guard", None) is not None:
            return self
        for s in _SIGNALS:
            try:
                h = _sig.getsignal(s)
            except (ValueError, OSError):
                continue
            if callable(h):
                w = self._wrap(h)
                try:
                    _sig.signal(s, w)
                except (ValueError, OSError):
                    continue
                self._saved.append((s, h, w))
        _state.guard = self
        return self

    def _wrap(self, handler):
        def deferred(signum, frame):
            if self.depth:
                self.pending.append((handler, signum))
            else:
                handler(signum, frame)
        return deferred

    def __exit__(self, *exc):
        if getattr(_state, "guard", None) is self:
            _state.guard = None
            for s, h, w in reversed(self._saved):
                if _sig.getsignal(s) is w:   # a handler set meanwhile by user code stays
                    _sig.signal(s, h)
            self._saved = []
        return False


class committing:
    """The block runs to its end: the guard's wrapped handlers wait for it. Without an active
    guard in this thread (a direct Optimizer.apply), one is held for the block itself. (A
    class, not a generator: it runs once per training step.)"""

    __slots__ = ("guard", "own")

    def __enter__(self):
        guard = getattr(_state, "guard", None)
        self.own = None
        if guard is None and _main():
            self.own = guard = SignalGuard().__enter__()
        self.guard = guard
        if guard is not None:
            guard.depth += 1
        return self

    def __exit__(self, *exc):
        guard = self.guard
        if guard is None:   # another thread: Python runs no signal handler here
            return False
        guard.depth -= 1
        try:
            if not guard.depth and guard.pending:
                pending, guard.pending = guard.pending, []
                for handler, signum in pending:
                    handler(signum, None)
        finally:
            if self.own is not None:
                self.own.__exit__()
        return False
