"""Keras 3's progress bar (keras.utils.Progbar), for fit, evaluate and predict.

verbose=1 on a terminal redraws one line per update:

    1875/1875 ━━━━━━━━━━━━━━━━━━━━ 3s 1ms/step - accuracy: 0.8224 - loss: 0.4931

(bold step counts, a green done part and a grey rest, the ETA while running, the elapsed
time when done). verbose=2 prints one line when finished:

    1875/1875 - 3s - 1ms/step - accuracy: 0.8224 - loss: 0.4931

Metric values are shown as given (pyconv's logs already hold running means; Keras' progress
bar averages the running means again during an epoch and shows the last one at the end, so
the final line is the same).
"""
import math
import sys
import time

import numpy as np

__all__ = ["Progbar"]


def _fmt_value(v):
    if not isinstance(v, (int, float)):   # an array result (F1Score per class): its mean, as Keras
        v = float(np.mean(v))
    return f" {v:.4f}" if abs(v) > 1e-3 else f" {v:.4e}"


def _fmt_time_per_unit(t, unit):
    if t >= 1 or t == 0:
        return f" {t:.0f}s/{unit}"
    if t >= 1e-3:
        return f" {t * 1e3:.0f}ms/{unit}"
    return f" {t * 1e6:.0f}us/{unit}"


class Progbar:
    """A progress bar over `target` steps.

    Args:
        target: total number of steps.
        width: bar width in characters (20).
        verbose: 1 (a redrawn bar) or 2 (one line at the end).
        interval: minimum seconds between redraws (0.05).
        unit_name: 'step'.
        dynamic: redraw in place (a terminal); default: whether stdout is a TTY.
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, unit_name="step", dynamic=None):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        out = sys.stdout
        self._dynamic = (hasattr(out, "isatty") and out.isatty()) if dynamic is None else dynamic
        self._values = {}
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _step_time(self, current, now):
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            t = (now - self._time_after_first_step) / (current - 1)
        else:
            t = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return t

    def update(self, current, values=None, finalize=None):
        """Show step `current` with `values` (a list of (name, value) or a dict)."""
        if finalize is None:
            finalize = current >= self.target
        if values:
            self._values.update(values.items() if isinstance(values, dict) else values)
        now = time.time()
        per_unit = self._step_time(current, now)
        out = sys.stdout
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._last_update = now
            msg = ("\b" * self._prev_total_width + "\r") if self._dynamic else ""
            nd = int(math.log10(self.target)) + 1 if self.target > 0 else 1
            count = f"{current:{nd}d}/{self.target}"
            done = int(self.width * current / self.target) if self.target > 0 else self.width
            bar = f"\x1b[1m{count}\x1b[0m "
            if done > 0:
                bar += f"\x1b[32m{'━' * done}\x1b[0m"
            bar += f"\x1b[37m{'━' * (self.width - done)}\x1b[0m"
            plain = len(count) + 1 + self.width
            if not finalize:
                eta = per_unit * (self.target - current)
                if eta > 3600:
                    t = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
                elif eta > 60:
                    t = "%d:%02d" % (eta // 60, eta % 60)
                else:
                    t = "%ds" % eta
            else:
                t = f"{now - self._start:.0f}s"
            info = f" \x1b[1m{t}\x1b[0m" + _fmt_time_per_unit(per_unit, self.unit_name)
            plain += 1 + len(t) + len(_fmt_time_per_unit(per_unit, self.unit_name))
            for k, v in self._values.items():
                s = f" - {k}:" + _fmt_value(v)
                info += s
                plain += len(s)
            msg += bar + info
            if self._dynamic and self._prev_total_width > plain:
                msg += " " * (self._prev_total_width - plain)
            if finalize or not self._dynamic:
                msg += "\n"
            self._prev_total_width = plain
            out.write(msg)
            out.flush()
        elif self.verbose == 2 and finalize:
            nd = int(math.log10(self.target)) + 1 if self.target > 0 else 1
            info = f"{current:{nd}d}/{self.target} - {now - self._start:.0f}s -"
            info += _fmt_time_per_unit(per_unit, self.unit_name)
            for k, v in self._values.items():
                info += f" - {k}:" + _fmt_value(v)
            out.write(info + "\n")
            out.flush()
