"""The Colorizer: owns the network and its device, turns batches of lightness into ab.

Two kinds of network sit behind it. Native models take Lab L and return ab at an aspect-keeping
render size. DeOldify's generators (imported with ``vidcolor weights import``) take gray RGB at a
square of ``16 * render_factor`` and return RGB; :class:`DeOldifyAb` gives them the native
interface, and :meth:`Colorizer.render_size` says which size the network wants. Either way only
ab leaves this module: the worker upsamples it to the frame and merges it with the source luma.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from fractions import Fraction
from typing import TypeVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidcolor import color
from vidcolor.config import ModelConfig
from vidcolor.errors import ConfigError, VidcolorError
from vidcolor.models import create_model
from vidcolor.models.deoldify import DeOldifyGenerator, gray_to_input
from vidcolor.models.weights import load_weights, resolve_weights

T = TypeVar("T")

_MULTIPLE = 32  # the U-Net halves the size five times
# Strided convolutions whose input is narrower than this run in float32 on CPU bfloat16.
_NARROW = 8


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last one shorter): the network's batches."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def render_lightness(unit: np.ndarray, render: tuple[int, int]) -> np.ndarray:
    """The network's input for one picture: its luma ``(H, W)`` float32 in [0, 1] (a gray's
    R = G = B), area-resized to ``render`` (width, height), as ``(h, w)`` float32 Lab L.

    The only place a picture becomes the network's input: the worker and the evaluation both
    call it, so what is scored is what a run colorizes.
    """
    small = cv2.resize(unit, render, interpolation=cv2.INTER_AREA)
    return color.gray_to_lightness(torch.from_numpy(small)).numpy()


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for, but torch sees no CUDA GPU; use --device cpu")
    return torch.device(name)


def render_size(width: int, height: int, sar: Fraction, render_factor: int) -> tuple[int, int]:
    """The (width, height) frames are colorized at.

    The long side is ``render_factor * 16`` as in DeOldify, the short side follows the display
    aspect ratio (stored size times sample aspect ratio), both rounded to multiples of 32.
    """
    display_w = width * float(sar or 1)
    long_side = render_factor * 16
    scale = long_side / max(display_w, height)

    def snap(v: float) -> int:
        return max(_MULTIPLE, round(v / _MULTIPLE) * _MULTIPLE)

    return snap(display_w * scale), snap(height * scale)


class DeOldifyAb(nn.Module):
    """A DeOldify generator behind the native interface: Lab L in, Lab ab out.

    DeOldify's conventions inside: L is turned back into the gray it was made from (the frame's
    luma in [0, 1], of which L is the sRGB lightness: ``color.gray_to_lightness``), copied to
    three channels and ImageNet-normalised (:func:`~vidcolor.models.deoldify.gray_to_input`). The
    generator's RGB (-0.27 .. 1.17, unclamped) is clamped to [0, 1] like any image, and only its
    Lab ab is returned: its own lightness is dropped, as DeOldify drops its luma.
    """

    def __init__(self, generator: DeOldifyGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, lightness: Tensor) -> Tensor:
        """Map L ``(N, 1, H, W)`` in [0, 100], H and W even, to ab ``(N, 2, H, W)``."""
        neutral = torch.cat([lightness, torch.zeros_like(lightness).expand(-1, 2, -1, -1)], dim=1)
        gray = color.lab_to_rgb(neutral)[:, :1]  # a = b = 0: R = G = B = the gray
        # The generator computes in its weights' dtype; the color math stays float32.
        dtype = next(self.generator.parameters(), lightness).dtype
        rgb = self.generator(gray_to_input(gray).to(dtype)).float()
        return color.rgb_to_lab(rgb.clamp(0.0, 1.0))[:, 1:]


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """The dtype the network computes in; the head is decoded in float32 regardless.

    ``auto`` is bfloat16 where the hardware computes it natively: CUDA GPUs that support it,
    and CPUs with AMX or AVX-512 BF16, where oneDNN runs the convolutions (a 320x256 frame took
    164 against 252 ms in float32 on 2 cores with AMX, measured here; ab differs by 0.05 on
    average). Everywhere else bfloat16 would be emulated and slow, so ``auto`` is float32.
    float16 is for CUDA only.
    """
    if name == "auto":
        if device.type == "cuda":
            native = torch.cuda.is_bf16_supported()
        else:
            native = torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
        return torch.bfloat16 if native else torch.float32
    if name == "float16" and device.type != "cuda":
        raise ConfigError(
            "model.precision float16 needs a CUDA GPU; use bfloat16 or float32 on the CPU"
        )
    return getattr(torch, name)


def keep_narrow_strided_convs_exact(model: nn.Module) -> None:
    """Makes a CPU bfloat16 network compute strided convolutions of narrow inputs in float32.

    oneDNN's bfloat16 convolution (torch 2.13, x86) returns wrong values, NaN among them, for
    a strided convolution whose input is at most 2 pixels wide. Measured for every convolution
    shape in vidcolor's and DeOldify's networks: widths of 3 and more, and any height, came out
    right. A render 32 pixels wide gets there in the encoder's last stage, which then varied
    from call to call and broke chunk invariance. Inputs under :data:`_NARROW` pixels wide are
    tiny, so recomputing them in float32 costs nothing measurable and leaves a margin.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and max(module.stride) > 1:
            module.register_forward_hook(_float32_when_narrow)


def _float32_when_narrow(
    conv: nn.Conv2d, inputs: tuple[Tensor, ...], output: Tensor
) -> Tensor | None:
    """Forward hook: the float32 result in place of a narrow input's bfloat16 one."""
    (x,) = inputs
    if x.shape[-1] >= _NARROW or x.dtype != torch.bfloat16:
        return None
    bias = None if conv.bias is None else conv.bias.float()
    exact = F.conv2d(
        x.float(), conv.weight.float(), bias, conv.stride, conv.padding, conv.dilation, conv.groups
    )
    return exact.to(output.dtype)


def auto_batch_size(device: torch.device) -> int:
    """Frames per inference batch when ``model.batch_size`` is 0.

    On CPU one frame at a time is fastest: at 320x192 the 255-bin head's activations of a batch
    of 4 (250 MB) overflow the caches, and a frame took 350 ms instead of 257 ms (2 threads,
    medians of 3). GPUs want batches to fill their cores.
    """
    return 8 if device.type == "cuda" else 1


class Colorizer:
    """Predicts Lab ab for batches of frames.

    Inference always runs on full batches of ``batch_size`` (the last one padded): a frame's
    result then never depends on how many frames happened to share its batch, which keeps the
    output identical for any chunking.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        self.device = resolve_device(cfg.device)
        self.batch_size = cfg.batch_size or auto_batch_size(self.device)
        self.dtype = resolve_precision(cfg.precision, self.device)
        self.render_factor = cfg.render_factor
        if cfg.weights:
            path, sha256 = resolve_weights(cfg.weights)
            model, info = load_weights(path, expected_sha256=sha256, device="cpu")
            self.description = f"{info.arch} from {info.path} (sha256 {info.sha256[:12]})"
            self.trained = True
        else:
            # A fixed seed gives every worker the same untrained network, so runs stay
            # reproducible and chunk-invariant even before trained weights exist.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                model = create_model(cfg.arch)
            self.description = f"{cfg.arch}, UNTRAINED (no weights configured)"
            self.trained = False
        self.description += f", {str(self.dtype).removeprefix('torch.')} on {self.device.type}"
        if isinstance(model, DeOldifyGenerator):
            model = DeOldifyAb(model)
        self.square = isinstance(model, DeOldifyAb)  # DeOldify stretches frames to a square
        # Hint inputs (issue 16): weights files that take them say so in arch_kwargs.
        self.accepts_hints = bool(getattr(model, "hints", False))
        # channels_last: oneDNN's and cuDNN's fast convolution layout (0.30 vs 0.41 s per frame
        # at 320x256 on 2 CPU cores, measured here).
        model = model.to(self.device, self.dtype).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if self.device.type == "cpu" and self.dtype == torch.bfloat16:
            keep_narrow_strided_convs_exact(model)
        self.model = model.eval()
        self._warmed: set[tuple[int, ...]] = set()

    def render_size(
        self, width: int, height: int, sar: Fraction, render_factor: int | None = None
    ) -> tuple[int, int]:
        """The (width, height) this network sees frames of a stored size and aspect ratio at.

        Native models: :func:`render_size`. DeOldify: a square of ``16 * render_factor``
        whatever the aspect ratio, as DeOldify stretches every frame. ``render_factor``
        defaults to the configured one.
        """
        factor = self.render_factor if render_factor is None else render_factor
        if self.square:
            return 16 * factor, 16 * factor
        return render_size(width, height, sar, factor)

    @torch.inference_mode()
    def predict(
        self,
        lightness: np.ndarray,
        hint_ab: np.ndarray | None = None,
        hint_mask: np.ndarray | None = None,
    ) -> np.ndarray:
        """Predicts ab for frames given as lightness, and user hints where given.

        Args:
            lightness: ``(N, H, W)`` float32 Lab L in [0, 100] at a size from
                :meth:`render_size` (native models: multiples of 32; DeOldify: even).
            hint_ab: ``(N, 2, H, W)`` float32 ab hints in Lab units, or ``None``: the
                automatic mode, the same as all-zero hints. Only for :attr:`accepts_hints`.
            hint_mask: ``(N, 1, H, W)``, 1 where ``hint_ab`` holds a hint; with ``hint_ab``.

        Returns:
            ``(N, 2, H, W)`` float32 ab in Lab units.
        """
        if lightness.ndim != 3:
            raise ValueError(f"predict expects (N, H, W) lightness, got shape {lightness.shape}")
        if hint_ab is not None and not self.accepts_hints:
            raise ConfigError(f"these weights take no color hints ({self.description}); "
                              "use weights trained with hints")  # fmt: skip
        out = []
        for lo in range(0, len(lightness), self.batch_size):
            batch = self._batch(lightness[lo : lo + self.batch_size])
            n = min(self.batch_size, len(lightness) - lo)
            self._warm_up(batch)
            if hint_ab is None or hint_mask is None:
                ab = self.model(batch)[:n].float()
            else:
                hints = (
                    self._batch(part[lo : lo + self.batch_size]) for part in (hint_ab, hint_mask)
                )
                ab = self.model(batch, *hints)[:n].float()
            if not bool(torch.isfinite(ab).all()):
                raise VidcolorError(
                    f"the network returned non-finite colors ({self.description}) at a "
                    f"{batch.shape[-1]}x{batch.shape[-2]} render; run with "
                    "--set model.precision=float32, or another --render-factor"
                )
            out.append(ab.contiguous().cpu().numpy())
        return np.concatenate(out)

    def _batch(self, frames: np.ndarray) -> torch.Tensor:
        """``(n, H, W)`` or ``(n, C, H, W)`` frames as a full ``(batch_size, C, H, W)`` batch on
        the device, channels_last, padded with zeros."""
        part = torch.from_numpy(np.ascontiguousarray(frames))
        n = len(part)
        if n < self.batch_size:
            pad = part.new_zeros((self.batch_size - n, *part.shape[1:]))
            part = torch.cat([part, pad])
        if self.device.type == "cuda":  # page-locked: copied by DMA, no staging copy
            part = part.pin_memory()
        batch = (part[:, None] if part.ndim == 3 else part).to(self.device, non_blocking=True)
        return batch.contiguous(memory_format=torch.channels_last)

    def _warm_up(self, batch: torch.Tensor) -> None:
        """Runs the network once, on zeros, before its first real batch of a given shape.

        The first CPU forward pass of a process at a new shape can differ in the last bits
        from every later one (measured: after other allocations, the first call's output
        differed and the next 19 agreed), which would make a frame's color depend on whether
        it opened a worker's first chunk. A discarded first call keeps the output identical for
        any chunking and worker count.
        """
        if tuple(batch.shape) not in self._warmed:
            self.model(torch.zeros_like(batch))
            self._warmed.add(tuple(batch.shape))
