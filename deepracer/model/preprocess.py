"""Camera image -> ONNX input tensor, as an InputSpec describes it.

Input: uint8, HxW (mono) or HxWx3 (BGR, OpenCV's order), any size; a stereo model (2 channels)
takes the HxWx2 (left, right) grey pair that `stereo_pair` makes of two camera images. Steps: colour
conversion, resize (INTER_AREA when shrinking, which averages instead of aliasing;
linear when enlarging), `x * scale`, `(x - mean) / std` per channel, layout (NCHW or
NHWC), float32. The scale and normalisation fold into one multiply-add with constants
computed once; callers on the hot path pass a preallocated `out` buffer.
"""

from __future__ import annotations

import cv2
import numpy as np

from deepracer.model.metadata import InputSpec


class Preprocessor:
    """One camera frame -> one frame of the input tensor (no batch axis: CxHxW or HxWxC)."""

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        c = spec.channels
        mean = np.broadcast_to(np.asarray(spec.mean, np.float32), (c,))
        std = np.broadcast_to(np.asarray(spec.std, np.float32), (c,))
        gain = (np.float32(spec.scale) / std).astype(np.float32)
        offset = (mean / std).astype(np.float32)
        chw = spec.layout == "NCHW"
        self.frame_shape = (c, spec.height, spec.width) if chw else (spec.height, spec.width, c)
        bshape = (c, 1, 1) if chw else (1, 1, c)
        # Scalars when all channels agree: numpy's fastest path.
        self._gain = float(gain[0]) if np.all(gain == gain[0]) else gain.reshape(bshape)
        self._offset = None if not np.any(offset) else (
            float(offset[0]) if np.all(offset == offset[0]) else offset.reshape(bshape))
        self._size = (spec.width, spec.height)  # cv2 order
        self._chw = chw
        # Intermediate images, reused frame after frame (reallocated only if the camera size changes).
        self._buffers: dict[str, np.ndarray] = {}

    def _buffer(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape:
            buf = self._buffers[key] = np.empty(shape, np.uint8)
        return buf

    def _convert(self, image: np.ndarray) -> np.ndarray:
        spec = self.spec
        if image.dtype != np.uint8:
            raise ValueError(f"camera image must be uint8, not {image.dtype}")
        if spec.channels == 2:  # STEREO_CAMERAS: the (left, right) grey pair, as channels
            if image.ndim != 3 or image.shape[2] != 2:
                raise ValueError(f"a stereo model needs an HxWx2 (left, right) grey image, not shape {image.shape}")
            return self._resize(image)
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        if image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
            raise ValueError(f"camera image must be HxW (mono) or HxWx3 (BGR), not shape {image.shape}")
        if spec.channels == 1:
            if image.ndim == 3:  # to gray first: then only one channel is resized
                image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY, dst=self._buffer("gray", image.shape[:2]))
            return self._resize(image)
        image = self._resize(image)
        colour = (spec.height, spec.width, 3)
        if image.ndim == 2:
            return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR, dst=self._buffer("colour", colour))
        if spec.color_order == "rgb":
            return cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=self._buffer("colour", colour))
        return image

    def _resize(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        if (w, h) == self._size:
            return image
        shrink = w >= self._size[0] and h >= self._size[1]
        dst = self._buffer(f"resized{image.ndim}", (self._size[1], self._size[0], *image.shape[2:]))
        return cv2.resize(image, self._size, dst=dst, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)

    def __call__(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """The float32 frame; written into `out` (shape `frame_shape`) when given."""
        pixels = self._convert(image)
        if pixels.ndim == 2:
            pixels = pixels[None] if self._chw else pixels[:, :, None]
        elif self._chw:
            pixels = pixels.transpose(2, 0, 1)  # a view; the multiply below does the copy
        if out is None:
            out = np.empty(self.frame_shape, np.float32)
        np.multiply(pixels, self._gain, out=out, dtype=np.float32)
        if self._offset is not None:
            np.subtract(out, self._offset, out=out)
        return out


class FrameStacker:
    """The last `frame_stack` frames on the channel axis, newest last, as one batch-1 tensor.

    The first frame fills every slot (no black frames at start-up). The returned array is
    the stacker's own buffer: it changes on the next push.
    """

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        self.tensor = np.zeros(spec.shape(), np.float32)
        self._c = spec.channels
        self._axis = 1 if spec.layout == "NCHW" else 3
        self._empty = True

    def reset(self) -> None:
        self._empty = True

    def _slot(self, start: int | None, stop: int | None) -> tuple[slice, ...]:
        return (slice(None),) * self._axis + (slice(start, stop),)

    def push(self, frame: np.ndarray) -> np.ndarray:
        """Add one preprocessed frame (CxHxW or HxWxC) and return the stacked tensor."""
        c, t = self._c, self.tensor
        if self._empty:
            reps = (1, self.spec.frame_stack, 1, 1) if self._axis == 1 else (1, 1, 1, self.spec.frame_stack)
            t[...] = np.tile(frame[None], reps)
            self._empty = False
        else:
            t[self._slot(None, -c)] = t[self._slot(c, None)]  # numpy copes with the overlap
            t[self._slot(-c, None)] = frame[None]
        return t


def preprocess(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    """One image -> a full batch-1 input tensor (the frame repeated when frame_stack > 1)."""
    frame = Preprocessor(spec)(image)
    return FrameStacker(spec).push(frame).copy()


def stereo_pair(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two camera images (mono or BGR) -> the HxWx2 uint8 (left, right) grey pair a STEREO_CAMERAS
    model takes (DeepRacer converts each to grey and stacks them as channels); the right image is
    resized to the left's size when they differ."""
    def grey(image: np.ndarray) -> np.ndarray:
        if image.dtype != np.uint8:
            raise ValueError(f"camera image must be uint8, not {image.dtype}")
        if image.ndim == 3 and image.shape[2] == 1:
            return image[:, :, 0]
        if image.ndim == 3 and image.shape[2] in (3, 4):
            return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
        if image.ndim != 2:
            raise ValueError(f"camera image must be HxW or HxWx3, not shape {image.shape}")
        return image

    lg, rg = grey(left), grey(right)
    if rg.shape != lg.shape:
        rg = cv2.resize(rg, (lg.shape[1], lg.shape[0]), interpolation=cv2.INTER_AREA)
    return np.dstack((lg, rg))
