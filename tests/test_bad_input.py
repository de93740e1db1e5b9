"""Wrong uses of pyconv, each refused with a clear error, never a crash or a silent wrong answer.

A catalogue across pyconv.nn, layers, models, optimizers, losses, metrics, callbacks, datasets and
files. Every entry raises ValueError or TypeError (FileNotFoundError/IsADirectoryError for paths)
with a message naming the argument and what was received, pinned by `pytest.raises(match=...)`.
After the catalogue: what is NOT an error and must give the right answer (non-contiguous and
negative-stride views, empty batches, 0-d inputs), NaN/inf (IEEE propagation, docs/robustness.md),
and sizes too large to address (refused before any C code runs, never wrapped).
"""
import numpy as np
import pytest

import ref_pool
import reference
from pyconv import callbacks, layers, losses, metrics, models, nn, optimizers, utils
from pyconv.datasets import fashion_mnist, read_idx, write_idx

X4 = np.ones((2, 5, 5, 3), np.float32)
W4 = np.ones((3, 3, 3, 4), np.float32)
G4 = np.ones((2, 3, 3, 4), np.float32)
XY = (np.zeros((8, 2)), np.zeros(8, int))


def _model(loss="sparse_categorical_crossentropy"):
    m = models.Sequential([layers.Dense(3, activation="softmax", input_shape=(2,))])
    m.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return m


def _fit(**kw):
    x, y = kw.pop("x", XY[0]), kw.pop("y", XY[1])
    return _model().fit(x, y, verbose=0, **kw)


def _save_junk(path, data):
    path.write_bytes(data)
    return models.load_model(path)


# (id, call (tmp_path -> anything), exception type, regex the message must match)
CASES = [
    # ---- pyconv.nn: dtypes -----------------------------------------------------------------
    ("conv2d complex input", lambda t: nn.conv2d(X4.astype(complex), W4), TypeError,
     r"`input` must be a real-valued numeric array .* Received: dtype=complex128"),
    ("conv2d object input", lambda t: nn.conv2d(np.array([[1, None]], object), W4), TypeError,
     r"`input` must be a real-valued .* Received: dtype=object"),
    ("conv2d string input", lambda t: nn.conv2d("abc", W4), TypeError,
     r"`input` must be an array of numbers. Received: input='abc'"),
    ("conv2d array of strings", lambda t: nn.conv2d(np.array([["a"]]), W4), TypeError,
     r"`input` must be a real-valued .* Received: dtype=<U1"),
    ("relu ragged list", lambda t: nn.relu([[1.0, 2.0], [3.0]]), TypeError,
     r"`features` must be an array of numbers. Received: features of type list"),
    ("dense complex kernel", lambda t: nn.dense(np.ones((2, 3)), np.ones((3, 2), complex)), TypeError,
     r"`kernel` must be a real-valued .* Received: dtype=complex128"),
    ("xent float labels", lambda t: nn.sparse_softmax_cross_entropy_with_logits(np.array([0.5]), np.ones((1, 3))),
     TypeError, r"`labels` must be integer class indices. Received: dtype=float64"),
    ("xent bool labels", lambda t: nn.sparse_softmax_cross_entropy_with_logits(np.array([True]), np.ones((1, 3))),
     TypeError, r"`labels` must be integer class indices. Received: dtype=bool"),
    # ---- pyconv.nn: ranks and shapes ------------------------------------------------------------
    ("conv2d 3-D input", lambda t: nn.conv2d(X4[0], W4), ValueError,
     r"`input` must be a 4-D array. Received: input.shape=\(5, 5, 3\)"),
    ("conv2d filter channels != input channels", lambda t: nn.conv2d(X4, np.ones((3, 3, 2, 4))), ValueError,
     r"`filters` must have as many input channels .* Received: input.shape=\(2, 5, 5, 3\), filters.shape=\(3, 3, 2, 4\)"),
    ("conv2d zero-sized filters", lambda t: nn.conv2d(X4, np.ones((3, 3, 3, 0))), ValueError,
     r"`filters` must have no zero-sized axis. Received: filters.shape=\(3, 3, 3, 0\)"),
    ("conv2d window larger than input (VALID)", lambda t: nn.conv2d(X4, np.ones((6, 6, 3, 4))), ValueError,
     r"window \(6, 6\) \(dilated\) is larger than the padded input.*input shape \(2, 5, 5, 3\)"),
    ("conv2d dilated window larger than input", lambda t: nn.conv2d(X4, W4, dilations=3), ValueError,
     r"window \(7, 7\) \(dilated\) is larger than the padded input"),
    ("conv2d zero height even with SAME", lambda t: nn.conv2d(np.ones((1, 0, 5, 3)), W4, padding="SAME"),
     ValueError, r"larger than the padded input.*input shape \(1, 0, 5, 3\)"),
    ("conv2d_backprop_input wrong out_backprop", lambda t: nn.conv2d_backprop_input(
        (2, 5, 5, 3), W4, np.ones((2, 3, 3, 5)), 1, "VALID"), ValueError,
     r"`out_backprop` must have the convolution's output shape \(2, 3, 3, 4\). Received: out_backprop.shape=\(2, 3, 3, 5\)"),
    ("conv2d_backprop_input negative size", lambda t: nn.conv2d_backprop_input(
        (1, -5, 5, 3), W4, G4[:1], 1, "VALID"), ValueError,
     r"`input_sizes` must be 4 non-negative ints \(N, H, W, C\). Received: input_sizes=\(1, -5, 5, 3\)"),
    ("conv2d_backprop_input float size (was silently truncated)", lambda t: nn.conv2d_backprop_input(
        (1, 5.5, 5, 3), W4, G4[:1], 1, "VALID"), ValueError,
     r"`input_sizes` must be 4 non-negative ints .* Received: input_sizes=\(1, 5.5, 5, 3\)"),
    ("conv2d_backprop_filter 3 sizes", lambda t: nn.conv2d_backprop_filter(X4, (3, 3, 3), G4, 1, "VALID"),
     ValueError, r"`filter_sizes` must be 4 non-negative ints \(R, S, C, K\). Received: filter_sizes=\(3, 3, 3\)"),
    ("dense 1-D x", lambda t: nn.dense(np.ones(3), np.ones((3, 2))), ValueError,
     r"`x` must be a 2-D array. Received: x.shape=\(3,\)"),
    ("dense inner sizes differ", lambda t: nn.dense(np.ones((2, 3)), np.ones((4, 2))), ValueError,
     r"Received: x.shape=\(2, 3\), kernel.shape=\(4, 2\), bias.shape=None"),
    ("dense bias of the wrong length", lambda t: nn.dense(np.ones((2, 3)), np.ones((3, 2)), np.ones(3)),
     ValueError, r"bias.shape=\(3,\)"),
    ("relu_grad shapes differ", lambda t: nn.relu_grad(np.ones(3), np.ones(4)), ValueError,
     r"`dout` and `out` must have the same shape. Received: dout.shape=\(3,\), out.shape=\(4,\)"),
    ("softmax over axis 2 of a 2-D input", lambda t: nn.softmax(np.ones((2, 3)), axis=2), ValueError,
     r"`axis` must be an axis \(or distinct axes\) of the 2-D input, in \[-2, 2\). Received: axis=2"),
    ("softmax of a scalar (0-d)", lambda t: nn.softmax(3.0), ValueError,
     r"`logits` must have at least 1 dimensions. Received: logits.shape=\(\)"),
    ("bias_add 2-D bias", lambda t: nn.bias_add(np.ones((2, 3)), np.ones((1, 3))), ValueError,
     r"`bias` must be a 1-D array. Received: bias.shape=\(1, 3\)"),
    ("bias_add length differs", lambda t: nn.bias_add(np.ones((2, 3)), np.ones(4)), ValueError,
     r"Received: value.shape=\(2, 3\), bias.shape=\(4,\)"),
    ("xent label out of range", lambda t: nn.sparse_softmax_cross_entropy_with_logits(np.array([3]), np.ones((1, 3))),
     ValueError, r"`labels` must be in \[0, 3\) for 3 classes. Received: a label 3"),
    ("xent negative label", lambda t: nn.sparse_softmax_cross_entropy_with_logits(np.array([-1]), np.ones((1, 3))),
     ValueError, r"Received: a label -1"),
    ("xent label beyond int32 (not wrapped)", lambda t: nn.sparse_softmax_cross_entropy_with_logits(
        np.array([2**32 + 1]), np.ones((1, 3))), ValueError, r"Received: a label 4294967297"),
    ("xent labels of the wrong shape", lambda t: nn.sparse_softmax_cross_entropy_with_logits(
        np.array([0, 1]), np.ones((1, 3))), ValueError,
     r"Received: labels.shape=\(2,\), logits.shape=\(1, 3\)"),
    ("xent zero classes", lambda t: nn.sparse_softmax_cross_entropy_with_logits(np.zeros(0, int), np.ones((0, 0))),
     ValueError, r"`logits` must have at least one class. Received: shape=\(0, 0\)"),
    # ---- pyconv.nn: strides, dilations, windows, padding, strings ---------------------------
    ("conv2d strides 0", lambda t: nn.conv2d(X4, W4, strides=0), ValueError,
     r"`strides` must be a positive int .* Received: strides=0"),
    ("conv2d negative strides", lambda t: nn.conv2d(X4, W4, strides=(1, -2)), ValueError,
     r"Received: strides=\(1, -2\)"),
    ("conv2d float strides", lambda t: nn.conv2d(X4, W4, strides=1.5), TypeError, r"Received: strides=1.5"),
    ("conv2d bool strides", lambda t: nn.conv2d(X4, W4, strides=True), TypeError, r"Received: strides=True"),
    ("conv2d strides over the batch", lambda t: nn.conv2d(X4, W4, strides=(2, 1, 1, 1)), ValueError,
     r"Received: strides=\(2, 1, 1, 1\)"),
    ("conv2d dilations 0", lambda t: nn.conv2d(X4, W4, dilations=0), ValueError, r"Received: dilations=0"),
    ("conv2d unknown padding string", lambda t: nn.conv2d(X4, W4, padding="FULL"), ValueError,
     r"`padding` must be 'VALID', 'SAME' .* Received: padding='FULL'"),
    ("conv2d negative explicit padding", lambda t: nn.conv2d(X4, W4, padding=[[0, 0], [-1, 0], [0, 0], [0, 0]]),
     ValueError, r"Received: padding=\[\[0, 0\], \[-1, 0\], \[0, 0\], \[0, 0\]\]"),
    ("conv2d padding the batch axis", lambda t: nn.conv2d(X4, W4, padding=[[1, 0], [0, 0], [0, 0], [0, 0]]),
     ValueError, r"`padding` must not pad the batch or channel axes"),
    ("conv2d NCHW", lambda t: nn.conv2d(X4, W4, data_format="NCHW"), ValueError,
     r"`data_format` must be 'NHWC'. Received: data_format='NCHW'"),
    ("max_pool ksize 0", lambda t: nn.max_pool(X4, 0, 1, "VALID"), ValueError, r"`ksize` must be .* Received: ksize=0"),
    ("max_pool float ksize", lambda t: nn.max_pool(X4, 2.0, 2, "VALID"), TypeError, r"Received: ksize=2.0"),
    ("max_pool 3 ksize entries", lambda t: nn.max_pool(X4, (2, 2, 2), 2, "VALID"), ValueError,
     r"Received: ksize=\(2, 2, 2\)"),
    ("max_pool window larger than input (VALID)", lambda t: nn.max_pool(X4, 6, 1, "VALID"), ValueError,
     r"`ksize` must fit in the \(padded\) input: a window of 6 along the height does not fit in 5. "
     r"Received: ksize=6, input.shape=\(2, 5, 5, 3\)"),
    ("max_pool over the batch axis", lambda t: nn.max_pool(X4, (2, 2, 2, 1), 2, "VALID"), ValueError,
     r"`ksize` must be 1 at the batch axis"),
    ("max_pool negative strides", lambda t: nn.max_pool(X4, 2, -1, "VALID"), ValueError, r"Received: strides=-1"),
    ("max_pool unknown padding", lambda t: nn.max_pool(X4, 2, 2, "full"), ValueError, r"Received: padding='full'"),
    ("max_pool 3-D input", lambda t: nn.max_pool(X4[0], 2, 2, "VALID"), ValueError,
     r"`input` must be a 4-D array. Received: input.shape=\(5, 5, 3\)"),
    ("max_pool empty image", lambda t: nn.max_pool(np.ones((1, 0, 4, 1)), 2, 2, "SAME"), ValueError,
     r"`input` must have a non-empty height and width. Received: input.shape=\(1, 0, 4, 1\)"),
    ("avg_pool depth-wise window", lambda t: nn.avg_pool(X4, (1, 1, 1, 3), (1, 1, 1, 3), "VALID"), ValueError,
     r"depth-wise pooling \(ksize\[3\] > 1\) is supported by max_pool only"),
    ("depth-wise window not dividing the depth", lambda t: nn.max_pool(X4, (1, 1, 1, 2), (1, 1, 1, 2), "VALID"),
     ValueError, r"ksize\[3\] to divide the input depth. Received: ksize=\(1, 1, 1, 2\)"),
    ("max_pool_grad wrong out_backprop", lambda t: nn.max_pool_grad(X4, np.ones((2, 2, 2, 2)), 2, 2, "VALID"),
     ValueError, r"`out_backprop` must have the shape of the pooled output \(2, 2, 2, 3\)"),
    ("global_avg_pool 2-D input", lambda t: nn.global_avg_pool(np.ones((2, 3))), ValueError,
     r"`input` must be a 4-D array. Received: input.shape=\(2, 3\)"),
    ("global_max_pool empty image", lambda t: nn.global_max_pool(np.ones((2, 0, 3, 1))), ValueError,
     r"non-empty height and width for global pooling. Received: input.shape=\(2, 0, 3, 1\)"),
    # ---- sizes too large: refused by name, never wrapped, never reaching C -----------------------
    ("conv2d strides beyond 2**31", lambda t: nn.conv2d(X4, W4, strides=2**40), ValueError,
     r"`strides` must be at most 2\*\*31 - 1 = 2147483647 .* Received: strides=1099511627776"),
    ("conv2d strides beyond int64 (was OverflowError)", lambda t: nn.conv2d(X4, W4, strides=2**70), ValueError,
     r"`strides` must be at most 2\*\*31 - 1"),
    ("conv2d dilation beyond 2**31 (index overflow in C)", lambda t: nn.conv2d(X4, W4, dilations=2**62, padding="SAME"),
     ValueError, r"`dilations` must be at most 2\*\*31 - 1"),
    ("conv2d padding beyond int64", lambda t: nn.conv2d(X4, W4, padding=[[0, 0], [2**62, 2**62], [0, 0], [0, 0]]),
     ValueError, r"`padding` must be at most 2\*\*31 - 1"),
    ("conv2d output beyond 2**63 bytes", lambda t: nn.conv2d(
        np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 1)), padding=[[0, 0], [2**31 - 1] * 2, [2**31 - 1] * 2, [0, 0]]),
     ValueError, r"The output of conv2d would have shape \(1, 4294967295, 4294967295, 1\).* more than can be addressed"),
    ("max_pool strides 2**31 (C int)", lambda t: nn.max_pool(X4, 2, 2**31, "VALID"), ValueError,
     r"`strides` must be at most 2\*\*31 - 1 .* Received: strides=2147483648"),
    ("max_pool ksize 2**40 with SAME", lambda t: nn.max_pool(X4, 2**40, 1, "SAME"), ValueError,
     r"`ksize` must be at most 2\*\*31 - 1"),
    ("avg_pool_grad sizes beyond 2**63 bytes", lambda t: nn.avg_pool_grad(
        (2**20, 2**20, 2**20, 3), np.ones((2, 2, 2, 3)), 2, 2, "VALID"), ValueError,
     r"`input_sizes` would have shape \(1048576, 1048576, 1048576, 3\).* more than can be addressed"),
    ("global_avg_pool_grad sizes beyond 2**63 bytes", lambda t: nn.global_avg_pool_grad(
        (1, 2**31, 2**31, 1), np.ones((1, 1))), ValueError, r"`input_sizes` would have shape"),
    ("conv2d_backprop_input sizes beyond 2**63 bytes", lambda t: nn.conv2d_backprop_input(
        (2**40, 2**20, 5, 3), W4, G4, 1, "VALID"), ValueError, r"`input_sizes` would have shape"),
    # ---- layers ----------------------------------------------------------------------------------------
    ("Dense units 0", lambda t: layers.Dense(0), ValueError, r"`units` must be a positive int. Received: units=0"),
    ("Dense units as a string", lambda t: layers.Dense("2"), TypeError, r"Received: units='2'"),
    ("Dense unknown activation", lambda t: layers.Dense(2, activation="relu7"), ValueError,
     r"Unknown activation: 'relu7'. Valid values are: 'linear', 'relu'"),
    ("Dense unknown initializer", lambda t: layers.Dense(2, kernel_initializer="foo"), ValueError,
     r"Unknown initializer: 'foo'"),
    ("Dense unknown keyword", lambda t: layers.Dense(2, foo=1), TypeError,
     r"Unrecognized keyword arguments passed to Dense: \{'foo': 1\}"),
    ("Dense float16", lambda t: layers.Dense(2, dtype="float16"), ValueError, r"Received: dtype='float16'"),
    ("input_shape with a negative size", lambda t: layers.Dense(2, input_shape=(-1,)), ValueError,
     r"`input_shape` must be a tuple of positive ints. Received: input_shape=\(-1,\)"),
    ("Conv2D kernel_size 0", lambda t: layers.Conv2D(2, 0), ValueError, r"Received: kernel_size=0"),
    ("Conv2D kernel_size of 3 ints", lambda t: layers.Conv2D(2, (3, 3, 3)), ValueError,
     r"Received: kernel_size=\(3, 3, 3\)"),
    ("Conv2D padding 'causal'", lambda t: layers.Conv2D(2, 3, padding="causal"), ValueError,
     r"`padding` must be one of 'valid', 'same'. Received: padding='causal'"),
    ("Conv2D strides beyond 2**31", lambda t: layers.Conv2D(2, 3, strides=2**31), ValueError,
     r"`strides` must be at most 2\*\*31 - 1"),
    ("Conv2D on a 3-D input", lambda t: layers.Conv2D(2, 3)(np.ones((5, 5, 3))), ValueError,
     r"expected ndim=4, found ndim=3. Full shape received: \(None, 5, 3\)"),
    ("Conv2D input smaller than the kernel", lambda t: layers.Conv2D(2, 3)(np.ones((1, 2, 2, 3))), ValueError,
     r"cannot take input shape \(None, 2, 2, 3\): a 3x3 kernel"),
    ("MaxPooling2D pool_size 0", lambda t: layers.MaxPooling2D(0), ValueError, r"Received: pool_size=0"),
    ("Dropout rate 1", lambda t: layers.Dropout(1.0), ValueError, r"`rate` must be a float in \[0, 1\). Received: rate=1.0"),
    ("Dropout rate NaN", lambda t: layers.Dropout(float("nan")), ValueError, r"Received: rate=nan"),
    ("Reshape to a zero size", lambda t: layers.Reshape((0, 2)), ValueError, r"Received: target_shape=\(0, 2\)"),
    # ---- models ------------------------------------------------------------------------------------------
    ("fit before compile", lambda t: models.Sequential([layers.Dense(2, input_shape=(2,))]).fit(*XY), ValueError,
     r"You must call `compile\(\)` before using the model"),
    ("fit batch_size 0", lambda t: _fit(batch_size=0), ValueError, r"`batch_size` must be a positive int. Received: batch_size=0"),
    ("fit batch_size -3", lambda t: _fit(batch_size=-3), ValueError, r"Received: batch_size=-3"),
    ("fit float batch_size", lambda t: _fit(batch_size=2.0), TypeError, r"Received: batch_size=2.0"),
    ("fit negative epochs", lambda t: _fit(epochs=-1), ValueError, r"`epochs` must be an int >= 0. Received: epochs=-1"),
    ("fit labels out of range", lambda t: _fit(y=np.full(8, 3)), ValueError,
     r"Received a label value of 3 which is outside the valid range of \[0, 3\)"),
    ("fit fractional labels", lambda t: _fit(y=np.full(8, 0.5)), ValueError,
     r"`y` must hold integer class labels in \[0, 3\). Received: a label value of"),
    ("fit labels of the wrong shape", lambda t: _fit(y=np.zeros((8, 3), int)), ValueError,
     r"`y` must hold one integer label per example.*Received: y.shape=\(8, 3\)"),
    ("fit string labels", lambda t: _fit(y=np.array(["a"] * 8)), TypeError,
     r"`y` must hold integer class labels. Received: dtype=<U1"),
    ("fit x and y of different lengths", lambda t: _fit(y=np.zeros(7, int)), ValueError,
     r"Received: x.shape\[0\]=8, y.shape\[0\]=7"),
    ("fit complex x", lambda t: _fit(x=np.zeros((8, 2), complex)), TypeError, r"`x` must be a real-valued .* dtype=complex128"),
    ("fit scalar x (was reshaped to (1,))", lambda t: _fit(x=3.0, y=np.zeros(1, int)), ValueError,
     r"`x` must have at least 1 dimensions. Received: x.shape=\(\)"),
    ("fit empty x", lambda t: _fit(x=np.zeros((0, 2)), y=np.zeros(0, int)), ValueError,
     r"`x` has no samples to train on. Received: x.shape=\(0, 2\)"),
    ("fit validation_split 1.5", lambda t: _fit(validation_split=1.5), ValueError,
     r"`validation_split` must be a float in \[0, 1\). Received: validation_split=1.5"),
    ("fit validation_data not a pair", lambda t: _fit(validation_data=XY[0]), ValueError,
     r"`validation_data` must be a tuple \(x_val, y_val\)"),
    ("fit unknown verbose", lambda t: _model().fit(*XY, verbose=3), ValueError,
     r"`verbose` must be 'auto', 0, 1 or 2. Received: verbose=3"),
    ("fit shuffle='batch'", lambda t: _fit(shuffle="batch"), ValueError, r"Received: shuffle='batch'"),
    ("fit callbacks holding a function", lambda t: _fit(callbacks=[print]), TypeError,
     r"`callbacks` must hold pyconv.callbacks.Callback instances"),
    ("fit callbacks as a string", lambda t: _fit(callbacks="history"), TypeError,
     r"`callbacks` must be a list of pyconv.callbacks.Callback instances. Received: callbacks='history'"),
    ("predict on the wrong shape", lambda t: _model().predict(np.zeros((3, 5)), verbose=0), ValueError,
     r"expected shape=\(None, 2\), found shape=\(3, 5\)"),
    ("evaluate with no samples (was 0.0)", lambda t: _model().evaluate(np.zeros((0, 2)), np.zeros(0, int), verbose=0),
     ValueError, r"`x` has no samples to evaluate on. Received: x.shape=\(0, 2\)"),
    ("compile unknown optimizer", lambda t: _model().compile(optimizer="adamm", loss="mse"), ValueError,
     r"Unknown optimizer: 'adamm'"),
    ("compile unknown loss", lambda t: _model().compile(optimizer="adam", loss="crossentropy"), ValueError,
     r"Unknown loss: 'crossentropy'"),
    ("compile unknown metric", lambda t: _model().compile(optimizer="adam", loss="mse", metrics=["acuracy"]),
     ValueError, r"Unknown metric: 'acuracy'"),
    ("compile an int as optimizer", lambda t: _model().compile(optimizer=3, loss="mse"), TypeError,
     r"`optimizer` must be a string .* Received: optimizer=3"),
    ("set_weights of the wrong shape", lambda t: _model().set_weights([np.zeros((2, 2)), np.zeros(3)]), ValueError,
     r"weight \"kernel\" has shape \(2, 3\); received an array of shape \(2, 2\)"),
    ("a model with no layers", lambda t: models.Sequential().predict(XY[0]), ValueError, r"has no layers"),
    # ---- optimizers ------------------------------------------------------------------------------------------------
    ("SGD negative learning rate", lambda t: optimizers.SGD(-0.1), ValueError,
     r"`learning_rate` must be a positive float. Received: learning_rate=-0.1"),
    ("SGD NaN learning rate", lambda t: optimizers.SGD(float("nan")), ValueError, r"Received: learning_rate=nan"),
    ("SGD learning rate as a string", lambda t: optimizers.SGD("fast"), TypeError, r"Received: learning_rate='fast'"),
    ("SGD momentum 1.5", lambda t: optimizers.SGD(0.1, momentum=1.5), ValueError,
     r"`momentum` must be a float in \[0, 1\). Received: momentum=1.5"),
    ("Adam beta_1 = 1", lambda t: optimizers.Adam(beta_1=1.0), ValueError, r"Received: beta_1=1.0"),
    ("Adam epsilon 0", lambda t: optimizers.Adam(epsilon=0), ValueError, r"`epsilon` must be a positive float"),
    ("Adam unknown keyword", lambda t: optimizers.Adam(foo=1), TypeError, r"Adam\(\) got an unsupported argument: foo=1"),
    ("ExponentialDecay decay_steps 0", lambda t: optimizers.ExponentialDecay(0.1, 0, 0.9), ValueError,
     r"`decay_steps` must be a positive int. Received: decay_steps=0"),
    ("apply with fewer gradients (was silently partial)", lambda t: optimizers.SGD(0.1).apply(
        [np.ones(3, np.float32)], [np.ones(3, np.float32), np.ones(2, np.float32)]), ValueError,
     r"SGD.apply: one gradient per parameter.*Received: 1 gradients for 2 parameters"),
    ("apply with a gradient of the wrong shape", lambda t: optimizers.Adam().apply(
        [np.ones(4, np.float32)], [np.ones(3, np.float32)]), ValueError,
     r"Adam.apply: gradient 0 must have the shape of its parameter \(3,\). Received: gradient shape \(4,\)"),
    # ---- losses and metrics -------------------------------------------------------------------------------
    ("loss with mismatched batches (was IndexError)", lambda t: losses.SparseCategoricalCrossentropy()(
        np.array([0, 1]), np.ones((3, 3)) / 3), ValueError,
     r"`y_true` and `y_pred` must hold the same number of examples .* Received: y_true.shape=\(2,\), y_pred.shape=\(3, 3\)"),
    ("loss label out of range", lambda t: losses.SparseCategoricalCrossentropy()(np.array([5]), np.ones((1, 3)) / 3),
     ValueError, r"Received a label value of 5"),
    ("mse of different widths", lambda t: losses.MeanSquaredError()(np.ones((2, 3)), np.ones((2, 4))), ValueError,
     r"`y` must have shape \(batch,\) \+ \(4,\).*Received: y.shape=\(2, 3\)"),
    ("label_smoothing 2", lambda t: losses.CategoricalCrossentropy(label_smoothing=2), ValueError,
     r"Received: label_smoothing=2"),
    ("accuracy with mismatched batches (was a reshape error)", lambda t: metrics.SparseCategoricalAccuracy().update_state(
        np.array([0, 1]), np.ones((3, 3))), ValueError, r"Received: y_true.shape=\(2,\), y_pred.shape=\(3, 3\)"),
    ("set_random_seed -1", lambda t: utils.set_random_seed(-1), ValueError, r"`seed` must be >= 0. Received: seed=-1"),
    ("set_random_seed 1.5", lambda t: utils.set_random_seed(1.5), TypeError, r"Received: seed=1.5"),
    # ---- callbacks ------------------------------------------------------------------------------------------------
    ("EarlyStopping unknown mode", lambda t: callbacks.EarlyStopping(mode="best"), ValueError,
     r"`mode` must be 'auto', 'min' or 'max'. Received: mode='best'"),
    ("EarlyStopping negative patience (was accepted)", lambda t: callbacks.EarlyStopping(patience=-1), ValueError,
     r"`patience` must be an int >= 0. Received: patience=-1"),
    ("EarlyStopping patience as a string (was int() error)", lambda t: callbacks.EarlyStopping(patience="a"),
     TypeError, r"Received: patience='a'"),
    ("EarlyStopping monitor as an int (was AttributeError)", lambda t: callbacks.EarlyStopping(monitor=3), TypeError,
     r"`monitor` must be the name of a log \(a string\). Received: monitor=3"),
    ("ModelCheckpoint save_freq as an int", lambda t: callbacks.ModelCheckpoint("x", save_freq=5), ValueError,
     r"`save_freq` must be 'epoch'. Received: save_freq=5"),
    ("ModelCheckpoint filepath None", lambda t: callbacks.ModelCheckpoint(None), TypeError,
     r"`filepath` must be a path \(str or os.PathLike\). Received: filepath=None"),
    ("ModelCheckpoint into a missing directory", lambda t: _fit(callbacks=[callbacks.ModelCheckpoint(t / "no" / "m")]),
     FileNotFoundError, r"Cannot save to '.*m': the directory '.*no' does not exist"),
    ("ModelCheckpoint field not in the logs", lambda t: _fit(callbacks=[callbacks.ModelCheckpoint(str(t / "{nope}"))]),
     KeyError, r"Failed to format this callback filepath.*nope.* is not in the logs"),
    ("LearningRateScheduler not callable", lambda t: callbacks.LearningRateScheduler(3), TypeError,
     r"`schedule` must be callable. Received: schedule=3"),
    ("LearningRateScheduler returning a string", lambda t: _fit(
        callbacks=[callbacks.LearningRateScheduler(lambda e: "x")]), ValueError,
     r"The output of the \"schedule\" function should be a float. Got: 'x'"),
    ("LearningRateScheduler returning -1", lambda t: _fit(
        callbacks=[callbacks.LearningRateScheduler(lambda e: -1.0)]), ValueError, r"Received: learning_rate=-1.0"),
    ("LambdaCallback unknown hook", lambda t: callbacks.LambdaCallback(on_foo=print), ValueError,
     r"Unknown callback hook 'on_foo'"),
    # ---- files ---------------------------------------------------------------------------------------------------
    ("load_model of a missing file", lambda t: models.load_model(t / "missing"), FileNotFoundError,
     r"No such file: '.*missing'"),
    ("load_model of a directory", lambda t: models.load_model(t), IsADirectoryError,
     r"Cannot load '.*': it is a directory, not a pyconv file"),
    ("load_model of an int path", lambda t: models.load_model(3), TypeError,
     r"`filepath` must be a path \(str or os.PathLike\). Received: filepath=3"),
    ("load_model of an empty file", lambda t: _save_junk(t / "empty", b""), ValueError,
     r"Cannot load '.*empty': the file is truncated or corrupted"),
    ("load_model of a .npy (was a TypeError from `with`)", lambda t: (np.save(t / "a.npy", np.ones(3)),
                                                                      models.load_model(t / "a.npy")),
     ValueError, r"Cannot load '.*a.npy': not a pyconv file \(a single .npy array, not an archive\)"),
    ("load_model of an .npz holding a pickle", lambda t: (np.savez(t / "p.npz", header=np.array([{"a": 1}], object)),
                                                          models.load_model(t / "p.npz")),
     ValueError, r"Cannot load '.*p.npz': the file is truncated or corrupted \(ValueError: Object arrays cannot be loaded"),
    ("save onto a directory", lambda t: _model().save(t), IsADirectoryError, r"Cannot save to '.*': it is a directory"),
    ("save_weights into a missing directory", lambda t: _model().save_weights(t / "no" / "w"), FileNotFoundError,
     r"the directory '.*no' does not exist"),
    ("load_weights of another architecture", lambda t: (_model().save_weights(t / "w"),
                                                       models.Sequential([layers.Dense(4, input_shape=(2,))]).load_weights(t / "w")),
     ValueError, r"Cannot load '.*w' into model .*: weight dense_\d+/kernel has shape \(2, 4\) but the file's"),
    # ---- datasets -------------------------------------------------------------------------------------------------
    ("fashion_mnist from an empty directory", lambda t: fashion_mnist.load_data(path=str(t)), Exception,
     r"Fashion-MNIST in .* is incomplete: it lacks train-images-idx3-ubyte.gz"),
    ("read_idx of a file that is not IDX", lambda t: (t.joinpath("x.idx").write_bytes(b"\x08\x08\x08\x08"),
                                                      read_idx(t / "x.idx")),
     ValueError, r"not an IDX file: its magic number must start with two zero bytes"),
    ("read_idx of a truncated file", lambda t: (write_idx(t / "y.idx", np.zeros((4, 3), np.uint8)),
                                                t.joinpath("y.idx").write_bytes(t.joinpath("y.idx").read_bytes()[:-5]),
                                                read_idx(t / "y.idx")),
     ValueError, r"truncated|holds"),
    ("write_idx of complex data", lambda t: write_idx(t / "c.idx", np.ones(3, complex)), TypeError,
     r"`array` must have dtype uint8, int8, int16, int32, float32 or float64"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_wrong_use_is_a_clear_error(tmp_path, call, exc, match):
    with pytest.raises(exc, match=match):
        call(tmp_path)


def test_the_catalogue_is_large_and_its_messages_say_what_was_received():
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)


# ---- valid input that looks odd: the right answer ------------------------------------------------

def _check(actual, expected, tol=1e-5):
    reference.assert_close(actual, expected, rtol=tol, atol=tol)


def test_non_contiguous_and_negative_stride_views_give_the_right_answer():
    rng = np.random.default_rng(0)
    big = rng.standard_normal((3, 14, 12, 6))
    x = big[::-1, 1::2, ::-1, ::2]            # every axis strided, two reversed, float64
    w = rng.standard_normal((3, 3, 6, 4))[::-1].transpose(0, 1, 2, 3)[:, :, ::2]
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    _check(nn.conv2d(x, w, padding="SAME"), reference.conv2d(x, w, padding="same"))
    xf = np.asfortranarray(x.astype(np.float32))
    _check(nn.max_pool(xf, 2, 2, "VALID"), ref_pool.max_pool(xf, 2, 2, 2, 2, ((0, 0), (0, 0))))
    _check(nn.avg_pool(x[:, ::-1], 3, 1, "VALID"), ref_pool.avg_pool(x[:, ::-1], 3, 3, 1, 1, ((0, 0), (0, 0))))
    _check(nn.global_max_pool(x), ref_pool.global_max_pool(x))
    a, k = rng.standard_normal((5, 8))[:, ::-2], rng.standard_normal((6, 4)).T
    _check(nn.dense(a, k), reference.dense(a, k))
    z = rng.standard_normal((4, 10))[::-1, ::3]
    _check(nn.softmax(z), reference.softmax(z))
    labels = np.array([0, 3, 1, 2, 3, 1])[::-2]   # negative stride, int64
    _check(nn.sparse_softmax_cross_entropy_with_logits(labels, z[:3]), reference.sparse_xent(labels, z[:3])[0])
    g = rng.standard_normal((3, 7, 24, 4))[:, :, ::-2]
    dx, dw = reference.conv2d_grads(x, w, g, padding="same")
    _check(nn.conv2d_backprop_input(x.shape, w, g, 1, "SAME"), dx, 1e-4)
    _check(nn.conv2d_backprop_filter(x, w.shape, g, 1, "SAME"), dw, 1e-4)
    # views as inputs are never written to
    before = big.copy()
    nn.relu(x), nn.conv2d(x, w)
    assert np.array_equal(big, before)


def test_integer_and_bool_inputs_are_converted():
    x = np.arange(25, dtype=np.int64).reshape(1, 5, 5, 1)
    _check(nn.conv2d(x, np.ones((2, 2, 1, 1), bool)), reference.conv2d(x, np.ones((2, 2, 1, 1))))
    np.testing.assert_array_equal(nn.max_pool(x.astype(np.uint8), 5, 1, "VALID"), [[[[24]]]])


def test_empty_batches_and_channels_give_empty_results():
    assert nn.conv2d(np.ones((0, 5, 5, 3)), W4).shape == (0, 3, 3, 4)
    assert nn.max_pool(np.ones((0, 4, 4, 1)), 2, 2, "SAME").shape == (0, 2, 2, 1)
    assert nn.max_pool(np.ones((1, 4, 4, 0)), 2, 2, "SAME").shape == (1, 2, 2, 0)
    assert nn.relu(np.ones(0)).shape == (0,)
    assert nn.dense(np.ones((0, 3)), np.ones((3, 2))).shape == (0, 2)
    assert _model().predict(np.zeros((0, 2)), verbose=0).shape == (0, 3)


def test_zero_d_inputs_stay_zero_d():
    assert nn.relu(-3.0).shape == () and float(nn.relu(3.0)) == 3.0  # was reshaped to (1,)
    assert nn.sigmoid(np.float64(0.0)).shape == ()


def test_windows_larger_than_the_input_are_fine_with_same_padding():
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)
    np.testing.assert_array_equal(nn.max_pool(x, 7, 1, "SAME")[0, :, :, 0], [[5, 5, 5], [5, 5, 5]])
    _check(nn.conv2d(x, np.ones((5, 5, 1, 1)), padding="SAME"),
           reference.conv2d(x, np.ones((5, 5, 1, 1)), padding="same"))


def test_huge_strides_within_the_limit_are_handled():
    """A stride of 2**31 - 1 (the largest allowed) is no overflow: the output is 1 x 1."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 5, 5, 2)), rng.standard_normal((3, 3, 2, 2))
    big = 2**31 - 1   # the same single window as stride 5
    _check(nn.conv2d(x, w, strides=big), reference.conv2d(x, w, strides=(5, 5)))
    _check(nn.max_pool(x, 2, big, "SAME"), ref_pool.max_pool(x, 2, 2, 5, 5, ((0, 0), (0, 0))))


def test_an_allocation_that_fails_is_a_memory_error():
    """Sizes that can be addressed but not allocated: MemoryError, the interpreter lives on."""
    with pytest.raises(MemoryError):
        nn.conv2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 1)),
                  padding=[[0, 0], [2**31 - 1, 2**31 - 1], [2**20, 2**20], [0, 0]])
    with pytest.raises(MemoryError):
        nn.global_avg_pool_grad((2**20, 2**20, 2**10, 1), np.ones((2**20, 1)))


# ---- NaN and inf: IEEE propagation (docs/robustness.md) ---------------------------------------

def test_nan_and_inf_propagate_as_ieee_says():
    nan, inf = np.nan, np.inf
    # elementwise: NaN stays NaN; +-inf go where the function's limit is
    np.testing.assert_array_equal(nn.relu(np.array([nan, -inf, inf, -1.0])), [nan, 0, inf, 0])
    np.testing.assert_array_equal(nn.sigmoid(np.array([nan, -inf, inf])), [nan, 0, 1])
    np.testing.assert_array_equal(nn.tanh(np.array([nan, -inf, inf])), [nan, -1, 1])
    # a NaN anywhere in a row makes the row's softmax and its cross-entropy NaN
    sm = nn.softmax(np.array([[nan, 1.0, 2.0], [1.0, 2.0, 3.0]]))
    assert np.isnan(sm[0]).all() and np.isfinite(sm[1]).all()
    loss = nn.sparse_softmax_cross_entropy_with_logits(np.array([1, 1]), np.array([[1.0, nan], [1.0, 2.0]]))
    assert np.isnan(loss[0]) and np.isfinite(loss[1])
    # conv and dense: a NaN input reaches exactly the outputs whose windows read it
    x = np.zeros((1, 4, 4, 1))
    x[0, 0, 0, 0] = nan
    y = nn.conv2d(x, np.ones((2, 2, 1, 1)))[0, :, :, 0]
    assert np.isnan(y[0, 0]) and np.isfinite(y.ravel()[1:]).all()
    assert np.isnan(nn.dense(np.array([[nan, 0.0]]), np.ones((2, 3)))).all()
    # inf * 0 is NaN, inf + finite is inf
    assert np.isnan(nn.dense(np.array([[inf]]), np.zeros((1, 1))))[0, 0]
    assert nn.dense(np.array([[inf, 1.0]]), np.ones((2, 1)))[0, 0] == inf


@pytest.mark.parametrize("where", [0, 1, 3])
def test_max_pooling_propagates_nan_wherever_it_is(where):
    """A window holding a NaN gives NaN (as np.max), whatever its position -- it used to be
    dropped unless first -- and the gradient goes to the window's first NaN (as np.argmax)."""
    v = np.array([1.0, 5.0, 2.0, 3.0])
    v[where] = np.nan
    x = v.reshape(1, 2, 2, 1)
    assert np.isnan(nn.max_pool(x, 2, 2, "VALID")).all()
    assert np.isnan(nn.global_max_pool(x)).all()
    assert np.isnan(nn.max_pool(v.reshape(1, 1, 1, 4), (1, 1, 1, 4), (1, 1, 1, 4), "VALID")).all()
    g = np.zeros(4)
    g[where] = 1.0
    np.testing.assert_array_equal(nn.max_pool_grad(x, np.ones((1, 1, 1, 1)), 2, 2, "VALID").ravel(), g)
    np.testing.assert_array_equal(nn.global_max_pool_grad(x, np.ones((1, 1))).ravel(), g)
    np.testing.assert_array_equal(
        nn.max_pool_grad(v.reshape(1, 1, 1, 4), np.ones((1, 1, 1, 1)), (1, 1, 1, 4), (1, 1, 1, 4), "VALID").ravel(), g)
    # and the fast kernels agree with the float64 reference on random data with NaNs sprinkled in
    rng = np.random.default_rng(where)
    x = rng.standard_normal((2, 7, 6, 5))
    x[rng.random(x.shape) < 0.05] = np.nan
    ours = nn.max_pool(x, 3, 2, "SAME")
    ref = ref_pool.max_pool(x, 3, 3, 2, 2, (ref_pool.same_pads(7, 3, 2)[1], ref_pool.same_pads(6, 3, 2)[1]))
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_array_equal(ours[~np.isnan(ours)], ref[~np.isnan(ref)].astype(np.float32))


def test_values_beyond_float32_become_inf():
    with pytest.warns(RuntimeWarning, match="overflow"):
        y = nn.relu(np.array([1e300, -1e300]))
    np.testing.assert_array_equal(y, [np.inf, 0])

