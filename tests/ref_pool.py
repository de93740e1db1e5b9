"""Float64 NumPy references for pooling: the independent specification csrc/pool2d.c is checked
against (tests/test_pool2d.py, which also checks these by central finite differences).

Written from the definitions, not from the C code: the C kernels clip each window to the
input, these PAD the input explicitly (with -inf for max, with zeros plus a zero mask for
the average's count) and slice every window out of the padded array.

Padding is given as ((top, bottom), (left, right)); `same_pads` applies TensorFlow's rule.
"""
import numpy as np


def same_pads(size, window, stride):
    """TensorFlow's SAME along one axis: (output size, (before, after))."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return out, (total // 2, total - total // 2)


def out_size(size, window, stride, pads):
    return (size + pads[0] + pads[1] - window) // stride + 1


def _windows(xp, R, S, sh, sw, P, Q):
    """Every window of the padded xp (N, Hp, Wp, C), as (p, q, window (N, R, S, C))."""
    for p in range(P):
        for q in range(Q):
            yield p, q, xp[:, p * sh:p * sh + R, q * sw:q * sw + S, :]


def _pad(x, pads, value):
    (t, b), (l, r) = pads
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def max_pool(x, R, S, sh, sw, pads):
    x = np.asarray(x, np.float64)
    N, H, W, C = x.shape
    P, Q = out_size(H, R, sh, pads[0]), out_size(W, S, sw, pads[1])
    out = np.empty((N, P, Q, C))
    for p, q, win in _windows(_pad(x, pads, -np.inf), R, S, sh, sw, P, Q):
        out[:, p, q, :] = win.max(axis=(1, 2))
    return out


def max_pool_grad(x, dout, R, S, sh, sw, pads):
    """Each dout element to the first maximum of its window, in row-major (r, s) order."""
    x = np.asarray(x, np.float64)
    N, H, W, C = x.shape
    P, Q = dout.shape[1:3]
    (t, _), (l, _) = pads
    dxp = np.zeros(_pad(x, pads, 0).shape)
    n_idx, c_idx = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for p, q, win in _windows(_pad(x, pads, -np.inf), R, S, sh, sw, P, Q):
        first = win.reshape(N, R * S, C).argmax(axis=1)   # argmax: the first occurrence
        r, s = first // S, first % S
        np.add.at(dxp, (n_idx, p * sh + r, q * sw + s, c_idx), dout[:, p, q, :])
    return dxp[:, t:t + H, l:l + W, :]


def avg_pool(x, R, S, sh, sw, pads):
    """The mean over each window's input elements; padding is not counted."""
    x = np.asarray(x, np.float64)
    N, H, W, C = x.shape
    P, Q = out_size(H, R, sh, pads[0]), out_size(W, S, sw, pads[1])
    ones = _pad(np.ones((1, H, W, 1)), pads, 0.0)
    out = np.empty((N, P, Q, C))
    counts = {(p, q): win.sum() for p, q, win in _windows(ones, R, S, sh, sw, P, Q)}
    for p, q, win in _windows(_pad(x, pads, 0.0), R, S, sh, sw, P, Q):
        out[:, p, q, :] = win.sum(axis=(1, 2)) / counts[p, q]
    return out


def avg_pool_grad(shape, dout, R, S, sh, sw, pads):
    N, H, W, C = shape
    P, Q = dout.shape[1:3]
    (t, _), (l, _) = pads
    mask = _pad(np.ones((1, H, W, 1)), pads, 0.0)
    dxp = np.zeros((N,) + mask.shape[1:3] + (C,))
    for p, q, m in _windows(mask, R, S, sh, sw, P, Q):
        g = np.asarray(dout[:, p, q, :], np.float64) / m.sum()
        dxp[:, p * sh:p * sh + R, q * sw:q * sw + S, :] += m * g[:, None, None, :]
    return dxp[:, t:t + H, l:l + W, :]


def global_avg_pool(x):
    return np.asarray(x, np.float64).mean(axis=(1, 2))


def global_avg_pool_grad(shape, dout):
    N, H, W, C = shape
    return np.broadcast_to(np.asarray(dout, np.float64)[:, None, None, :] / (H * W), shape).copy()


def global_max_pool(x):
    return np.asarray(x, np.float64).max(axis=(1, 2))


def global_max_pool_grad(x, dout):
    N, H, W, C = x.shape
    first = np.asarray(x, np.float64).reshape(N, H * W, C).argmax(axis=1)
    dx = np.zeros((N, H * W, C))
    n_idx, c_idx = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    dx[n_idx, first, c_idx] = dout
    return dx.reshape(x.shape)


def depthwise_max_pool(x, k):
    N, H, W, C = x.shape
    return np.asarray(x, np.float64).reshape(N, H, W, C // k, k).max(axis=-1)


def depthwise_max_pool_grad(x, dout, k):
    N, H, W, C = x.shape
    first = np.asarray(x, np.float64).reshape(N, H, W, C // k, k).argmax(axis=-1)
    onehot = np.arange(k) == first[..., None]
    return (onehot * np.asarray(dout, np.float64)[..., None]).reshape(x.shape)
