"""Tests of vidcolor.models.deoldify (with its layers and norms) and vidcolor.models.legacy:
DeOldify's published layout, the restricted checkpoint reader, folding the weight normalisations,
and the DeOldify conventions behind the Colorizer."""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidcolor import color
from vidcolor.colorize import DeOldifyAb
from vidcolor.errors import WeightsError
from vidcolor.models import build_model, deoldify
from vidcolor.models.deoldify import PUBLISHED, DeOldifyGenerator, fold_norms, gray_to_input
from vidcolor.models.deoldify_layers import SelfAttention
from vidcolor.models.norms import SpectralNormConv, WeightNormConv
from vidcolor.models.weights.legacy import check_state_dict, read_learner_checkpoint

# Shapes from outside this code base. "issue": jantic/DeOldify#197, whose error message lists
# tensors of ColorizeArtistic_gen.pth against the Stable model. "port": ColorfulSoft/DeOldify.NET
# (src/DeOldify.cs), which loads the published weights with spectral/weight norm folded.
GOLDEN: dict[str, dict[str, tuple[int, ...]]] = {
    "artistic": {
        "layers.3.1.2.weight": (512,),  # issue
        "layers.4.shuf.conv.0.weight_orig": (1024, 512, 1, 1),  # issue
        "layers.4.shuf.conv.0.weight_u": (1024,),  # issue
        "layers.4.shuf.conv.0.weight_v": (512,),  # issue
        "layers.6.bn.running_var": (64,),  # issue
        "layers.7.shuf.conv.0.weight_orig": (1344, 672, 1, 1),  # issue
        "layers.7.shuf.conv.1.running_mean": (1344,),  # issue
        "layers.8.conv.0.weight_v": (1200, 300, 1, 1),  # port: layers.8.conv.0.weight
        "layers.10.layers.0.0.weight_orig": (303, 303, 3, 3),  # port
        "layers.11.0.bias": (3,),  # port
    },
    "stable": {
        "layers.3.1.2.weight": (2048,),  # issue
        "layers.4.shuf.conv.0.weight_orig": (2048, 2048, 1, 1),  # issue
        "layers.4.shuf.conv.0.weight_v": (2048,),  # issue
        "layers.6.bn.running_var": (256,),  # issue
        "layers.7.shuf.conv.0.weight_orig": (1024, 512, 1, 1),  # issue
        "layers.5.conv.3.query.weight_orig": (64, 512, 1),  # port: (64, 512, 1, 1) there
        "layers.8.conv.0.weight_v": (1024, 256, 1, 1),  # port
        "layers.10.layers.0.0.weight_orig": (259, 259, 3, 3),  # port
    },
}

# What fastai's Learner.save(with_opt=True) puts beside the model: an Adam state dict.
OPT_STATE: dict[str, Any] = {
    "state": {0: {"step": 10, "exp_avg": torch.randn(7), "exp_avg_sq": torch.rand(7)}},
    "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.99), "eps": 1e-5, "params": [0]}],
}


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _save(obj: Any, path: Path, fmt: str) -> Path:
    """``torch.save`` in torch's legacy (pre-1.6, as DeOldify's files) or zip format."""
    torch.save(obj, path, _use_new_zipfile_serialization=fmt == "zip")
    return path


@pytest.fixture(scope="module")
def models() -> dict[str, DeOldifyGenerator]:
    """The three published architectures, built once (Stable and Video: 874 MB each)."""
    torch.manual_seed(0)
    return {name: spec.build().eval() for name, spec in PUBLISHED.items()}


@pytest.fixture(scope="module")
def files(
    tmp_path_factory: pytest.TempPathFactory, models: dict[str, DeOldifyGenerator]
) -> Iterator[dict[str, Path]]:
    """Checkpoints of the published layout: fastai Learner files in the legacy format, one zip
    file holding the bare state dict (fastai's ``with_opt=False``). 1.4 GB, deleted afterwards
    rather than left in pytest's kept temporary folders."""
    folder = tmp_path_factory.mktemp("deoldify")
    artistic = models["artistic"].state_dict()
    stable = models["stable"].state_dict()
    made = {
        "artistic-legacy": _save({"model": artistic, "opt": OPT_STATE}, folder / "a.pth", "legacy"),
        "artistic-zip": _save(artistic, folder / "a_zip.pth", "zip"),
        "stable-legacy": _save({"model": stable, "opt": OPT_STATE}, folder / "s.pth", "legacy"),
    }
    yield made
    for path in made.values():
        path.unlink()


@pytest.mark.parametrize("name", ["artistic", "stable", "video"])
def test_published_layout(models: dict[str, DeOldifyGenerator], name: str) -> None:
    spec = PUBLISHED[name]
    sd = models[name].state_dict()
    nbytes = sum(t.numel() * t.element_size() for t in sd.values())
    assert (len(sd), nbytes) == (spec.keys, spec.tensor_bytes)
    assert abs(nbytes / 1e6 - spec.file_mb) < 1  # the listed file size, pickle overhead aside
    golden = GOLDEN["artistic" if name == "artistic" else "stable"]
    assert {k: tuple(sd[k].shape) for k in golden} == golden
    # torch 1.0 layouts: spectral norm as weight_orig/_u/_v, BN with num_batches_tracked
    assert not [k for k in sd if k.removesuffix(".weight") + ".weight_orig" in sd]
    bns = [m for m in models[name].modules() if isinstance(m, nn.BatchNorm2d)]
    assert sum(k.endswith("num_batches_tracked") for k in sd) == len(bns)
    assert {t.dtype for t in sd.values()} == {torch.float32, torch.int64}


@pytest.mark.parametrize(
    ("file", "name"),
    [
        ("artistic-legacy", "artistic"),
        ("artistic-zip", "artistic"),
        ("stable-legacy", "stable"),
        ("stable-legacy", "video"),
    ],
)
def test_checkpoint_loads_strict(
    models: dict[str, DeOldifyGenerator], files: dict[str, Path], file: str, name: str
) -> None:
    saved = models["artistic" if name == "artistic" else "stable"].state_dict()
    found = read_learner_checkpoint(files[file])
    check_state_dict(_shapes(models[name]), found, source=files[file])
    assert list(found) == list(saved)
    assert all(torch.equal(found[k], saved[k]) and found[k].dtype == saved[k].dtype for k in saved)
    result = models[name].load_state_dict(found, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


class _ShellPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (f"touch {self.marker}",)


class _ExecPayload(_ShellPayload):
    def __reduce__(self) -> tuple[Any, ...]:
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.mark.parametrize("fmt", ["legacy", "zip"])
@pytest.mark.parametrize(
    ("payload", "global_name"),
    [(_ShellPayload, f"{os.system.__module__}.system"), (_ExecPayload, "exec")],
)
def test_malicious_pickle_is_refused(
    tmp_path: Path, fmt: str, payload: type[_ShellPayload], global_name: str
) -> None:
    marker = tmp_path / "MARKER"
    state = {"layers.1.weight": torch.ones(3), "layers.1.bias": payload(marker)}
    path = _save({"model": state, "opt": {}}, tmp_path / "evil.pth", fmt)
    with pytest.raises(WeightsError, match=rf"refers to \S*{global_name}\b.*could run code"):
        read_learner_checkpoint(path)
    assert not marker.exists()


def test_exec_payload_is_live(tmp_path: Path) -> None:
    """Control for the test above: an unrestricted unpickler does run the payload."""
    marker = tmp_path / "MARKER"
    path = _save({"model": {"x": _ExecPayload(marker)}}, tmp_path / "evil.pth", "legacy")
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.fixture(scope="module")
def small_checkpoint() -> dict[str, Tensor]:
    """A small state dict with the layers the DeOldify files use (SN conv, attention, BN)."""
    torch.manual_seed(1)
    layers = [SpectralNormConv(16, 16, 3, bias=False), nn.BatchNorm2d(16), SelfAttention(16)]
    return nn.Sequential(*layers).state_dict()


@pytest.mark.parametrize("fmt", ["legacy", "zip"])
@pytest.mark.parametrize("keep", [0.0, 0.002, 0.3, 0.6, 0.99])
def test_truncated_file_says_truncated(
    tmp_path: Path, small_checkpoint: dict[str, Tensor], fmt: str, keep: float
) -> None:
    whole = _save({"model": small_checkpoint, "opt": OPT_STATE}, tmp_path / "w.pth", fmt)
    data = whole.read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(WeightsError, match="truncated"):
        read_learner_checkpoint(cut)


def test_wrong_shape_and_missing_key_are_named(
    models: dict[str, DeOldifyGenerator], files: dict[str, Path]
) -> None:
    path = files["artistic-legacy"]
    expected = _shapes(models["artistic"])
    found = read_learner_checkpoint(path)
    wrong = {**found, "layers.5.conv2.3.gamma": torch.zeros(2)}
    with pytest.raises(WeightsError, match=r"'layers\.5\.conv2\.3\.gamma' has shape \(2,\)"):
        check_state_dict(expected, wrong, source=path)
    missing = {k: v for k, v in found.items() if k != "layers.8.conv.0.weight_g"}
    with pytest.raises(WeightsError, match=r"lacks key 'layers\.8\.conv\.0\.weight_g'"):
        check_state_dict(expected, missing, source=path)
    extra = {**found, "layers.12.weight": torch.zeros(3)}
    with pytest.raises(WeightsError, match=r"unexpected key 'layers\.12\.weight'"):
        check_state_dict(expected, extra, source=path)
    stable = read_learner_checkpoint(files["stable-legacy"])  # a Stable file, Artistic model
    with pytest.raises(WeightsError, match=r"lacks key 'layers\.4\.conv1\.0\.weight_orig'"):
        check_state_dict(expected, stable, source=files["stable-legacy"])


def test_pre_torch_1_spectral_norm_gets_a_hint() -> None:
    expected = {"c.weight_orig": (2, 2), "c.weight_u": (2,), "c.weight_v": (2,)}
    old = {
        "c.weight_orig": torch.ones(2, 2),
        "c.weight_u": torch.ones(2),
        "c.weight": torch.ones(2, 2),
    }
    with pytest.raises(WeightsError, match=r"'c\.weight_v'.*torch < 1\.0"):
        check_state_dict(expected, old, source="old.pth")


@pytest.mark.parametrize(
    ("content", "message"),
    [([1, 2, 3], "holds list, not a model state dict"), ({"a": 1}, "entry 'a' is a int")],
)
def test_not_a_state_dict(tmp_path: Path, content: Any, message: str) -> None:
    path = _save(content, tmp_path / "x.pth", "legacy")
    with pytest.raises(WeightsError, match=message):
        read_learner_checkpoint(path)


def test_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        read_learner_checkpoint(tmp_path / "absent.pth")
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(WeightsError, match="damaged"):
        read_learner_checkpoint(text)


def test_spectral_norm_matches_torch() -> None:
    """Same keys and, in eval mode, the same output as torch.nn.utils.spectral_norm."""
    torch.manual_seed(2)
    ref = nn.utils.spectral_norm(nn.Conv2d(8, 6, 3, padding=1, bias=True))
    x = torch.randn(2, 8, 5, 5)
    ref(x)  # one training-mode power iteration, as after training
    ours = SpectralNormConv(8, 6, 3, bias=True)
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert list(ours.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    ref.eval(), ours.eval()
    u = ours.weight_u.clone()
    torch.testing.assert_close(ours(x), ref(x))
    assert torch.equal(ours.weight_u, u)  # eval mode: no power iteration
    ref.train(), ours.train()
    torch.testing.assert_close(ours(x), ref(x))  # training mode: one iteration, as torch
    torch.testing.assert_close(ours.weight_u, ref.weight_u)
    assert not torch.equal(ours.weight_u, u)


def test_spectral_norm_backward_through_two_forwards() -> None:
    """A GAN-style loss D(a) - D(b) in training mode: u and v change between the forwards."""
    conv = SpectralNormConv(4, 4, 3, bias=True).train()
    a, b = torch.randn(1, 4, 6, 6), torch.randn(1, 4, 6, 6)
    (conv(a) - conv(b)).sum().backward()
    assert conv.weight_orig.grad is not None and conv.weight_orig.grad.abs().sum() > 0


def test_weight_norm_matches_torch() -> None:
    torch.manual_seed(3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated, but what fastai v1 used
        ref = nn.utils.weight_norm(nn.Conv2d(6, 16, 1))
    ours = WeightNormConv(6, 16)
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert list(ours.state_dict()) == ["bias", "weight_g", "weight_v"]
    x = torch.randn(1, 6, 4, 4)
    torch.testing.assert_close(ours(x), ref(x))


def test_self_attention_is_fastais() -> None:
    """Against fastai v1's formula: beta = softmax(f^T g, dim=1), out = gamma h beta + x."""
    torch.manual_seed(4)
    attn = SelfAttention(16).eval()
    nn.init.constant_(attn.gamma, 0.7)
    x = torch.randn(2, 16, 3, 5)
    flat = x.flatten(2)
    f, g, h = attn.query(flat), attn.key(flat), attn.value(flat)
    beta = F.softmax(torch.bmm(f.permute(0, 2, 1), g), dim=1)
    expected = (0.7 * torch.bmm(h, beta) + flat).view(x.shape)
    torch.testing.assert_close(attn(x), expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["artistic", "video"])
def test_fold_norms_keeps_output(models: dict[str, DeOldifyGenerator], name: str) -> None:
    model = models[name]
    folded = fold_norms(copy.deepcopy(model))
    left = [m for m in folded.modules() if isinstance(m, SpectralNormConv | WeightNormConv)]
    assert not left
    assert not [k for k in folded.state_dict() if k.endswith(("_orig", "_u", "_g"))]
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (model(x) - folded(x)).abs().max() <= 1e-4
    with torch.device("meta"):  # what load_weights rebuilds for an imported file
        rebuilt = build_model(f"deoldify_{name}", folded=True)
    assert _shapes(rebuilt) == _shapes(folded)


def test_forward_shapes_and_range(models: dict[str, DeOldifyGenerator]) -> None:
    """48 x 80 is a multiple of 16, not 32: fastai's nearest resize of the upsampled features."""
    gray = torch.rand(1, 1, 48, 80)
    with torch.no_grad():
        rgb = models["artistic"](gray_to_input(gray))
    assert rgb.shape == (1, 3, 48, 80)
    mean, std = torch.tensor(deoldify.IMAGENET_MEAN), torch.tensor(deoldify.IMAGENET_STD)
    low, high = rgb.amin(dim=(0, 2, 3)), rgb.amax(dim=(0, 2, 3))
    assert (low >= mean - 3 * std - 1e-6).all() and (high <= mean + 3 * std + 1e-6).all()


def test_input_checks(models: dict[str, DeOldifyGenerator]) -> None:
    torch.testing.assert_close(
        gray_to_input(torch.full((1, 1, 2, 2), 0.485))[0, 0], torch.zeros(2, 2)
    )
    with pytest.raises(ValueError, match=r"\(1, 1, 32, 32\)"):
        models["artistic"](torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="even"):
        models["artistic"](torch.zeros(1, 3, 33, 32))


class _FixedColor(nn.Module):
    """Stands in for a generator: records its input, answers one RGB color everywhere."""

    def __init__(self, rgb: tuple[float, float, float]) -> None:
        super().__init__()
        self.rgb = rgb
        self.seen: list[Tensor] = []

    def forward(self, x: Tensor) -> Tensor:
        self.seen.append(x)
        return x.new_tensor(self.rgb).view(1, 3, 1, 1).expand(len(x), 3, *x.shape[2:])


def test_deoldify_ab_feeds_gray_and_keeps_only_ab() -> None:
    """The generator sees the luma as normalised gray RGB; only the ab of its RGB comes back."""
    gray = torch.tensor([0.0, 0.2, 0.5, 1.0]).view(1, 1, 2, 2)
    lightness = color.gray_to_lightness(gray)
    stub = _FixedColor((1.2, 0.0, -0.1))  # out of [0, 1], as DeOldify's RGB can be: clamped
    ab = DeOldifyAb(stub)(lightness)  # type: ignore[arg-type]
    torch.testing.assert_close(stub.seen[0], gray_to_input(gray), atol=1e-5, rtol=0)
    # skimage.color.rgb2lab([[[1.0, 0.0, 0.0]]]) -> [53.2408, 80.0925, 67.2032] (sRGB red, D65)
    expected = torch.tensor([80.0925, 67.2032]).view(1, 2, 1, 1).expand(1, 2, 2, 2)
    torch.testing.assert_close(ab, expected, atol=2e-3, rtol=0)
