"""Float64 NumPy references: the independent specification every C kernel is checked against.

Written from the definitions, not from the C code; each one is itself checked by central finite
differences (tests/test_reference.py). Pooling references live in tests/ref_pool.py.
"""
import numpy as np


def out_size(size, window, stride, padding):
    """(output size, padding before) along one axis, TensorFlow's rules."""
    if padding == "valid":
        return (size - window) // stride + 1, 0
    if padding == "same":
        out = -(-size // stride)
        return out, max((out - 1) * stride + window - size, 0) // 2
    before, after = padding
    return (size + before + after - window) // stride + 1, before


def conv_pads(H, W, R, S, strides, dilations, padding):
    """(P, Q, (top, bottom), (left, right)) with explicit padding on every side."""
    Reff, Seff = (R - 1) * dilations[0] + 1, (S - 1) * dilations[1] + 1
    ph = padding if isinstance(padding, str) else padding[0]
    pw = padding if isinstance(padding, str) else padding[1]
    P, top = out_size(H, Reff, strides[0], ph)
    Q, left = out_size(W, Seff, strides[1], pw)
    bottom = max((P - 1) * strides[0] + Reff - H - top, 0)
    right = max((Q - 1) * strides[1] + Seff - W - left, 0)
    return P, Q, (top, bottom), (left, right)


def conv2d(x, w, strides=(1, 1), dilations=(1, 1), padding="valid"):
    """x (N,H,W,C), w (R,S,C,K) -> (N,P,Q,K): an explicit sum over filter taps."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    R, S, _, K = w.shape
    xp, P, Q, _, _ = _padded(x, R, S, strides, dilations, padding)
    out = np.zeros((x.shape[0], P, Q, K))
    for i in range(R):
        for j in range(S):
            out += xp[_tap(i, j, P, Q, strides, dilations)][:, :P, :Q, :] @ w[i, j]
    return out


def conv2d_grads(x, w, dout, strides=(1, 1), dilations=(1, 1), padding="valid"):
    """(dx, dw) of sum(conv2d(x, w) * dout): the adjoint of the sum above, tap by tap."""
    x, w, dout = (np.asarray(a, np.float64) for a in (x, w, dout))
    N, H, W, C = x.shape
    R, S, _, K = w.shape
    xp, P, Q, t, l = _padded(x, R, S, strides, dilations, padding)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(R):
        for j in range(S):
            sl = _tap(i, j, P, Q, strides, dilations)
            dw[i, j] = np.einsum("npqc,npqk->ck", xp[sl][:, :P, :Q, :], dout)
            dxp[sl][:, :P, :Q, :] += dout @ w[i, j].T
    return dxp[:, t:t + H, l:l + W, :], dw


def _padded(x, R, S, strides, dilations, padding):
    """(x zero-padded so that every tap's strided slice has P x Q pixels, P, Q, top, left)."""
    N, H, W, C = x.shape
    P, Q, (t, b), (l, r) = conv_pads(H, W, R, S, strides, dilations, padding)
    xp = np.pad(x, ((0, 0), (t, b + strides[0] * P), (l, r + strides[1] * Q), (0, 0)))
    return xp, P, Q, t, l


def _tap(i, j, P, Q, strides, dilations):
    """The slice of the padded input that filter tap (i, j) reads for the P x Q outputs."""
    h0, w0 = i * dilations[0], j * dilations[1]
    return (slice(None), slice(h0, h0 + strides[0] * P, strides[0]),
            slice(w0, w0 + strides[1] * Q, strides[1]), slice(None))


def depthwise_conv2d(x, w, strides=(1, 1), dilations=(1, 1), padding="valid"):
    """x (N,H,W,C), w (R,S,C,M) -> (N,P,Q,C*M), output channel c*M + m: channel c of each tap's
    patch times w[r, s, c, m], summed over taps."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    R, S, C, M = w.shape
    xp, P, Q, _, _ = _padded(x, R, S, strides, dilations, padding)
    out = np.zeros((x.shape[0], P, Q, C, M))
    for i in range(R):
        for j in range(S):
            out += xp[_tap(i, j, P, Q, strides, dilations)][:, :P, :Q, :, None] * w[i, j]
    return out.reshape(x.shape[0], P, Q, C * M)


def depthwise_conv2d_grads(x, w, dout, strides=(1, 1), dilations=(1, 1), padding="valid"):
    """(dx, dw) of sum(depthwise_conv2d(x, w) * dout): the adjoint, tap by tap."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    R, S, C, M = w.shape
    N, H, W, _ = x.shape
    xp, P, Q, t, l = _padded(x, R, S, strides, dilations, padding)
    g = np.asarray(dout, np.float64).reshape(N, P, Q, C, M)
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(R):
        for j in range(S):
            sl = _tap(i, j, P, Q, strides, dilations)
            dw[i, j] = np.einsum("npqc,npqcm->cm", xp[sl][:, :P, :Q], g)
            dxp[sl][:, :P, :Q] += (g * w[i, j]).sum(-1)
    return dxp[:, t:t + H, l:l + W, :], dw


def grouped_conv2d(x, w, groups, strides=(1, 1), dilations=(1, 1), padding="valid"):
    """x (N,H,W,C), w (R,S,C/G,K) -> (N,P,Q,K): conv2d of each group's channel slices."""
    cg, kg = x.shape[3] // groups, w.shape[3] // groups
    return np.concatenate([conv2d(x[..., g * cg:(g + 1) * cg], w[..., g * kg:(g + 1) * kg],
                                  strides, dilations, padding) for g in range(groups)], axis=3)


def grouped_conv2d_grads(x, w, dout, groups, strides=(1, 1), dilations=(1, 1), padding="valid"):
    """(dx, dw) of sum(grouped_conv2d(x, w) * dout), group by group."""
    cg, kg = x.shape[3] // groups, w.shape[3] // groups
    parts = [conv2d_grads(x[..., g * cg:(g + 1) * cg], w[..., g * kg:(g + 1) * kg],
                          dout[..., g * kg:(g + 1) * kg], strides, dilations, padding)
             for g in range(groups)]
    return np.concatenate([p[0] for p in parts], axis=3), np.concatenate([p[1] for p in parts], axis=3)


def dense(x, w, b=None):
    y = np.asarray(x, np.float64) @ np.asarray(w, np.float64)
    return y if b is None else y + b


def dense_grads(x, w, dout):
    x, w, dout = (np.asarray(a, np.float64) for a in (x, w, dout))
    return dout @ w.T, x.T @ dout, dout.sum(0)


def softmax(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sparse_xent(labels, logits):
    """Per-example -log softmax(logits)[label], and its gradient softmax - onehot."""
    z = np.asarray(logits, np.float64)
    m = z.max(-1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(-1)) + m[:, 0]
    loss = lse - z[np.arange(len(z)), labels]
    grad = softmax(z)
    grad[np.arange(len(z)), labels] -= 1.0
    return loss, grad


def numeric_grad(f, x, eps=1e-6):
    """Central finite differences of the scalar f at x (float64)."""
    x = np.array(x, np.float64)
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f(x)
        x[i] = old - eps
        fm = f(x)
        x[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def assert_close(actual, expected, rtol, atol, what=""):
    """allclose, but a failure prints the largest difference and where it is."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    err = np.abs(actual - expected) - (atol + rtol * np.abs(expected))
    if err.size and err.max() > 0:
        i = np.unravel_index(np.argmax(err), err.shape)
        raise AssertionError(f"{what}: largest excess difference at {i}: actual {actual[i]!r}, "
                             f"expected {expected[i]!r}, |diff| {abs(actual[i] - expected[i]):.3g} "
                             f"(rtol {rtol}, atol {atol})")


U32 = 2.0 ** -24  # float32 unit roundoff


def assert_sum_close(actual, expected, abs_sum, depth, what=""):
    """Check a float32 sum of `depth` products against its float64 value with the classical
    worst-case bound for recursive summation, |error| <= depth * u * sum|terms| (plus the
    final rounding), where `abs_sum` is the same computation on absolute values. Blocking,
    FMA and any summation order all stay inside it, so it is tight without being flaky."""
    bound = (depth + 2) * U32 * np.asarray(abs_sum, np.float64) + 1e-30
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    err = np.abs(actual - expected) - bound
    if err.size and err.max() > 0:
        i = np.unravel_index(np.argmax(err), err.shape)
        raise AssertionError(f"{what}: at {i}: actual {actual[i]!r}, expected {expected[i]!r}, "
                             f"|diff| {abs(actual[i] - expected[i]):.3g} > bound {bound[i]:.3g}")


def batchnorm(x, gamma=None, beta=None, eps=1e-3):
    """Training-mode batch normalization over the last axis, float64: (y, mean, biased var)."""
    x = np.asarray(x, np.float64)
    C = x.shape[-1]
    x2 = x.reshape(-1, C)
    mean = x2.mean(axis=0)
    var = ((x2 - mean) ** 2).mean(axis=0)
    g = np.ones(C) if gamma is None else np.asarray(gamma, np.float64)
    b = np.zeros(C) if beta is None else np.asarray(beta, np.float64)
    y = g * (x2 - mean) / np.sqrt(var + eps) + b
    return y.reshape(x.shape), mean, var


def batchnorm_grads(x, gamma, dy, eps=1e-3):
    """(dx, dgamma, dbeta) of `batchnorm` (gamma None: 1), float64, the textbook formulas."""
    x = np.asarray(x, np.float64)
    C = x.shape[-1]
    x2, g2 = x.reshape(-1, C), np.asarray(dy, np.float64).reshape(-1, C)
    M = x2.shape[0]
    mean = x2.mean(axis=0)
    invstd = 1.0 / np.sqrt(((x2 - mean) ** 2).mean(axis=0) + eps)
    xhat = (x2 - mean) * invstd
    g = np.ones(C) if gamma is None else np.asarray(gamma, np.float64)
    dbeta = g2.sum(axis=0)
    dgamma = (g2 * xhat).sum(axis=0)
    dx = g * invstd / M * (M * g2 - dbeta - xhat * dgamma)
    return dx.reshape(x.shape), dgamma, dbeta


def conv2d_transpose(x, w, out_hw, strides=(1, 1), dilations=(1, 1), top=0, left=0):
    """x (N,P,Q,K), w (R,S,C,K) -> (N,H,W,C): each input pixel (p,q) scattered through each
    tap (r,s) to output pixel (p*sh - top + r*dh, q*sw - left + s*dw), dropped outside."""
    x, w = np.asarray(x, np.float64), np.asarray(w, np.float64)
    N, P, Q, K = x.shape
    R, S, C, _ = w.shape
    H, W = out_hw
    y = np.zeros((N, H, W, C))
    for p, q, r, s in np.ndindex(P, Q, R, S):
        h, v = p * strides[0] - top + r * dilations[0], q * strides[1] - left + s * dilations[1]
        if 0 <= h < H and 0 <= v < W:
            y[:, h, v, :] += x[:, p, q, :] @ w[r, s].T
    return y


def conv2d_transpose_grads(x, w, dy, strides=(1, 1), dilations=(1, 1), top=0, left=0):
    """(dx, dw) of sum(conv2d_transpose(x, w) * dy): the same pixel pairs, gathered."""
    x, w, dy = (np.asarray(a, np.float64) for a in (x, w, dy))
    N, P, Q, K = x.shape
    R, S, C, _ = w.shape
    H, W = dy.shape[1:3]
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for p, q, r, s in np.ndindex(P, Q, R, S):
        h, v = p * strides[0] - top + r * dilations[0], q * strides[1] - left + s * dilations[1]
        if 0 <= h < H and 0 <= v < W:
            dx[:, p, q, :] += dy[:, h, v, :] @ w[r, s]
            dw[r, s] += dy[:, h, v, :].T @ x[:, p, q, :]
    return dx, dw
