"""float64 NumPy references of csrc/resample.c: resize (bilinear, nearest) and the projective
sampler, forward and backward (the backward as an explicit scatter, checked to be the
forward's adjoint in tests/test_resample.py).

Where a sample is taken is TensorFlow's definition, in float32 (the source coordinates and the
fill modes' mapping, vectorized here independently of the C loops); what is computed there
(the interpolation) is in float64.
"""
import numpy as np

F = np.float32


# ---- resize -------------------------------------------------------------------------------------

def _bilinear_axis(out_size, in_size):
    """(lower, upper, lerp) per output index: TF's half-pixel rule in float32; lerp as float64."""
    scale = F(in_size) / F(out_size)
    c = (np.arange(out_size, dtype=F) + F(0.5)) * scale - F(0.5)
    f = np.floor(c)
    lo = np.maximum(f.astype(np.int64), 0)
    hi = np.minimum(np.ceil(c).astype(np.int64), in_size - 1)
    return lo, hi, (c - f).astype(np.float64)


def _nearest_axis(out_size, in_size):
    scale = F(in_size) / F(out_size)
    i = np.floor((np.arange(out_size, dtype=F) + F(0.5)) * scale).astype(np.int64)
    return np.clip(i, 0, in_size - 1)


def resize(x, P, Q, method):
    """x (N,H,W,C) -> (N,P,Q,C), float64."""
    x = np.asarray(x, np.float64)
    H, W = x.shape[1:3]
    if method == "nearest":
        return x[:, _nearest_axis(P, H)][:, :, _nearest_axis(Q, W)]
    if (P, Q) == (H, W):
        return x.copy()
    y0, y1, ly = _bilinear_axis(P, H)
    x0, x1, lx = _bilinear_axis(Q, W)
    lx = lx[None, None, :, None]
    top = x[:, y0][:, :, x0] * (1 - lx) + x[:, y0][:, :, x1] * lx
    bot = x[:, y1][:, :, x0] * (1 - lx) + x[:, y1][:, :, x1] * lx
    ly = ly[None, :, None, None]
    return top * (1 - ly) + bot * ly


def resize_grad(g, H, W, method):
    """The transpose of resize: (N,P,Q,C) -> (N,H,W,C), float64, by np.add.at."""
    g = np.asarray(g, np.float64)
    N, P, Q, C = g.shape
    dx = np.zeros((N, H, W, C))
    if method == "nearest":
        ys, xs = _nearest_axis(P, H), _nearest_axis(Q, W)
        np.add.at(dx, (slice(None), ys[:, None], xs[None, :]), g)
        return dx
    if (P, Q) == (H, W):
        return g.copy()
    y0, y1, ly = _bilinear_axis(P, H)
    x0, x1, lx = _bilinear_axis(Q, W)
    for yi, wy in ((y0, 1 - ly), (y1, ly)):
        for xi, wx in ((x0, 1 - lx), (x1, lx)):
            np.add.at(dx, (slice(None), yi[:, None], xi[None, :]), g * (wy[:, None] * wx[None, :])[None, :, :, None])
    return dx


# ---- the projective sampler ---------------------------------------------------------------------

def _map(c, n, mode):
    """TF's MapCoordinate, float32, vectorized (c: float32 array, n: the axis length)."""
    c = c.astype(F).copy()
    if mode == "constant":
        return c
    if n <= 1:
        return np.zeros_like(c)
    neg, pos = c < 0, c > F(n - 1)   # one branch per coordinate, chosen by its value before
    if mode == "reflect":
        sz2 = 2 * n
        cn = c[neg]
        cn = (sz2 * np.trunc(-cn / F(sz2)).astype(np.int64)).astype(F) + cn
        c[neg] = np.where(cn < F(-n), cn + F(sz2), -cn - F(1))
        cp = c[pos]
        cp = cp - (sz2 * np.trunc(cp / F(sz2)).astype(np.int64)).astype(F)
        c[pos] = np.where(cp >= F(n), F(sz2) - cp - F(1), cp)
    elif mode == "wrap":
        sz = n - 1
        c[neg] = c[neg] + (n * (np.trunc(-c[neg] / F(sz)).astype(np.int64) + 1)).astype(F)
        c[pos] = c[pos] - (n * np.trunc(c[pos] / F(sz)).astype(np.int64)).astype(F)
    return np.clip(c, F(0), F(n - 1))


def _round(c):
    """std::round: half away from zero (np.round rounds half to even), exact in float64."""
    c = c.astype(np.float64)
    return (np.sign(c) * np.floor(np.abs(c) + 0.5)).astype(np.int64)


def _read(img, yi, xi, fill):
    """img (H,W,C) at integer (yi, xi) arrays, the fill value outside; float64 (...,C)."""
    H, W = img.shape[:2]
    ok = (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
    v = img[np.clip(yi, 0, H - 1), np.clip(xi, 0, W - 1)]
    return np.where(ok[..., None], v, fill)


def _sources(a, H, W, fill_mode):
    """(ys, xs, k) for every output pixel of a map `a` (8,): TF's float32 coordinates, mapped."""
    q, p = np.meshgrid(np.arange(W, dtype=F), np.arange(H, dtype=F))
    k = a[6] * q + a[7] * p + F(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = _map((a[0] * q + a[1] * p + a[2]) / k, W, fill_mode)
        ys = _map((a[3] * q + a[4] * p + a[5]) / k, H, fill_mode)
    return ys, xs, k


def affine_sample(x, t, interpolation, fill_mode, fill_value):
    """keras.ops.image.affine_transform in float64 arithmetic at TF's float32 coordinates."""
    x = np.asarray(x, np.float64)
    t = np.asarray(t, F)
    N, H, W, C = x.shape
    out = np.empty_like(x)
    for n in range(N):
        ys, xs, k = _sources(t[0 if len(t) == 1 else n], H, W, fill_mode)
        if interpolation == "nearest":
            v = _read(x[n], _round(ys), _round(xs), fill_value)
        else:
            yf, xf = np.floor(ys), np.floor(xs)
            y0, x0 = yf.astype(np.int64), xf.astype(np.int64)
            wx1, wy1 = (xs - xf).astype(np.float64)[..., None], (ys - yf).astype(np.float64)[..., None]
            top = (1 - wx1) * _read(x[n], y0, x0, fill_value) + wx1 * _read(x[n], y0, x0 + 1, fill_value)
            bot = (1 - wx1) * _read(x[n], y0 + 1, x0, fill_value) + wx1 * _read(x[n], y0 + 1, x0 + 1, fill_value)
            v = (1 - wy1) * top + wy1 * bot
        out[n] = np.where((k == 0)[..., None], fill_value, v)
    return out


def affine_sample_grad(g, t, interpolation, fill_mode):
    """The transpose of affine_sample (fill value 0: it is a constant), float64, by np.add.at."""
    g = np.asarray(g, np.float64)
    t = np.asarray(t, F)
    N, H, W, C = g.shape
    dx = np.zeros_like(g)
    for n in range(N):
        ys, xs, k = _sources(t[0 if len(t) == 1 else n], H, W, fill_mode)
        live = k != 0
        if interpolation == "nearest":
            taps = [(_round(ys), _round(xs), np.ones(xs.shape))]
        else:
            yf, xf = np.floor(ys), np.floor(xs)
            y0, x0 = yf.astype(np.int64), xf.astype(np.int64)
            wx1, wy1 = (xs - xf).astype(np.float64), (ys - yf).astype(np.float64)
            taps = [(y0, x0, (1 - wy1) * (1 - wx1)), (y0, x0 + 1, (1 - wy1) * wx1),
                    (y0 + 1, x0, wy1 * (1 - wx1)), (y0 + 1, x0 + 1, wy1 * wx1)]
        for yi, xi, w in taps:
            ok = live & (yi >= 0) & (yi < H) & (xi >= 0) & (xi < W)
            np.add.at(dx[n], (yi[ok], xi[ok]), g[n][ok] * w[ok][:, None])
    return dx
