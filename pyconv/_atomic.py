"""Blocks of code that run to their end: signals that arrive meanwhile are delivered after.

Python runs signal handlers (Ctrl-C's KeyboardInterrupt, a SIGTERM handler calling sys.exit,
an alarm handler raising) in the main thread, between any two bytecodes: an update of many
arrays could be cut anywhere. Inside `signals_deferred()` the main thread blocks the catchable
signals (pthread_sigmask), so the kernel holds them; when the block ends they are delivered
and their handlers run then. A signal the process ignores stays ignored; the faults (SIGSEGV,
SIGBUS, SIGFPE, SIGILL) and SIGKILL/SIGSTOP are never blocked. Other threads need nothing:
Python never runs a handler in them.
"""
import contextlib
import signal
import threading

_NEVER = {getattr(signal, n) for n in ("SIGKILL", "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL")
          if hasattr(signal, n)}
_BLOCK = {s for s in signal.valid_signals() if s not in _NEVER} if hasattr(signal, "valid_signals") else set()


@contextlib.contextmanager
def signals_deferred():
    if not _BLOCK or not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCK)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
