"""Images: keras.utils's load_img, img_to_array, array_to_img, save_img and
image_dataset_from_directory, published as pyconv.utils's names.

Files are decoded by Pillow (the optional `[image]` extra: pip install "pyconv[image]"),
imported only inside these functions. `load_img` resizes with Pillow, as Keras's does.
`image_dataset_from_directory` resizes as Keras's does with TensorFlow (`tf.image.resize`:
half-pixel centres, no antialiasing), by the NumPy functions below, so that its images match
Keras's to float32 rounding.

What image_dataset_from_directory promises: the files Keras would find, in Keras's order, with
Keras's labels, and the same split into training and validation for the same seed; batches of
float32 NHWC images and labels as Keras yields them, from a `PyDataset` that `fit` takes; one
ValueError naming the file for an image Pillow cannot read.
"""
import collections
import io
import numbers
import os
import sys
import warnings

import numpy as np

from .. import _validate, utils
from ..models.data_adapters import PyDataset

__all__ = ["load_img", "img_to_array", "array_to_img", "save_img",
           "image_dataset_from_directory", "ImageDataset"]

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # Keras's list
_COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}
_PIL_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")
_RESIZE_INTERPOLATIONS = ("bilinear", "nearest")
# Keras's list for image_dataset_from_directory; those not in _RESIZE_INTERPOLATIONS are refused.
_KERAS_RESIZE_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3",
                                "lanczos5", "gaussian", "mitchellcubic")


def _pil():
    """PIL.Image, or an ImportError saying how to install it."""
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError('pyconv\'s image functions need Pillow, which is not installed. '
                          'Install it with: pip install "pyconv[image]" (or pip install '
                          'Pillow).') from e
    return Image


def _color_mode(color_mode):
    if not isinstance(color_mode, str) or color_mode not in _COLOR_MODES:
        raise ValueError(f'`color_mode` must be one of "grayscale", "rgb", "rgba". '
                         f"Received: color_mode={color_mode!r}.")
    return _COLOR_MODES[color_mode]


def _data_format(data_format, allowed=("channels_last", "channels_first")):
    if data_format is None:
        return "channels_last"
    if data_format not in allowed:
        raise ValueError(f"`data_format` must be {' or '.join(repr(a) for a in allowed)} (or "
                         f"None: 'channels_last'). Received: data_format={data_format!r}.")
    return data_format


def _size_pair(v, name, square=False):
    """(height, width) from a pair of positive ints (or, when `square`, one int)."""
    if square and _validate.is_int(v):
        v = (v, v)
    if (not isinstance(v, (tuple, list)) or len(v) != 2
            or not all(_validate.is_int(e) and e > 0 for e in v)):
        raise ValueError(f"`{name}` must be (height, width), two positive ints. "
                         f"Received: {name}={v!r}.")
    return int(v[0]), int(v[1])


# ---- one image --------------------------------------------------------------------------------


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Load an image file into a PIL Image (needs Pillow: pip install "pyconv[image]").

    Args:
        path: a path (str, bytes or os.PathLike) or a binary file object (io.BytesIO, an open
            file). A path is read whole and closed before decoding.
        color_mode: "grayscale", "rgb" or "rgba": the mode to convert to ("L", "RGB", "RGBA";
            a 16- or 32-bit grayscale image stays as it is for "grayscale", as in Keras).
        target_size: None (the image's own size) or (height, width) to resize to.
        interpolation: Pillow's resampling filter for the resize: "nearest", "bilinear",
            "bicubic", "hamming", "box" or "lanczos".
        keep_aspect_ratio: resize the largest centred crop that has the target's aspect ratio,
            instead of the whole image.

    Returns:
        A PIL Image instance.

    Raises:
        ImportError: Pillow is not installed.
        TypeError: `path` is neither a path nor a binary file object.
        ValueError: `color_mode`, `target_size` or `interpolation` is invalid; the file is not
            an image Pillow can read (the message names it).
        FileNotFoundError: the file does not exist.

    Example:

    >>> import io
    >>> buf = io.BytesIO()
    >>> save_img(buf, np.zeros((2, 3, 3)), file_format="png")
    >>> load_img(buf, target_size=(4, 6)).size   # (width, height), as PIL gives it
    (6, 4)
    """
    Image = _pil()
    n_channels = _color_mode(color_mode)
    if target_size is not None:
        target_size = _size_pair(target_size, "target_size")
    if interpolation not in _PIL_INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of "
                         f"{', '.join(repr(i) for i in _PIL_INTERPOLATIONS)}. "
                         f"Received: interpolation={interpolation!r}.")
    img = _convert(_open(path, Image), n_channels)
    if target_size is not None:
        width_height = (target_size[1], target_size[0])
        if img.size != width_height:
            filters = getattr(Image, "Resampling", Image)  # Pillow < 9.1: names on Image
            resample = getattr(filters, interpolation.upper())
            box = None
            if keep_aspect_ratio:  # Keras's crop box: integer arithmetic, centred
                width, height = img.size
                crop_height = min(height, (width * target_size[0]) // target_size[1])
                crop_width = min(width, (height * target_size[1]) // target_size[0])
                top, left = (height - crop_height) // 2, (width - crop_width) // 2
                box = (left, top, left + crop_width, top + crop_height)
            img = img.resize(width_height, resample, box=box)
    return img


def _open(path, Image, gray_draft=False):
    """The decoded PIL Image of `path` (a path or a binary file object).

    With `gray_draft`, a JPEG is decoded straight to grayscale (its luma channel), as
    TensorFlow's decoder does for one channel, rather than decoded to RGB and converted.
    """
    if isinstance(path, (str, bytes, os.PathLike)):
        name = os.fsdecode(path)
        with open(path, "rb") as f:  # FileNotFoundError and the like pass unchanged
            fileobj = io.BytesIO(f.read())
    elif hasattr(path, "read"):
        name, fileobj = str(getattr(path, "name", type(path).__name__)), path
    else:
        raise TypeError(f"`path` must be a path (str, bytes or os.PathLike) or a binary file "
                        f"object. Received: path of type {type(path).__name__}.")
    try:
        img = Image.open(fileobj)
        if gray_draft and img.format == "JPEG":
            img.draft("L", img.size)
        img.load()  # decode now: a damaged file fails here, with its name
    except (Image.UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError,
            SyntaxError, EOFError) as e:
        raise ValueError(f"Cannot read image '{name}': {e}") from None
    return img


def _convert(img, n_channels):
    """`img` in mode L (16- and 32-bit grayscale kept, as in Keras), RGB or RGBA."""
    if n_channels == 1:
        return img if img.mode in ("L", "I;16", "I") else img.convert("L")
    mode = "RGB" if n_channels == 3 else "RGBA"
    return img if img.mode == mode else img.convert(mode)


def img_to_array(img, data_format=None, dtype=None):
    """Convert a PIL Image (or an array) to a 3-D NumPy array.

    Args:
        img: a PIL Image, or anything `np.asarray` takes, of 2 (one channel) or 3 dimensions.
        data_format: "channels_last" (height, width, channels), the default, or
            "channels_first".
        dtype: the array's dtype; None: float32.

    Returns:
        A 3-D array; a one-channel image gets its channel axis.

    Raises:
        ValueError: the image does not have 2 or 3 dimensions; `data_format` is invalid.

    Example:

    >>> img_to_array(np.zeros((2, 3), np.uint8)).shape
    (2, 3, 1)
    """
    data_format = _data_format(data_format)
    x = np.asarray(img, dtype=np.float32 if dtype is None else dtype)
    if x.ndim == 2:
        x = x[None] if data_format == "channels_first" else x[..., None]
    elif x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    else:
        raise ValueError(f"`img` must be an image of 2 or 3 dimensions. Received: an array of "
                         f"shape {x.shape}.")
    return x


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """Convert a 3-D array to a PIL Image (needs Pillow: pip install "pyconv[image]").

    Args:
        x: an array of shape (height, width, channels) (or (channels, height, width) with
            data_format="channels_first") with 1, 3 or 4 channels: a grayscale, RGB or RGBA
            image.
        data_format: "channels_last" (the default) or "channels_first".
        scale: shift and scale the values so that the smallest is 0 and the largest 255 (a
            constant image gives 0). Values become uint8 by truncation, as in Keras.
        dtype: the dtype `x` is converted to first; None: float32.

    Returns:
        A PIL Image: mode "L", "RGB" or "RGBA"; mode "I" (32-bit) for one channel with
        values above 255 when `scale` is False, as in Keras.

    Raises:
        ImportError: Pillow is not installed.
        ValueError: `x` is not 3-D, its channel count is not 1, 3 or 4, it holds NaN or
            infinity, or (with scale=False) values that the image mode cannot hold: below 0,
            or above 255 for 3 or 4 channels. (Keras wraps such values around silently.)

    Example:

    >>> array_to_img(np.array([[[0.0], [0.5]], [[1.0], [0.25]]])).getpixel((1, 0))
    127
    """
    Image = _pil()
    data_format = _data_format(data_format)
    x = np.array(x, dtype=np.float32 if dtype is None else dtype)  # a copy: scaled in place
    if x.ndim != 3:
        raise ValueError(f"`x` must be a single image of rank 3. Received: x.shape={x.shape}.")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    channels = x.shape[2]
    if channels not in (1, 3, 4):
        raise ValueError(f"`x` must have 1, 3 or 4 channels (grayscale, RGB, RGBA). Received: "
                         f"{channels} channels, x.shape={x.shape}.")
    if x.size and not np.isfinite(x).all():
        raise ValueError("`x` holds NaN or infinity: it cannot be made an image.")
    if scale and x.size:
        x = x - x.min()
        top = x.max()
        if top != 0:
            x /= top
        x *= 255
    if channels == 1 and x.size and x.max() > 255:
        if x.min() <= -2.0 ** 31 or x.max() >= 2.0 ** 31:
            raise ValueError(f"`x` holds values outside the 32-bit range of a mode 'I' image. "
                             f"Received: values from {x.min()} to {x.max()}.")
        return Image.fromarray(x[:, :, 0].astype(np.int32), "I")
    if x.size and (x.min() < 0 or x.max() >= 256):
        raise ValueError(f"`x` holds values outside [0, 255], which an 8-bit image cannot hold "
                         f"(pass scale=True, or clip them). Received: values from {x.min()} to "
                         f"{x.max()}.")
    x = x.astype(np.uint8)
    if channels == 1:
        return Image.fromarray(x[:, :, 0], "L")
    return Image.fromarray(x, "RGB" if channels == 3 else "RGBA")


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save an array as an image file (needs Pillow: pip install "pyconv[image]").

    Args:
        path: a path (str or os.PathLike) or a binary file object.
        x: the image array, as `array_to_img` takes it.
        data_format: "channels_last" (the default) or "channels_first".
        file_format: the format ("png", "jpeg", "bmp", ...); None: from the path's extension
            (required for a file object).
        scale: as in `array_to_img`.
        **kwargs: passed to `PIL.Image.Image.save` (quality=..., ...).

    An RGBA image saved as JPEG (which has no alpha) is converted to RGB, with a warning, as
    in Keras.

    Raises:
        ImportError: Pillow is not installed.
        ValueError: no format is given and the path has no known extension; the format is
            unknown to Pillow; `x` cannot be made an image (see `array_to_img`).
    """
    Image = _pil()
    Image.init()
    if file_format is None:
        if not isinstance(path, (str, os.PathLike)):
            raise ValueError("`file_format` must be given when `path` is a file object. "
                             f"Received: path of type {type(path).__name__}.")
        ext = os.path.splitext(os.fspath(path))[1].lower()
        fmt = Image.registered_extensions().get(ext)
        if fmt is None:
            raise ValueError(f"The format cannot be told from the extension {ext or '(none)'!r} "
                             f"of `path`: pass file_format='png', 'jpeg', ... "
                             f"Received: path={os.fspath(path)!r}.")
    else:
        fmt = str(file_format).upper()
        fmt = "JPEG" if fmt == "JPG" else fmt
        if fmt not in Image.SAVE:
            raise ValueError(f"`file_format` must be a format Pillow can write (such as 'png', "
                             f"'jpeg', 'bmp'). Received: file_format={file_format!r}.")
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and fmt == "JPEG":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.",
                      stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=fmt, **kwargs)


# ---- resizing as tf.image.resize does (half-pixel centres, no antialiasing) ------------------


def _scale(in_size, out_size):
    return np.float32(in_size) / np.float32(out_size)


def _nearest_index(in_size, out_size):
    """Source index of each output index: min(floor((i + 0.5) * scale), in - 1), in float32
    (TensorFlow's resize_nearest_neighbor with half_pixel_centers)."""
    pos = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * _scale(in_size, out_size)
    return np.minimum(np.floor(pos).astype(np.intp), in_size - 1)


def _linear_weights(in_size, out_size):
    """(lower, upper, fraction) for each output index, in float32 as TensorFlow's
    resize_bilinear computes them: pos = (i + 0.5) * scale - 0.5."""
    pos = ((np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * _scale(in_size, out_size)
           - np.float32(0.5))
    floor = np.floor(pos)
    lower = np.maximum(floor.astype(np.intp), 0)
    upper = np.minimum(np.ceil(pos).astype(np.intp), in_size - 1)
    return lower, upper, (pos - floor).astype(np.float32)


def resize(img, size, interpolation="bilinear"):
    """(H, W, C) float32 -> (height, width, C) float32, as tf.image.resize does.

    Bilinear interpolates along the width first, then along the height, each as
    `a + (b - a) * t` in float32: TensorFlow's order of operations.
    """
    h, w = size
    if interpolation == "nearest":
        return img[_nearest_index(img.shape[0], h)][:, _nearest_index(img.shape[1], w)]
    lo, hi, t = _linear_weights(img.shape[1], w)
    rows = img[:, lo] + (img[:, hi] - img[:, lo]) * t[None, :, None]
    lo, hi, t = _linear_weights(img.shape[0], h)
    return rows[lo] + (rows[hi] - rows[lo]) * t[:, None, None]


def _crop_to_aspect_ratio(img, size):
    """The largest centred crop of `img` with the aspect ratio of `size` (Keras's smart_resize,
    in the float32 arithmetic its TensorFlow path uses)."""
    height, width = img.shape[:2]
    th, tw = size
    f32 = np.float32
    crop_h = max(min(height, int(f32(width * th) / f32(tw))), 1)
    crop_w = max(min(width, int(f32(height * tw) / f32(th))), 1)
    top, left = int(f32(height - crop_h) / f32(2)), int(f32(width - crop_w) / f32(2))
    return img[top:top + crop_h, left:left + crop_w]


def _resize_with_pad(img, size, interpolation):
    """Resize keeping the aspect ratio, then pad with zeros to `size`, centred
    (tf.image.resize_with_pad, in its float32 arithmetic)."""
    height, width = (np.float32(d) for d in img.shape[:2])
    th, tw = (np.float32(d) for d in size)
    ratio = max(width / tw, height / th)
    rh, rw = height / ratio, width / ratio
    new_h, new_w = max(int(np.floor(rh)), 1), max(int(np.floor(rw)), 1)
    top = max(0, int(np.floor((th - rh) / np.float32(2))))
    left = max(0, int(np.floor((tw - rw) / np.float32(2))))
    out = np.zeros(tuple(size) + img.shape[2:], np.float32)
    out[top:top + new_h, left:left + new_w] = resize(img, (new_h, new_w), interpolation)
    return out


# ---- a directory of images ---------------------------------------------------------------------


# How each file becomes an image: channels (1, 3, 4), (height, width), "bilinear" or "nearest",
# and the aspect-ratio handling (crop, pad, or neither: distort).
ImageSpec = collections.namedtuple(
    "ImageSpec", "num_channels image_size interpolation crop_to_aspect_ratio pad_to_aspect_ratio")


def _load_image(path, spec):
    """The file at `path` as a float32 (height, width, channels) image, resized as Keras's
    TensorFlow path does."""
    pil = _open(path, _pil(), gray_draft=spec.num_channels == 1)
    img = np.asarray(_convert(pil, spec.num_channels), dtype=np.float32)
    if img.ndim == 2:
        img = img[..., None]
    if spec.pad_to_aspect_ratio:
        return _resize_with_pad(img, spec.image_size, spec.interpolation)
    if spec.crop_to_aspect_ratio:
        img = _crop_to_aspect_ratio(img, spec.image_size)
    return resize(img, spec.image_size, spec.interpolation)


class ImageDataset(PyDataset):
    """The image files of a directory, in batches: what `image_dataset_from_directory` returns.

    Batch `i` is `(images, labels)`, or `images` alone when there are no labels: images
    float32 (batch, height, width, channels); labels int32 (batch,) for label_mode="int",
    float32 (batch, num_classes) one-hot for "categorical", float32 (batch, 1) for "binary".
    With `batch_size=None` an item is one image (and its label), without the batch axis.
    Files are read when their batch is asked for. With `shuffle`, the order of the files is
    drawn anew for each epoch (`on_epoch_end`), from a generator seeded by `seed`.

    Attributes:
        class_names: the class names, label 0 first (None without labels).
        file_paths: the image files, in the order they were found (shuffled with `seed` when
            `shuffle`), as in Keras.
    """

    def __init__(self, file_paths, labels, label_mode, class_names, spec, batch_size,
                 shuffle, seed):
        super().__init__()
        self.file_paths = list(file_paths)
        self.class_names = class_names
        self._labels = None if labels is None else np.asarray(labels, np.int64)
        self._label_mode = label_mode
        self._spec = spec
        self._batch_size = batch_size
        self._rng = np.random.default_rng(seed) if shuffle else None
        n = len(self.file_paths)
        self._order = self._rng.permutation(n) if shuffle else np.arange(n)

    def __len__(self):
        n = len(self.file_paths)
        return n if self._batch_size is None else -(-n // self._batch_size)

    def __getitem__(self, index):
        if not _validate.is_int(index) or not 0 <= index < len(self):
            raise IndexError(f"Batch index {index!r} out of range: the dataset has {len(self)} "
                             f"batches.")
        if self._batch_size is None:
            x, y = self._batch(self._order[index:index + 1])
            return x[0] if y is None else (x[0], y[0])
        lo = index * self._batch_size
        x, y = self._batch(self._order[lo:lo + self._batch_size])
        return x if y is None else (x, y)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def on_epoch_end(self):
        if self._rng is not None:
            self._order = self._rng.permutation(len(self.file_paths))

    def _batch(self, idx):
        h, w = self._spec.image_size
        x = np.empty((len(idx), h, w, self._spec.num_channels), np.float32)
        for j, i in enumerate(idx):
            x[j] = _load_image(self.file_paths[i], self._spec)
        if self._label_mode is None:
            return x, None
        labels = self._labels[idx]
        if self._label_mode == "int":
            return x, labels.astype(np.int32)
        if self._label_mode == "binary":
            return x, labels.astype(np.float32)[:, None]
        y = np.zeros((len(idx), len(self.class_names)), np.float32)
        y[np.arange(len(idx)), labels] = 1.0
        return x, y


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, verbose=True):
    """The image files of a directory as a dataset of (images, labels) batches, as Keras makes it.

    With `labels="inferred"`, each sub-directory is a class (alphanumeric order, hidden ones
    skipped), and its images, at any depth, have that label:

        main_directory/
            class_a/  a_image_1.jpg  a_image_2.jpg
            class_b/  b_image_1.jpg  b_image_2.jpg

    gives labels 0 (class_a) and 1 (class_b). Files are found as Keras finds them (.bmp, .gif,
    .jpeg, .jpg, .png, any case; directories walked in sorted order, file names sorted), and
    the same seed gives the same shuffled order and the same training/validation split as in
    Keras. Animated GIFs give their first frame. Needs Pillow: pip install "pyconv[image]".

    Keras returns a `tf.data.Dataset`; pyconv returns an `ImageDataset`, a `PyDataset` that
    `fit`, `evaluate` and `predict` take, with Keras's `.class_names` and `.file_paths`.

    Args:
        directory: the directory of the images.
        labels: "inferred" (from the sub-directories), None (no labels), or a list/tuple of
            int labels, one per image file found, in the alphanumeric order of the files'
            paths (the whole directory is then indexed, hidden sub-directories included).
        label_mode: "int" (int32 labels, for sparse_categorical_crossentropy), "categorical"
            (float32 one-hot), "binary" (float32 (batch, 1), exactly 2 classes), or None (no
            labels).
        class_names: with labels="inferred", the sub-directories to use, in the order that
            gives their labels (default: all, in alphanumeric order).
        color_mode: "grayscale", "rgb" or "rgba": 1, 3 or 4 channels.
        batch_size: images per batch (the last batch may be smaller), or None for single
            images.
        image_size: (height, width) to resize every image to, or an int for a square.
        shuffle: shuffle the files (True by default); False gives alphanumeric order. The
            order is drawn anew each epoch.
        seed: the shuffle's seed, an int >= 0 (required with `validation_split` and
            `shuffle`); None: drawn from pyconv's generator.
        validation_split: the fraction (0 < f < 1) of the files kept for validation: the last
            int(f * n) of them, after the shuffle.
        subset: "training", "validation" or "both" (a list [training, validation]); only
            with `validation_split`.
        interpolation: "bilinear" or "nearest", computed as tf.image.resize computes them.
            (Keras also takes "bicubic", "area", "lanczos3", "lanczos5", "gaussian",
            "mitchellcubic"; pyconv refuses them.)
        follow_links: also walk sub-directories that are symbolic links.
        crop_to_aspect_ratio: resize the largest centred crop with the aspect ratio of
            `image_size` instead of distorting the image.
        pad_to_aspect_ratio: resize keeping the aspect ratio, then pad with zeros to
            `image_size`.
        data_format: None or "channels_last" (pyconv is NHWC; "channels_first" is refused).
        verbose: print how many files and classes were found, as Keras does.

    Returns:
        An `ImageDataset`, or a list of two for subset="both" (the validation one unshuffled).

    Raises:
        ImportError: Pillow is not installed.
        FileNotFoundError: `directory` does not exist.
        ValueError: an argument is invalid (the message names it); `class_names` are not
            sub-directories; there are as many `labels` as files; label_mode="binary" without
            exactly 2 classes; no images are found; an image cannot be read (when its batch is
            loaded; the message names the file).
    """
    _pil()
    explicit = isinstance(labels, (list, tuple))
    if not explicit and labels is not None and not (isinstance(labels, str)
                                                    and labels == "inferred"):
        raise ValueError(f'`labels` must be "inferred", None, or a list/tuple of int labels, '
                         f"one per image file. Received: labels={labels!r}.")
    if explicit and class_names:
        raise ValueError(f'`class_names` can only be given with labels="inferred". '
                         f"Received: labels={labels!r}, class_names={class_names!r}.")
    if label_mode not in ("int", "categorical", "binary", None):
        raise ValueError(f'`label_mode` must be one of "int", "categorical", "binary", None. '
                         f"Received: label_mode={label_mode!r}.")
    if labels is None or label_mode is None:
        labels = label_mode = None
    num_channels = _color_mode(color_mode)
    if batch_size is not None:
        batch_size = _validate.positive_int(batch_size, "batch_size")
    image_size = _size_pair(image_size, "image_size", square=True)
    if not isinstance(interpolation, str) or \
            interpolation.lower() not in _KERAS_RESIZE_INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of "
                         f"{', '.join(repr(i) for i in _RESIZE_INTERPOLATIONS)}. "
                         f"Received: interpolation={interpolation!r}.")
    interpolation = interpolation.lower()
    if interpolation not in _RESIZE_INTERPOLATIONS:
        raise ValueError(f"`interpolation` must be one of "
                         f"{', '.join(repr(i) for i in _RESIZE_INTERPOLATIONS)}: pyconv "
                         f"resizes as tf.image.resize does for these two only. "
                         f"Received: interpolation={interpolation!r}.")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be "
                         "True. Received: both True.")
    _data_format(data_format, allowed=("channels_last",))
    _check_split(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = int(utils.get_rng().integers(0, 10**6))  # Keras: np.random.randint(1e6)
    seed = _validate.non_negative_int(seed, "seed")

    paths, labels, class_names = _index_directory(directory, labels, class_names, shuffle,
                                                  seed, follow_links, verbose)
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f'label_mode="binary" needs exactly 2 classes. Received: '
                         f"class_names={class_names!r}.")
    if label_mode == "categorical" and labels is not None and len(labels):
        top = int(np.max(labels))
        if top >= len(class_names) or int(np.min(labels)) < 0:
            raise ValueError(f'label_mode="categorical" needs labels from 0 to '
                             f"{len(class_names) - 1} (one per class in {class_names!r}). "
                             f"Received labels from {int(np.min(labels))} to {top}.")

    spec = ImageSpec(num_channels, image_size, interpolation, bool(crop_to_aspect_ratio),
                     bool(pad_to_aspect_ratio))

    def make(subset_name, shuffled):
        p, y = _split(paths, labels, validation_split, subset_name, verbose)
        if not p:
            what = {"training": "training ", "validation": "validation "}.get(
                subset_name if subset == "both" else None, "")
            raise ValueError(f"No {what}images found in directory {directory}. Allowed "
                             f"formats: {ALLOWLIST_FORMATS}.")
        return ImageDataset(p, y, label_mode, class_names, spec, batch_size, shuffled, seed)

    if subset == "both":
        return [make("training", shuffle), make("validation", False)]
    return make(subset, shuffle)


def _check_split(validation_split, subset, shuffle, seed):
    """Keras's check_validation_split_arg, with messages in pyconv's shape."""
    if validation_split and (isinstance(validation_split, bool)
                             or not isinstance(validation_split, numbers.Real)
                             or not 0 < validation_split < 1):
        raise ValueError(f"`validation_split` must be a float between 0 and 1 (exclusive). "
                         f"Received: validation_split={validation_split!r}.")
    if bool(validation_split) != bool(subset):
        raise ValueError(f"`subset` and `validation_split` must be given together. Received: "
                         f"validation_split={validation_split!r}, subset={subset!r}.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'`subset` must be one of "training", "validation", "both". '
                         f"Received: subset={subset!r}.")
    if validation_split and shuffle and seed is None:
        raise ValueError("`seed` must be given with `validation_split` and shuffle=True, so "
                         "that the training and validation subsets do not overlap.")


def _index_directory(directory, labels, class_names, shuffle, seed, follow_links, verbose):
    """(file paths, labels or None, class names or None), as Keras's index_directory finds
    them: sub-directories sorted, each walked with its roots sorted and its file names sorted,
    then shuffled with np.random.RandomState(seed) when `shuffle`."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"`directory` {directory!r} does not exist or is not a "
                                f"directory.")
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            class_names = list(class_names)
            unknown = [c for c in class_names if c not in subdirs]
            if unknown:
                raise ValueError(f"`class_names` must be sub-directories of {directory} "
                                 f"({subdirs}). Received: class_names={class_names!r}, of "
                                 f"which {unknown!r} are not.")
            subdirs = class_names
        class_names = subdirs
    else:
        subdirs = [""]  # the whole directory, from the top
    paths, found = [], []
    for k, sub in enumerate(subdirs):
        files = list(_valid_files(os.path.join(directory, sub), follow_links))
        paths += files
        found += [k] * len(files)
    if labels == "inferred":
        labels = np.array(found, np.int32)
    elif labels is not None:
        if len(labels) != len(paths):
            raise ValueError(f"`labels` must hold one label per image file: {len(paths)} files "
                             f"were found in {directory}. Received: {len(labels)} labels.")
        if not all(_validate.is_int(v) for v in labels):
            raise ValueError(f"`labels` must be ints. Received: labels={list(labels)!r}.")
        labels = np.array(labels, np.int64)  # a copy: Keras shuffles the caller's list
        class_names = [str(v) for v in sorted(set(labels.tolist()))]
    else:
        class_names = None
    if verbose:
        print(f"Found {len(paths)} files." if labels is None else
              f"Found {len(paths)} files belonging to {len(class_names)} classes.")
        sys.stdout.flush()
    if shuffle:
        order = np.arange(len(paths))
        np.random.RandomState(seed).shuffle(order)  # Keras: the same draws shuffle its list
        paths = [paths[i] for i in order]
        if labels is not None:
            labels = labels[order]
    return paths, labels, class_names


def _valid_files(directory, follow_links):
    """The image files under `directory`: roots in sorted order, names sorted in each."""
    for root, _, files in sorted(os.walk(directory, followlinks=follow_links),
                                 key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(ALLOWLIST_FORMATS):
                yield os.path.join(root, name)


def _split(paths, labels, validation_split, subset, verbose):
    """The training part (all but the last int(split * n)) or the validation part."""
    if not validation_split:
        return paths, labels
    n_val = int(validation_split * len(paths))
    n_train = len(paths) - n_val
    if subset == "training":
        if verbose:
            print(f"Using {n_train} files for training.")
        return paths[:n_train], None if labels is None else labels[:n_train]
    if verbose:
        print(f"Using {n_val} files for validation.")
    return paths[n_train:], None if labels is None else labels[n_train:]
