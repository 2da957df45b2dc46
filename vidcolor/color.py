"""Color math: luma to Lab L, Lab to sRGB, sRGB to Y'CbCr chroma. Pure functions of tensors.

Conventions, checked at the door:
- RGB is non-linear sRGB in [0, 1], shape ``(*, 3, H, W)``.
- Lab is CIE L*a*b* with the D65 white point (as OpenCV's and scikit-image's ``rgb2lab``):
  L in [0, 100], a and b roughly in [-110, 110], shape ``(*, 3, H, W)``.
- Chroma is (Cb, Cr) in [-0.5, 0.5], shape ``(*, 2, H, W)``, for a named matrix (ITU-R BT.601,
  BT.709 or BT.2020 non-constant luminance).

The output's luma is never computed here: the source's own Y plane is kept bit for bit, and only
its chroma is derived from the predicted colors (``lab_to_chroma``).
"""

from __future__ import annotations

import numpy as np
import torch

# sRGB (linear) -> CIE XYZ, D65 (IEC 61966-2-1).
_RGB_TO_XYZ = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=torch.float64,
)
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ)
_D65_WHITE = torch.tensor([0.950456, 1.0, 1.088754], dtype=torch.float64)
_EPSILON = 216 / 24389  # CIE's (6/29)^3
_KAPPA = 24389 / 27

# (Kr, Kb) luma coefficients of each Y'CbCr matrix.
MATRICES: dict[str, tuple[float, float]] = {
    "bt601": (0.299, 0.114),
    "bt709": (0.2126, 0.0722),
    "bt2020": (0.2627, 0.0593),
}

# ffmpeg's colorspace names -> our matrix names.
_FFMPEG_MATRIX = {
    "bt709": "bt709",
    "bt470bg": "bt601",
    "smpte170m": "bt601",
    "fcc": "bt601",
    "bt2020nc": "bt2020",
    "bt2020c": "bt2020",
}


def matrix_for(color_space: str, height: int) -> str:
    """The Y'CbCr matrix a source uses: its tag, or the convention players follow when untagged.

    Untagged video is taken as BT.601 below 720 lines and BT.709 from 720 up, as ffmpeg-based
    players and browsers do.
    """
    if color_space in _FFMPEG_MATRIX:
        return _FFMPEG_MATRIX[color_space]
    return "bt709" if height >= 720 else "bt601"


def _check(x: torch.Tensor, channels: int, name: str) -> None:
    if x.dim() < 3 or x.shape[-3] != channels:
        raise ValueError(f"{name} expects shape (*, {channels}, H, W), got {tuple(x.shape)}")


def luma_to_unit(luma: np.ndarray, bit_depth: int, full_range: bool) -> np.ndarray:
    """Native Y' samples to float Y' in [0, 1] (limited range stretched, out-of-range clipped).

    Args:
        luma: ``(..., H, W)`` integer Y' samples as stored in the file.
        bit_depth: bits per sample (8, 10, 12, 16).
        full_range: True for full ("jpeg") range, False for limited ("tv", 16..235 at 8 bits).

    Returns:
        float32 array of the same shape.
    """
    scale = float(1 << (bit_depth - 8))
    y = luma.astype(np.float32)
    if full_range:
        y /= float((1 << bit_depth) - 1)
    else:
        y = (y - 16.0 * scale) / (219.0 * scale)
    return np.clip(y, 0.0, 1.0, out=y)


def srgb_to_linear(v: torch.Tensor) -> torch.Tensor:
    """IEC 61966-2-1 sRGB decoding, elementwise on values in [0, 1]."""
    return torch.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: torch.Tensor) -> torch.Tensor:
    """IEC 61966-2-1 sRGB encoding, elementwise on values in [0, 1]."""
    v = v.clamp(min=0.0)
    return torch.where(v <= 0.0031308, v * 12.92, 1.055 * v.clamp(min=1e-12) ** (1 / 2.4) - 0.055)


def _f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > _EPSILON, t.clamp(min=1e-12) ** (1 / 3), (_KAPPA * t + 16) / 116)


def _f_inv(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t**3 > _EPSILON, t**3, (116 * t - 16) / _KAPPA)


def gray_to_lightness(y: torch.Tensor) -> torch.Tensor:
    """Lab L of neutral sRGB pixels whose R = G = B = y, any shape, y in [0, 1]."""
    return 116 * _f(srgb_to_linear(y)) - 16


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(*, 3, H, W)`` in [0, 1] -> Lab ``(*, 3, H, W)``, D65."""
    _check(rgb, 3, "rgb_to_lab")
    lin = srgb_to_linear(rgb)
    m = _RGB_TO_XYZ.to(rgb) / _D65_WHITE.to(rgb)[:, None]
    xyz = torch.einsum("ij,...jhw->...ihw", m, lin)
    fx, fy, fz = _f(xyz).unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def lab_to_linear_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab ``(*, 3, H, W)``, D65 -> linear-light RGB ``(*, 3, H, W)``, not clipped.

    Values outside [0, 1] mark colors outside the sRGB gamut.
    """
    _check(lab, 3, "lab_to_linear_rgb")
    lightness, a, b = lab.unbind(-3)
    fy = (lightness + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim=-3)
    xyz = _f_inv(f) * _D65_WHITE.to(lab)[:, None, None]
    return torch.einsum("ij,...jhw->...ihw", _XYZ_TO_RGB.to(lab), xyz)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab ``(*, 3, H, W)``, D65 -> sRGB ``(*, 3, H, W)`` clipped to [0, 1]."""
    _check(lab, 3, "lab_to_rgb")
    return linear_to_srgb(lab_to_linear_rgb(lab)).clamp(0.0, 1.0)


def rgb_to_chroma(rgb: torch.Tensor, matrix: str) -> torch.Tensor:
    """sRGB ``(*, 3, H, W)`` -> (Cb, Cr) ``(*, 2, H, W)`` in [-0.5, 0.5] for a Y'CbCr matrix."""
    _check(rgb, 3, "rgb_to_chroma")
    if matrix not in MATRICES:
        raise ValueError(f"unknown matrix {matrix!r}; known: {', '.join(MATRICES)}")
    kr, kb = MATRICES[matrix]
    r, _, b = rgb.unbind(-3)
    y = rgb_to_luma(rgb, matrix)
    return torch.stack([(b - y) / (2 * (1 - kb)), (r - y) / (2 * (1 - kr))], dim=-3)


def rgb_to_luma(rgb: torch.Tensor, matrix: str) -> torch.Tensor:
    """Y' of sRGB ``(*, 3, H, W)`` for a Y'CbCr matrix -> ``(*, H, W)`` in [0, 1]."""
    _check(rgb, 3, "rgb_to_luma")
    kr, kb = MATRICES[matrix]
    r, g, b = rgb.unbind(-3)
    return kr * r + (1 - kr - kb) * g + kb * b


def lab_to_chroma(lightness: torch.Tensor, ab: torch.Tensor, matrix: str) -> torch.Tensor:
    """Chroma of the colors (L, a, b): ``(*, 1, H, W)`` and ``(*, 2, H, W)`` -> ``(*, 2, H, W)``.

    Colors outside the sRGB gamut are clipped in RGB before their chroma is taken.
    """
    _check(lightness, 1, "lab_to_chroma lightness")
    _check(ab, 2, "lab_to_chroma ab")
    return rgb_to_chroma(lab_to_rgb(torch.cat([lightness, ab], dim=-3)), matrix)


def quantize_chroma(chroma: torch.Tensor, bit_depth: int, full_range: bool) -> np.ndarray:
    """(Cb, Cr) in [-0.5, 0.5] -> integer samples as stored in a file.

    Limited range maps [-0.5, 0.5] to 16..240 (at 8 bits), full range to 0..255; higher bit
    depths scale by ``2 ** (bit_depth - 8)`` as in ITU-R BT.709/BT.2020.

    Returns:
        uint8 (8-bit) or uint16 array of the input's shape.
    """
    scale = float(1 << (bit_depth - 8))
    span = ((1 << bit_depth) - 1) if full_range else 224.0 * scale
    q = torch.round(chroma.double() * span + 128.0 * scale).clamp(0, (1 << bit_depth) - 1)
    return q.numpy().astype(np.uint8 if bit_depth == 8 else np.uint16)
