"""Colour maps as 256-entry look-up tables, images of arrays as PNG data URIs, and CSS colour bars.

Colouring an array is one numpy index into a table, so a spectrogram picture costs about a millisecond.
"""

import base64
import io
from functools import lru_cache

import numpy as np
from PIL import Image


@lru_cache(maxsize=None)
def lut(name: str) -> np.ndarray:
    """(256, 3) uint8 colours of a matplotlib colour map."""
    from matplotlib import colormaps

    return np.round(colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255).astype(np.uint8)


def scaled(values: np.ndarray, vmin: float, vmax: float) -> np.ndarray:
    """`values` mapped onto 0..1, clipped."""
    return np.clip((np.asarray(values, dtype=np.float32) - vmin) / max(vmax - vmin, 1e-9), 0.0, 1.0)


def colour(values01: np.ndarray, cmap: str) -> np.ndarray:
    """0..1 values as (..., 3) uint8 RGB."""
    return lut(cmap)[np.round(np.asarray(values01) * 255).astype(np.intp)]


def blend(base: np.ndarray, top: np.ndarray, alpha: float) -> np.ndarray:
    """`top` over `base` (both uint8 RGB) at opacity `alpha`."""
    return np.round(base * (1.0 - alpha) + top * alpha).astype(np.uint8)


def png_data_uri(rgb: np.ndarray, flip: bool = True) -> str:
    """An (rows, cols, 3) uint8 image as a data: URI; `flip` puts row 0 at the bottom (low frequencies)."""
    image = Image.fromarray(np.ascontiguousarray(rgb[::-1] if flip else rgb), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def css_gradient(cmap: str, stops: int = 9) -> str:
    """A left-to-right CSS gradient of the colour map, for a colour bar."""
    colours = lut(cmap)[np.linspace(0, 255, stops).astype(int)]
    return "linear-gradient(to right, " + ", ".join("#%02x%02x%02x" % tuple(c) for c in colours) + ")"


def hex_colour(value01: float, cmap: str) -> str:
    return "#%02x%02x%02x" % tuple(colour(np.float32(value01), cmap))
