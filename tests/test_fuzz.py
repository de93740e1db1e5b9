"""Fuzzing every pyconv.nn op with random shapes and parameters, valid and invalid alike.

Each example either gives the right answer (checked against the float64 references of
tests/reference.py and tests/ref_pool.py) or raises a clean ValueError/TypeError -- and which of
the two happens is predicted here from the arguments, independently of pyconv's own checks: a
valid call that raises fails the test as much as an invalid one that returns. Zero and negative
sizes, windows larger than the input, wrong ranks and odd dtypes are all drawn. The whole file
runs in well under 30 s (and under ASan in CI).
"""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ref_act
import ref_pool
import reference
from pyconv import nn

FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# mostly float32, sometimes a dtype that is converted, sometimes one that must be refused
DTYPES = st.sampled_from(["float32"] * 6 + ["float64", "int32", "bool", "complex64", "object", "U1"])
OK_DTYPES = ("float32", "float64", "int32", "bool")
SIZE = st.integers(0, 6)
PARAM = st.integers(-1, 3)           # strides, dilations, window sizes: 0 and -1 are invalid
PADDING = st.one_of(st.sampled_from(["VALID", "SAME", "same", "valid", "FULL"]),
                    st.tuples(st.integers(-1, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)))


def array(data, shape, dtype, scale=1.0):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    a = np.asarray(rng.standard_normal(shape) * scale)
    if dtype == "bool":
        return a > 0
    if dtype == "U1":
        return np.full(shape, "a")
    return np.asarray(a, dtype=dtype)


def outcome(call):
    """The op's result, or the exception it raised -- which must be a clean one."""
    try:
        return call()
    except (ValueError, TypeError) as e:
        return e


def explicit(p):
    """tf.nn's explicit padding from 4 drawn ints (top, bottom, left, right)."""
    t, b, l, r = p
    return [[0, 0], [t, b], [l, r], [0, 0]]


def padding_ok(p):
    return isinstance(p, tuple) and min(p) >= 0 or isinstance(p, str) and p.lower() in ("valid", "same")


def expect(result, valid, reference_fn, tol=1e-4):
    if not valid:
        assert isinstance(result, Exception), "an invalid call returned a result"
        return
    assert not isinstance(result, Exception), f"a valid call raised {result!r}"
    reference.assert_close(result, reference_fn(), rtol=tol, atol=tol)


def conv_geometry(shape, R, S, sh, sw, dh, dw, padding):
    """(P, Q, pads) by the reference's rules, or None if no output pixel."""
    N, H, W, C = shape
    pad = padding.lower() if isinstance(padding, str) else ((padding[0], padding[1]), (padding[2], padding[3]))
    P, Q, pt, pl = reference.conv_pads(H, W, R, S, (sh, sw), (dh, dw), pad)
    return (P, Q, pad) if P >= 1 and Q >= 1 else None


@FUZZ
@given(data=st.data(), n=SIZE, h=SIZE, w=SIZE, c=SIZE, k=SIZE, r=PARAM, s=PARAM,
       sh=PARAM, sw=PARAM, dh=PARAM, dw=PARAM, padding=PADDING, dtype=DTYPES, rank=st.sampled_from([4] * 8 + [3, 5]))
def test_conv2d_and_its_gradients(data, n, h, w, c, k, r, s, sh, sw, dh, dw, padding, dtype, rank):
    shape = (n, h, w, c, 1)[:rank] if rank != 3 else (n, h, w)
    x = array(data, shape, dtype)
    f = array(data, (max(r, 0), max(s, 0), c, k), "float32")
    pad = explicit(padding) if isinstance(padding, tuple) else padding
    dil = (dh, dw) if not (dh == dw and data.draw(st.booleans())) else dh   # an int or a pair
    valid = (rank == 4 and dtype in OK_DTYPES and min(r, s, c, k) >= 1 and min(sh, sw, dh, dw) >= 1
             and padding_ok(padding))
    geom = conv_geometry(shape, r, s, sh, sw, dh, dw, padding) if valid else None
    valid = valid and geom is not None
    expect(outcome(lambda: nn.conv2d(x, f, (sh, sw), pad, dil)), valid,
           lambda: reference.conv2d(x, f, (sh, sw), (dh, dw), geom[2]))
    if valid:  # the gradients at the same (valid) geometry, and with a dout of the wrong shape
        P, Q, p = geom
        g = array(data, (n, P, Q, k), "float32")
        dx, df = reference.conv2d_grads(x, f, g, (sh, sw), (dh, dw), p)
        expect(outcome(lambda: nn.conv2d_backprop_input(x.shape, f, g, (sh, sw), pad, dil)), True, lambda: dx)
        expect(outcome(lambda: nn.conv2d_backprop_filter(x, f.shape, g, (sh, sw), pad, dil)), True, lambda: df)
        bad = array(data, (n, P + 1, Q, k), "float32")
        expect(outcome(lambda: nn.conv2d_backprop_input(x.shape, f, bad, (sh, sw), pad, dil)), False, None)
        expect(outcome(lambda: nn.conv2d_backprop_filter(x, f.shape, bad, (sh, sw), pad, dil)), False, None)
        # the transposed convolution of g is the same sum as the input gradient
        expect(outcome(lambda: nn.conv2d_transpose(g, f, x.shape, (sh, sw), pad, dilations=dil)), True, lambda: dx)
        expect(outcome(lambda: nn.conv2d_transpose(bad, f, x.shape, (sh, sw), pad, dilations=dil)), False, None)


@FUZZ
@given(data=st.data(), n=SIZE, h=SIZE, w=SIZE, c=SIZE, m=st.integers(0, 3), k=st.integers(0, 3), r=PARAM,
       s=PARAM, sh=PARAM, sw=PARAM, dh=PARAM, dw=PARAM, padding=PADDING, dtype=DTYPES,
       rank=st.sampled_from([4] * 8 + [3, 5]))
def test_depthwise_and_separable_conv2d(data, n, h, w, c, m, k, r, s, sh, sw, dh, dw, padding, dtype, rank):
    shape = (n, h, w, c, 1)[:rank] if rank != 3 else (n, h, w)
    x = array(data, shape, dtype)
    f = array(data, (max(r, 0), max(s, 0), c, m), "float32")
    pw = array(data, (1, 1, c * m, k), "float32")
    pad = explicit(padding) if isinstance(padding, tuple) else padding
    dil = (dh, dw) if not (dh == dw and data.draw(st.booleans())) else dh   # an int or a pair
    valid = (rank == 4 and dtype in OK_DTYPES and min(r, s, c, m) >= 1 and min(sh, sw, dh, dw) >= 1
             and padding_ok(padding))
    geom = conv_geometry(shape, r, s, sh, sw, dh, dw, padding) if valid else None
    valid = valid and geom is not None
    args = lambda: ((sh, sw), (dh, dw), geom[2])
    expect(outcome(lambda: nn.depthwise_conv2d(x, f, (sh, sw), pad, dilations=dil)), valid,
           lambda: reference.depthwise_conv2d(x, f, *args()))
    expect(outcome(lambda: nn.separable_conv2d(x, f, pw, (sh, sw), pad, dilations=dil)), valid and k >= 1,
           lambda: reference.conv2d(reference.depthwise_conv2d(x, f, *args()), pw))
    if valid:  # the gradients at the same (valid) geometry, and with a dout of the wrong shape
        P, Q, _ = geom
        g = array(data, (n, P, Q, c * m), "float32")
        dx, df = reference.depthwise_conv2d_grads(x, f, g, *args())
        expect(outcome(lambda: nn.depthwise_conv2d_backprop_input(x.shape, f, g, (sh, sw), pad, dilations=dil)),
               True, lambda: dx)
        expect(outcome(lambda: nn.depthwise_conv2d_backprop_filter(x, f.shape, g, (sh, sw), pad, dilations=dil)),
               True, lambda: df)
        bad = array(data, (n, P, Q + 1, c * m), "float32")
        expect(outcome(lambda: nn.depthwise_conv2d_backprop_input(x.shape, f, bad, (sh, sw), pad)), False, None)
        expect(outcome(lambda: nn.depthwise_conv2d_backprop_filter(x, f.shape, bad, (sh, sw), pad)), False, None)


def pool_geometry(H, W, R, S, sh, sw, padding):
    """((top, bottom), (left, right)) by TensorFlow's rules, or None if some window is empty."""
    if H < 1 or W < 1:
        return None
    if isinstance(padding, str):
        if padding.lower() == "same":
            return ref_pool.same_pads(H, R, sh)[1], ref_pool.same_pads(W, S, sw)[1]
        padding = (0, 0, 0, 0)
    t, b, l, r = padding
    if t >= R or b >= R or l >= S or r >= S or H + t + b < R or W + l + r < S:
        return None
    return (t, b), (l, r)


@FUZZ
@given(data=st.data(), n=SIZE, h=SIZE, w=SIZE, c=SIZE, r=PARAM, s=PARAM, sh=PARAM, sw=PARAM,
       padding=PADDING, dtype=DTYPES, op=st.sampled_from(["max", "avg"]), rank=st.sampled_from([4] * 8 + [3]))
def test_max_and_avg_pool_and_their_gradients(data, n, h, w, c, r, s, sh, sw, padding, dtype, op, rank):
    shape = (n, h, w, c) if rank == 4 else (n, h, w)
    x = array(data, shape, dtype)
    pad = explicit(padding) if isinstance(padding, tuple) else padding
    valid = rank == 4 and dtype in OK_DTYPES and min(r, s, sh, sw) >= 1 and padding_ok(padding)
    pads = pool_geometry(h, w, r, s, sh, sw, padding) if valid else None
    valid = valid and pads is not None
    fwd, ref = (nn.max_pool, ref_pool.max_pool) if op == "max" else (nn.avg_pool, ref_pool.avg_pool)
    y = outcome(lambda: fwd(x, (r, s), (sh, sw), pad))
    expect(y, valid, lambda: ref(x, r, s, sh, sw, pads))
    if valid:
        g = array(data, y.shape, "float32")
        if op == "max":
            expect(outcome(lambda: nn.max_pool_grad(x, g, (r, s), (sh, sw), pad)), True,
                   lambda: ref_pool.max_pool_grad(x, g, r, s, sh, sw, pads))
        else:
            expect(outcome(lambda: nn.avg_pool_grad(x.shape, g, (r, s), (sh, sw), pad)), True,
                   lambda: ref_pool.avg_pool_grad(x.shape, g, r, s, sh, sw, pads))
        expect(outcome(lambda: nn.max_pool_grad(x, g[..., :0] if c else g[:, :0], (r, s), (sh, sw), pad)),
               y.size == 0, lambda: np.zeros(x.shape))


@FUZZ
@given(data=st.data(), n=SIZE, h=SIZE, w=SIZE, c=SIZE, k=st.integers(-1, 4), dtype=DTYPES,
       rank=st.sampled_from([4] * 6 + [2, 3]))
def test_global_and_depthwise_pooling(data, n, h, w, c, k, dtype, rank):
    shape = (n, h, w, c)[:rank]
    x = array(data, shape, dtype)
    ok = rank == 4 and dtype in OK_DTYPES
    expect(outcome(lambda: nn.global_max_pool(x)), ok and h >= 1 and w >= 1, lambda: ref_pool.global_max_pool(x))
    expect(outcome(lambda: nn.global_avg_pool(x)), ok and h >= 1 and w >= 1, lambda: ref_pool.global_avg_pool(x))
    if ok and h >= 1 and w >= 1:
        g = array(data, (n, c), "float32")
        expect(outcome(lambda: nn.global_max_pool_grad(x, g)), True, lambda: ref_pool.global_max_pool_grad(x, g))
        expect(outcome(lambda: nn.global_avg_pool_grad(x.shape, g)), True,
               lambda: ref_pool.global_avg_pool_grad(x.shape, g))
    d = (1, 1, 1, k)
    valid = ok and k >= 1 and c % k == 0 if k >= 1 else False
    y = outcome(lambda: nn.max_pool(x, d, d, "VALID"))
    expect(y, valid and k > 1 or (valid and k == 1 and h >= 1 and w >= 1),
           lambda: ref_pool.depthwise_max_pool(x, k) if k > 1 else x)
    if valid and k > 1:
        g = array(data, y.shape, "float32")
        expect(outcome(lambda: nn.max_pool_grad(x, g, d, d, "VALID")), True,
               lambda: ref_pool.depthwise_max_pool_grad(x, g, k))


@FUZZ
@given(data=st.data(), n=SIZE, c=SIZE, k=SIZE, c2=SIZE, dtype=DTYPES, bias=st.sampled_from(["none", "ok", "bad"]),
       rank=st.sampled_from([2] * 6 + [1, 3]))
def test_dense_and_its_gradient(data, n, c, k, c2, dtype, bias, rank):
    x = array(data, (n, c, 2)[:rank], dtype)
    w = array(data, (c2, k), "float32")
    b = None if bias == "none" else array(data, (k if bias == "ok" else k + 1,), "float32")
    valid = rank == 2 and dtype in OK_DTYPES and c == c2 and bias != "bad"
    expect(outcome(lambda: nn.dense(x, w, b)), valid,
           lambda: reference.dense(x, w, b))
    if valid:
        g = array(data, (n, k), "float32")
        dx, dw, db = nn.dense_grad(g, x, w)
        rdx, rdw = reference.dense_grads(x, w, g)[:2]
        reference.assert_close(dx, rdx, rtol=1e-4, atol=1e-4)
        reference.assert_close(dw, rdw, rtol=1e-4, atol=1e-4)
        reference.assert_close(db, np.asarray(g, np.float64).sum(0), rtol=1e-4, atol=1e-4)
        expect(outcome(lambda: nn.dense_grad(array(data, (n, k + 1), "float32"), x, w)), False, None)


ELEMENTWISE = {
    "relu": (nn.relu, nn.relu_grad, lambda x: np.maximum(x, 0), lambda g, y: g * (y > 0)),
    "sigmoid": (nn.sigmoid, nn.sigmoid_grad, lambda x: 1 / (1 + np.exp(-x)), lambda g, y: g * y * (1 - y)),
    "tanh": (nn.tanh, nn.tanh_grad, np.tanh, lambda g, y: g * (1 - y * y)),
}


@FUZZ
@given(data=st.data(), shape=st.lists(SIZE, min_size=0, max_size=4), dtype=DTYPES,
       op=st.sampled_from(sorted(ELEMENTWISE)), mismatch=st.booleans())
def test_elementwise_activations(data, shape, dtype, op, mismatch):
    fwd, bwd, ref, ref_bwd = ELEMENTWISE[op]
    x = array(data, tuple(shape), dtype, scale=3.0)
    y = outcome(lambda: fwd(x))
    expect(y, dtype in OK_DTYPES, lambda: ref(np.asarray(x, np.float64)))
    if dtype in OK_DTYPES:
        g = array(data, tuple(shape) + ((1,) if mismatch else ()), "float32")
        expect(outcome(lambda: bwd(g, y)), not mismatch,
               lambda: ref_bwd(np.asarray(g, np.float64), np.asarray(y, np.float64)))


# activations whose backward takes the forward's input: (op, its gradient, float64 op, derivative)
INPUT_ACTS = {
    "elu": (nn.elu, nn.elu_grad, ref_act.elu, ref_act.elu_d),
    "selu": (nn.selu, nn.selu_grad, ref_act.selu, ref_act.selu_d),
    "gelu": (nn.gelu, nn.gelu_grad, ref_act.gelu, ref_act.gelu_d),
    "silu": (nn.silu, nn.silu_grad, ref_act.silu, ref_act.silu_d),
    "swish": (nn.swish, nn.silu_grad, ref_act.silu, ref_act.silu_d),
    "leaky_relu": (nn.leaky_relu, nn.leaky_relu_grad, lambda x: ref_act.relu_general(x, 0.2),
                   lambda x: ref_act.relu_general_d(x, 0.2)),
    "relu6": (nn.relu6, nn.relu6_grad, lambda x: ref_act.relu_general(x, max_value=6.0),
              lambda x: ref_act.relu_general_d(x, max_value=6.0)),
    "softplus": (nn.softplus, nn.softplus_grad, ref_act.softplus, ref_act.softplus_d),
    "softsign": (nn.softsign, nn.softsign_grad, ref_act.softsign, ref_act.softsign_d),
}


@FUZZ
@given(data=st.data(), shape=st.lists(SIZE, min_size=0, max_size=4), dtype=DTYPES,
       op=st.sampled_from(sorted(INPUT_ACTS)), mismatch=st.booleans())
def test_input_based_activations(data, shape, dtype, op, mismatch):
    fwd, bwd, ref, deriv = INPUT_ACTS[op]
    x = array(data, tuple(shape), dtype, scale=3.0)
    expect(outcome(lambda: fwd(x)), dtype in OK_DTYPES, lambda: ref(np.asarray(x, np.float64)))
    if dtype in OK_DTYPES:
        g = array(data, tuple(shape) + ((1,) if mismatch else ()), "float32")
        x64 = np.asarray(x, np.float64)
        expect(outcome(lambda: bwd(g, x)), not mismatch, lambda: np.asarray(g, np.float64) * deriv(x64))


@FUZZ
@given(data=st.data(), shape=st.lists(SIZE, min_size=0, max_size=3), dtype=DTYPES,
       axes=st.lists(st.integers(-4, 3), min_size=1, max_size=3), keepdims=st.booleans(),
       rate=st.sampled_from([0.0, 0.5, 0.9, 1.0, -0.1]), stat_shift=st.sampled_from([0, 0, 0, 1]))
def test_log_softmax_moments_batch_normalization_dropout(data, shape, dtype, axes, keepdims, rate, stat_shift):
    shape = tuple(shape)
    x = array(data, shape, dtype, scale=5.0)
    ok = dtype in OK_DTYPES
    nd = len(shape)
    axis = axes[0]
    axis_ok = nd >= 1 and -nd <= axis < nd
    ls = outcome(lambda: nn.log_softmax(x, axis=axis))
    expect(ls, ok and axis_ok, lambda: np.moveaxis(ref_act.log_softmax(np.moveaxis(np.asarray(x, np.float64), axis, -1)),
                                                   -1, axis) if x.size else np.zeros(shape))
    if ok and axis_ok:
        g = array(data, shape, "float32")
        g64 = np.moveaxis(np.asarray(g, np.float64), axis, -1)
        expect(outcome(lambda: nn.log_softmax_grad(g, ls, axis=axis)), True,
               lambda: np.moveaxis(ref_act.log_softmax_grad(g64, np.moveaxis(np.asarray(x, np.float64), axis, -1)),
                                   -1, axis) if x.size else np.zeros(shape))
    axes_ok = nd >= 1 and all(-nd <= a < nd for a in axes) and len({a % max(nd, 1) for a in axes}) == len(axes)
    mv = outcome(lambda: nn.moments(x, axes, keepdims=keepdims))
    red = tuple(sorted({a % max(nd, 1) for a in axes}))
    nonempty = axes_ok and all(shape[a] > 0 for a in red)
    if ok and axes_ok and nonempty:
        x64 = np.asarray(x, np.float64)
        expect(mv[0], True, lambda: x64.mean(red, keepdims=keepdims))
        expect(mv[1], True, lambda: x64.var(red, keepdims=keepdims))
    elif not (ok and axes_ok):
        assert isinstance(mv, Exception)
    if ok and nd >= 1:
        C = shape[-1]
        m = array(data, (C + stat_shift,), "float32")
        v = np.abs(array(data, (C,), "float32")) + 0.5
        bn = outcome(lambda: nn.batch_normalization(x, m, v, None, v, 1e-3))
        expect(bn, stat_shift == 0, lambda: (np.asarray(x, np.float64) - m) / np.sqrt(v + 1e-3) * v)
    d = outcome(lambda: nn.dropout(x, rate, seed=1))
    if not ok or not 0 <= rate < 1:
        assert isinstance(d, Exception)
    else:
        x64 = np.asarray(x, np.float64)
        kept = np.asarray(d) != 0
        reference.assert_close(np.asarray(d)[kept], x64[kept] / (1 - rate), 1e-6, 1e-6)


@FUZZ
@given(data=st.data(), shape=st.lists(SIZE, min_size=0, max_size=3), dtype=DTYPES, axis=st.sampled_from([-1, -1, 0]),
       bias_len=st.integers(-1, 1), label_shift=st.sampled_from([0, 0, 0, 1, -1]))
def test_softmax_bias_add_and_cross_entropy(data, shape, dtype, axis, bias_len, label_shift):
    shape = tuple(shape)
    z = array(data, shape, dtype, scale=5.0)
    ok = dtype in OK_DTYPES and len(shape) >= 1
    y = outcome(lambda: nn.softmax(z, axis=axis))
    expect(y, ok and -len(shape) <= axis < len(shape),   # any axis: moved last, softmax, moved back
           lambda: np.moveaxis(reference.softmax(np.moveaxis(z, axis, -1)), -1, axis) if z.size else np.zeros(shape))
    if ok and axis == -1:
        g = array(data, shape, "float32")
        y64, g64 = np.asarray(y, np.float64), np.asarray(g, np.float64)
        expect(outcome(lambda: nn.softmax_grad(g, y)), True, lambda: y64 * (g64 - (g64 * y64).sum(-1, keepdims=True)))
        expect(outcome(lambda: nn.softmax_grad(g[..., :-1], y)), shape[-1] == 0, lambda: y64)
    if ok:
        b = array(data, (max(shape[-1] + bias_len, 0),), "float32")
        expect(outcome(lambda: nn.bias_add(z, b)), len(b) == shape[-1], lambda: np.asarray(z, np.float64) + b)
        expect(outcome(lambda: nn.bias_add_grad(z)), True,
               lambda: np.asarray(z, np.float64).sum(axis=tuple(range(len(shape) - 1))))
    if ok and len(shape) == 2:
        m, classes = shape
        labels = np.random.default_rng(m).integers(0, max(classes, 1), m) + label_shift
        valid = classes >= 1 and (m == 0 or (labels.min() >= 0 and labels.max() < classes))
        expect(outcome(lambda: nn.sparse_softmax_cross_entropy_with_logits(labels, z)), valid,
               lambda: reference.sparse_xent(labels, z)[0] if m else np.zeros(0))
        if valid and m:
            loss, grad = nn.sparse_softmax_cross_entropy_with_logits_grad(labels, z)
            reference.assert_close(grad, reference.sparse_xent(labels, z)[1], rtol=1e-4, atol=1e-4)


def test_the_fuzzers_cover_every_op():
    """Every public op of pyconv.nn is exercised above (a new op must be added here)."""
    import inspect
    src = inspect.getsource(inspect.getmodule(test_the_fuzzers_cover_every_op))
    missing = [name for name in nn.__all__ if f"nn.{name}" not in src and name not in ("max_pool2d", "avg_pool2d")
               and not any(name == v.__name__ for t in ELEMENTWISE.values() for v in t[:2])]
    assert not missing, f"pyconv.nn ops not fuzzed: {missing}"
