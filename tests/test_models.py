"""Tests of vidcolor.models: torchvision-compatible encoder, U-Net decoder, registry, weights."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor, nn

from vidcolor.colorize import Colorizer
from vidcolor.config import ModelConfig
from vidcolor.errors import ConfigError, WeightsError
from vidcolor.models import create_model, list_models, resnet
from vidcolor.models.unet import PixelShuffleICNR, SelfAttention, UNet, deoldify_widths, icnr_
from vidcolor.models.weights import load_weights, save_weights
from vidcolor.resume import file_sha256

# Facts about torchvision's ResNets (torchvision.models.resnetXX(), ImageNet head of 1000
# classes): total parameters, and len(state_dict()) (resnet18: 122, resnet50: 320 keys, of
# which fc.weight and fc.bias are 2). Our encoder drops fc: 512*1000+1000 or 2048*1000+1000.
TORCHVISION = {
    # name: (total params with fc, fc params, state_dict keys without fc)
    "resnet18": (11_689_512, 512 * 1000 + 1000, 120),
    "resnet34": (21_797_672, 512 * 1000 + 1000, 216),
    "resnet50": (25_557_032, 2048 * 1000 + 1000, 318),
    "resnet101": (44_549_160, 2048 * 1000 + 1000, 624),
}

# Representative torchvision state_dict entries and their shapes.
TORCHVISION_KEYS: dict[str, dict[str, tuple[int, ...]]] = {
    "resnet18": {
        "conv1.weight": (64, 3, 7, 7),
        "bn1.running_mean": (64,),
        "bn1.num_batches_tracked": (),
        "layer1.0.conv1.weight": (64, 64, 3, 3),
        "layer1.1.bn2.bias": (64,),
        "layer2.0.downsample.0.weight": (128, 64, 1, 1),
        "layer2.0.downsample.1.running_var": (128,),
        "layer4.1.conv2.weight": (512, 512, 3, 3),
        "layer4.1.bn2.running_var": (512,),
    },
    "resnet34": {
        "layer1.2.conv2.weight": (64, 64, 3, 3),
        "layer3.5.conv2.weight": (256, 256, 3, 3),
        "layer3.0.downsample.0.weight": (256, 128, 1, 1),
        "layer4.2.bn2.weight": (512,),
    },
    "resnet50": {
        "conv1.weight": (64, 3, 7, 7),
        "layer1.0.conv1.weight": (64, 64, 1, 1),
        "layer1.0.conv2.weight": (64, 64, 3, 3),
        "layer1.0.conv3.weight": (256, 64, 1, 1),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer2.0.conv2.weight": (128, 128, 3, 3),
        "layer3.5.bn3.running_mean": (1024,),
        "layer4.0.downsample.0.weight": (2048, 1024, 1, 1),
        "layer4.2.bn3.running_var": (2048,),
    },
    "resnet101": {
        "layer3.22.conv3.weight": (1024, 256, 1, 1),
        "layer3.22.bn3.num_batches_tracked": (),
        "layer4.2.conv2.weight": (512, 512, 3, 3),
    },
}

# fp16 storage rounds each weight by up to 2**-11 relative; through the network this moved
# the ab output by 0.13 (Lab units) at most in a trial; 1.0 is below a just-noticeable
# colour difference (CIE dE ~ 2.3) and far below a broken load.
FP16_AB_TOL = 1.0

UNETS = ["unet_resnet18", "unet_resnet34", "unet_resnet50", "unet_resnet101"]
TINY = {"middle_width": 16, "decoder_widths": (32, 16, 16, 16)}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def lum(n: int, h: int, w: int, seed: int = 0) -> Tensor:
    """Random L in [0, 100], shape (n, 1, h, w)."""
    return torch.rand(n, 1, h, w, generator=torch.Generator().manual_seed(seed)) * 100


def attention_gamma(model: nn.Module) -> Tensor:
    """The gamma of the self-attention in the 1/8-scale block."""
    attn = model.get_submodule("up8.attn")
    assert isinstance(attn, SelfAttention)
    return attn.gamma


@pytest.fixture(scope="module")
def encoders() -> dict[str, resnet.ResNet]:
    return {name: getattr(resnet, name)() for name in TORCHVISION}


@pytest.fixture(scope="module")
def calibrated() -> UNet:
    """unet_resnet18 with BN statistics from data and live attention, in eval mode.

    Fresh BNs (mean 0, var 1) and gamma = 0 would let a broken load of those tensors pass.
    """
    torch.manual_seed(0)
    model = create_model("unet_resnet18", **TINY)
    with torch.no_grad():
        attention_gamma(model).fill_(0.5)
        model.train()
        for seed in range(3):
            model(lum(2, 64, 64, seed))
    return model.eval()


# --- encoder ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_encoder_param_count_is_torchvision_minus_fc(
    encoders: dict[str, resnet.ResNet], name: str
) -> None:
    total, fc, _ = TORCHVISION[name]
    assert n_params(encoders[name]) == total - fc


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_encoder_state_dict_keys_match_torchvision(
    encoders: dict[str, resnet.ResNet], name: str
) -> None:
    state = encoders[name].state_dict()
    assert len(state) == TORCHVISION[name][2]
    assert not [k for k in state if k.startswith(("fc.", "avgpool"))]
    for key, shape in TORCHVISION_KEYS[name].items():
        assert key in state, key
        assert tuple(state[key].shape) == shape, key


def test_encoder_in_chans_changes_only_the_stem() -> None:
    rgb, gray = resnet.resnet18(), resnet.resnet18(in_chans=1)
    assert tuple(gray.conv1.weight.shape) == (64, 1, 7, 7)
    assert n_params(rgb) - n_params(gray) == 64 * 2 * 7 * 7


@pytest.mark.parametrize(
    ("name", "channels"),
    [("resnet18", (64, 64, 128, 256, 512)), ("resnet50", (64, 256, 512, 1024, 2048))],
)
def test_forward_features_strides_and_channels(
    encoders: dict[str, resnet.ResNet], name: str, channels: tuple[int, ...]
) -> None:
    encoder = encoders[name].eval()
    assert encoder.channels == channels
    with torch.no_grad():
        feats = encoder.forward_features(torch.randn(1, 3, 64, 96))
    shapes = [tuple(f.shape) for f in feats]
    assert shapes == [
        (1, c, 64 // s, 96 // s) for c, s in zip(channels, (2, 4, 8, 16, 32), strict=True)
    ]


# --- decoder ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["unet_resnet18", "unet_resnet34", "unet_resnet50", "unet_resnet101"]
)
def test_unet_forward_shape(name: str) -> None:
    model = create_model(name).eval()
    with torch.no_grad():
        ab = model(lum(2, 64, 96))
    assert ab.shape == (2, 2, 64, 96)
    assert torch.isfinite(ab).all()


def test_default_widths_are_deoldify() -> None:
    # fastai v1's DynamicUnet on resnet34 has UnetBlocks of 512, 384, 256 and 96 channels
    # (its last_cross res_block works on 96 + 3 = 99).
    assert deoldify_widths(512, (256, 128, 64, 64)) == (512, 384, 256, 96)
    model = UNet(resnet.resnet34(in_chans=1))
    assert model.up2.conv2[0].out_channels == 96


def test_output_bounded_by_ab_max() -> None:
    model = create_model("unet_resnet18", ab_max=50.0, **TINY).eval()
    with torch.no_grad():
        model.get_parameter("head.0.weight").mul_(1000)  # drive tanh into saturation
        ab = model(lum(1, 64, 64))
    assert ab.abs().max() <= 50.0
    assert ab.abs().max() > 49.0  # saturated, so the bound is ab_max and not something smaller


def test_icnr_shuffle_is_nearest_upsampling() -> None:
    torch.manual_seed(0)
    up = PixelShuffleICNR(8, 4, blur=False)
    with torch.no_grad():
        y = up.shuf(up.conv(torch.randn(2, 8, 5, 7)))
        const = up.shuf(up.conv(torch.ones(1, 8, 4, 4)))
    assert y.shape == (2, 4, 10, 14)
    assert torch.equal(y, F.interpolate(y[..., ::2, ::2], scale_factor=2, mode="nearest"))
    assert torch.allclose(const, const[..., :1, :1].expand_as(const))
    assert not torch.allclose(y[:, 0], y[:, 1])  # the four output channels differ


def test_icnr_init_repeats_one_kernel_per_group() -> None:
    weight = icnr_(torch.empty(12, 5, 3, 3))
    groups = weight.view(3, 4, 5, 3, 3)
    assert torch.equal(groups, groups[:, :1].expand_as(groups))
    assert not torch.equal(groups[0, 0], groups[1, 0])


def test_blur_keeps_size() -> None:
    up = PixelShuffleICNR(8, 4, blur=True)
    assert up(torch.randn(1, 8, 3, 5)).shape == (1, 4, 6, 10)


def test_self_attention_is_identity_at_init() -> None:
    attn = SelfAttention(16)
    x = torch.randn(2, 16, 4, 6)
    assert attn.gamma.item() == 0.0
    assert torch.equal(attn(x), x)


def test_self_attention_matches_fastai_formula() -> None:
    torch.manual_seed(0)
    attn = SelfAttention(16)
    x = torch.randn(2, 16, 4, 6)
    with torch.no_grad():
        attn.gamma.fill_(0.7)
        flat = x.flatten(2)
        f, g, h = (
            F.conv1d(flat, attn.get_parameter(f"{name}.weight").squeeze(-1))
            for name in ("query", "key", "value")
        )
        beta = torch.softmax(f.transpose(1, 2) @ g, dim=1)  # fastai v1 SelfAttention.forward
        expected = (0.7 * (h @ beta) + flat).view_as(x)
        got = attn(x)
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, x)


def test_attention_sits_in_the_eighth_scale_block() -> None:
    model = create_model("unet_resnet18", **TINY)
    assert isinstance(model.up8.attn, SelfAttention)
    assert [isinstance(b.attn, SelfAttention) for b in (model.up16, model.up4, model.up2)] == [
        False,
        False,
        False,
    ]


@pytest.mark.parametrize("shape", [(1, 1, 48, 64), (1, 1, 64, 100), (1, 3, 64, 64), (1, 64, 64)])
def test_bad_input_shape_raises_naming_it(shape: tuple[int, ...]) -> None:
    model = create_model("unet_resnet18", **TINY).eval()
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        model(torch.zeros(shape))


@pytest.mark.slow
def test_spectral_norm_builds_trains_and_runs() -> None:
    model = create_model("unet_resnet18", spectral=True, **TINY)
    assert any("parametrizations.weight.original" in k for k in model.state_dict())
    ab = model.train()(lum(2, 32, 64))
    ab.abs().mean().backward()
    assert ab.shape == (2, 2, 32, 64)
    with torch.no_grad():
        assert model.eval()(lum(1, 64, 32)).shape == (1, 2, 64, 32)


# --- registry --------------------------------------------------------------------------------


def test_registry_names_and_default_size() -> None:
    assert list_models() == UNETS
    assert n_params(create_model("unet_resnet18")) <= 14_000_000  # 28 MB as fp16


def test_registry_kwargs_override_defaults() -> None:
    model = create_model("unet_resnet18", middle_width=32, ab_max=80.0)
    assert model.ab_max == 80.0
    conv = model.get_submodule("middle.3.0")
    assert isinstance(conv, nn.Conv2d)
    assert conv.out_channels == 32


def test_unknown_model_lists_known_names() -> None:
    with pytest.raises(ValueError, match=r"unet_resnet18.*unet_resnet101"):
        create_model("unet_vgg16")


# --- weights ---------------------------------------------------------------------------------


def _save(model: nn.Module, path: Path, dtype: torch.dtype = torch.float32) -> None:
    save_weights(
        model,
        path,
        arch="unet_resnet18",
        arch_kwargs=TINY,
        render_factor=35,
        extra={"trained_on": "test"},
        dtype=dtype,
    )


def test_round_trip_fp32_is_exact(calibrated: UNet, tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    _save(calibrated, path)
    model, info = load_weights(path, expected_sha256=file_sha256(path).upper())
    x = lum(2, 64, 96, seed=5)
    with torch.no_grad():
        assert torch.equal(model(x), calibrated(x))
    assert not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert (info.path, info.arch, info.render_factor) == (path, "unet_resnet18", 35)
    assert info.arch_kwargs == json.loads(json.dumps(TINY))
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert info.metadata["trained_on"] == "test"
    assert info.metadata["format"] == "vidcolor-weights"


def test_round_trip_fp16_is_close(calibrated: UNet, tmp_path: Path) -> None:
    path = tmp_path / "w16.safetensors"
    _save(calibrated, path, torch.float16)
    model, _ = load_weights(path)
    x = lum(2, 64, 96, seed=6)
    with torch.no_grad():
        diff = (model(x) - calibrated(x)).abs().max().item()
    assert 0 < diff < FP16_AB_TOL  # > 0: the file really holds fp16
    assert attention_gamma(model).item() == 0.5


@pytest.mark.slow
def test_round_trip_spectral(tmp_path: Path) -> None:
    model = create_model("unet_resnet18", spectral=True, **TINY)
    model(lum(2, 64, 64))  # one power iteration moves the u, v buffers off their init
    path = tmp_path / "s.safetensors"
    save_weights(model, path, arch="unet_resnet18", arch_kwargs={**TINY, "spectral": True},
                 render_factor=20, dtype=torch.float32)  # fmt: skip
    loaded, _ = load_weights(path)
    x = lum(1, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model.eval()(x))


def test_file_sha256_streams_blocks(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    data = bytes(range(256)) * 9000  # 2.2 MiB: three blocks
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_save_rejects_reserved_extra_and_unknown_arch(calibrated: UNet, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="arch"):
        save_weights(calibrated, tmp_path / "a", arch="unet_resnet18", arch_kwargs={},
                     render_factor=1, extra={"arch": "x"})  # fmt: skip
    with pytest.raises(ValueError, match="unet_vgg"):
        save_weights(calibrated, tmp_path / "b", arch="unet_vgg", arch_kwargs={}, render_factor=1)


@pytest.fixture(scope="module")
def tensors(calibrated: UNet) -> dict[str, Tensor]:
    return {k: v.clone().contiguous() for k, v in calibrated.state_dict().items()}


META = {
    "format": "vidcolor-weights",
    "version": "1",
    "arch": "unet_resnet18",
    "arch_kwargs": json.dumps(TINY),
    "render_factor": "35",
}


def _write(path: Path, tensors: dict[str, Tensor], **meta: str | None) -> Path:
    """Write a safetensors file with ``META`` updated by ``meta`` (None drops a key)."""
    merged = {k: v for k, v in {**META, **meta}.items() if v is not None}
    save_file(tensors, str(path), metadata=merged)
    return path


def _load_error(path: Path, **kw: str) -> str:
    with pytest.raises(WeightsError) as info:
        load_weights(path, **kw)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def test_error_missing_file(tmp_path: Path) -> None:
    assert "not found" in _load_error(tmp_path / "nope.safetensors")


def test_error_sha256_mismatch(tensors: dict[str, Tensor], tmp_path: Path) -> None:
    path = _write(tmp_path / "w.safetensors", tensors)
    message = _load_error(path, expected_sha256="ab" * 32)
    assert "ab" * 32 in message
    assert file_sha256(path) in message


def test_error_not_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "w.pth"
    path.write_bytes(b"PK\x03\x04 this is a zip/pickle, not safetensors" * 10)
    assert "not a valid safetensors file" in _load_error(path)


def test_error_truncated(tensors: dict[str, Tensor], tmp_path: Path) -> None:
    full = _write(tmp_path / "full.safetensors", tensors).read_bytes()
    path = tmp_path / "cut.safetensors"
    path.write_bytes(full[: len(full) // 2])
    assert "truncated" in _load_error(path)


def test_error_no_metadata(tmp_path: Path) -> None:
    path = tmp_path / "bare.safetensors"
    save_file({"x": torch.zeros(1)}, str(path))
    assert "'format'" in _load_error(path)


def test_error_missing_metadata_key(tensors: dict[str, Tensor], tmp_path: Path) -> None:
    path = _write(tmp_path / "w.safetensors", tensors, arch=None)
    assert "'arch'" in _load_error(path)


def test_error_unknown_arch(tensors: dict[str, Tensor], tmp_path: Path) -> None:
    path = _write(tmp_path / "w.safetensors", tensors, arch="unet_vgg16")
    message = _load_error(path)
    assert "'unet_vgg16'" in message
    assert "unet_resnet18" in message


def test_error_missing_key(tensors: dict[str, Tensor], tmp_path: Path) -> None:
    partial = {k: v for k, v in tensors.items() if k != "up8.attn.gamma"}
    assert "'up8.attn.gamma'" in _load_error(_write(tmp_path / "w.safetensors", partial))


def test_error_unexpected_key(tensors: dict[str, Tensor], tmp_path: Path) -> None:
    more = {**tensors, "fc.weight": torch.zeros(1000, 512)}
    assert "'fc.weight'" in _load_error(_write(tmp_path / "w.safetensors", more))


def test_error_wrong_shape(tensors: dict[str, Tensor], tmp_path: Path) -> None:
    bad = {**tensors, "encoder.conv1.weight": torch.zeros(64, 3, 7, 7)}
    message = _load_error(_write(tmp_path / "w.safetensors", bad))
    assert "'encoder.conv1.weight'" in message
    assert "(64, 3, 7, 7)" in message


def test_error_bad_arch_kwargs(tensors: dict[str, Tensor], tmp_path: Path) -> None:
    path = _write(tmp_path / "w.safetensors", tensors, arch_kwargs='{"depth": 3}')
    assert "depth" in _load_error(path)


def test_error_future_version(tensors: dict[str, Tensor], tmp_path: Path) -> None:
    path = _write(tmp_path / "w.safetensors", tensors, version="2")
    assert "version '2'" in _load_error(path)


def test_a_bfloat16_network_keeps_its_decoding_tables_in_float32_and_stays_close() -> None:
    torch.manual_seed(0)
    bias = (torch.randn(255) * 0.5).tolist()
    model = create_model("unet_resnet18", head="bins", logit_bias=bias).eval()
    lightness = torch.rand(1, 1, 64, 96) * 100
    with torch.inference_mode():
        reference = model(lightness)
        half = model.to(torch.bfloat16)
        assert half.encoder.conv1.weight.dtype == torch.bfloat16
        assert half.centres.dtype == half.logit_bias.dtype == torch.float32
        assert half.logit_bias.tolist() == torch.tensor(bias).tolist()  # not rounded to bf16
        ab = half(lightness)
    assert ab.dtype == torch.float32
    assert (ab - reference).abs().mean() < 0.5  # ab units; 1 is about the least visible step


# Hint inputs (issue 16; Zhang et al. 2017): L + sparse ab hints + mask.


def _hint_at(lum_t: Tensor, y: int, x: int, side: int, ab: tuple[float, float]):
    n, _, h, w = lum_t.shape
    hint, mask = torch.zeros(n, 2, h, w), torch.zeros(n, 1, h, w)
    hint[:, 0, y : y + side, x : x + side] = ab[0]
    hint[:, 1, y : y + side, x : x + side] = ab[1]
    mask[:, :, y : y + side, x : x + side] = 1.0
    return hint, mask


def test_hint_network_takes_four_channels_and_zero_hints_are_the_automatic_mode() -> None:
    torch.manual_seed(0)
    model = create_model("unet_resnet18", head="bins", hints=True, **TINY).eval()
    assert model.hints and model.encoder.conv1.weight.shape == (64, 4, 7, 7)
    x = lum(1, 64, 96)
    zeros = torch.zeros(1, 2, 64, 96), torch.zeros(1, 1, 64, 96)
    with torch.no_grad():
        assert torch.equal(model(x), model(x, *zeros))


def test_hints_change_the_output_where_they_are_given() -> None:
    torch.manual_seed(0)
    model = create_model("unet_resnet18", head="bins", hints=True, **TINY).eval()
    x = lum(1, 96, 96)
    with torch.no_grad():
        auto = model(x)
        hinted = model(x, *_hint_at(x, 10, 10, 5, (60.0, -40.0)))
    change = (hinted - auto).abs().sum(dim=1)[0]
    near, far = change[8:17, 8:17].mean(), change[64:, 64:].mean()
    assert near > 0.05 and near > 5 * far


def test_hints_are_refused_by_a_network_without_hint_inputs() -> None:
    model = create_model("unet_resnet18", **TINY).eval()
    x = lum(1, 32, 32)
    with pytest.raises(ValueError, match="takes no hints"):
        model(x, *_hint_at(x, 0, 0, 2, (1.0, 1.0)))
    hinting = create_model("unet_resnet18", hints=True, **TINY).eval()
    with pytest.raises(ValueError, match="together"):
        hinting(x, torch.zeros(1, 2, 32, 32))
    with pytest.raises(ValueError, match="shape"):
        hinting(x, torch.zeros(1, 2, 32, 64), torch.zeros(1, 1, 32, 64))


@pytest.mark.slow
def test_weights_say_whether_they_take_hints(tmp_path: Path) -> None:
    torch.manual_seed(0)
    for hints in (False, True):
        model = create_model("unet_resnet18", head="bins", hints=hints, **TINY)
        kwargs = {"head": "bins", **TINY, **({"hints": True} if hints else {})}
        save_weights(model, tmp_path / f"{hints}.safetensors", arch="unet_resnet18",
                     arch_kwargs=kwargs, render_factor=4)  # fmt: skip
    old, info = load_weights(tmp_path / "False.safetensors")  # a v1-style, 1-channel file
    assert isinstance(old, UNet) and not old.hints and "hints" not in info.arch_kwargs
    assert old.encoder.conv1.weight.shape[1] == 1
    new, info = load_weights(tmp_path / "True.safetensors")
    assert new.hints and info.arch_kwargs["hints"] is True
    frames = np.random.default_rng(0).uniform(0, 100, (2, 64, 64)).astype(np.float32)
    hint_ab = np.zeros((2, 2, 64, 64), np.float32)
    hint_mask = np.zeros((2, 1, 64, 64), np.float32)
    hint_ab[:, :, 20:26, 20:26], hint_mask[:, :, 20:26, 20:26] = 50.0, 1.0

    def colorizer(name: str) -> Colorizer:
        path = str(tmp_path / name)
        return Colorizer(ModelConfig(path, render_factor=4, batch_size=1, device="cpu",
                                     precision="float32"))  # fmt: skip

    auto = colorizer("False.safetensors")
    assert not auto.accepts_hints and auto.predict(frames).shape == (2, 2, 64, 64)
    with pytest.raises(ConfigError, match="take no color hints"):
        auto.predict(frames, hint_ab, hint_mask)
    guided = colorizer("True.safetensors")
    assert guided.accepts_hints
    plain = guided.predict(frames)
    assert np.array_equal(plain, guided.predict(frames, 0 * hint_ab, 0 * hint_mask))
    change = np.abs(guided.predict(frames, hint_ab, hint_mask) - plain)
    assert change[..., 20:26, 20:26].mean() > 0.05
