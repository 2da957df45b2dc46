import numpy as np
import pytest
import torch

from vidcolor import color
from vidcolor.models import abbins, create_model


def test_bins_cover_the_srgb_gamut_and_nothing_far_outside():
    centres = abbins.bin_centres()
    assert 200 < len(centres) < 330
    # Every sRGB color's ab lies within half a cell diagonal of some bin centre.
    rgb = torch.rand(3, 64, 64, dtype=torch.float64)
    ab = color.rgb_to_lab(rgb)[1:].reshape(2, -1).T.numpy()
    nearest = np.sqrt(((ab[:, None] - centres[None]) ** 2).sum(-1)).min(1)
    assert nearest.max() <= abbins.GRID / np.sqrt(2) + 1e-6
    # Pure sRGB primaries sit in the extreme cells: (a, b) of blue is about (79, -108).
    assert np.abs(centres - [80.0, -110.0]).sum(1).min() == 0


def test_soft_encoding_is_a_distribution_peaked_at_the_nearest_bin():
    centres = torch.from_numpy(abbins.bin_centres())
    ab = torch.tensor([[[[12.0]], [[-33.0]]]])  # (1, 2, 1, 1)
    target = abbins.soft_encode(ab, centres)
    assert target.shape == (1, len(centres), 1, 1)
    assert torch.isclose(target.sum(), torch.tensor(1.0))
    assert (target > 0).sum() == abbins.NEIGHBOURS
    assert target.argmax(1).item() == abbins.nearest_bin(ab, centres).item()
    assert centres[target.argmax(1).item()].tolist() == [10.0, -30.0]


def test_annealed_mean_of_a_confident_prediction_is_its_bin():
    centres = torch.from_numpy(abbins.bin_centres())
    logits = torch.full((1, len(centres), 2, 3), -20.0)
    logits[:, 17] = 20.0
    ab = abbins.annealed_mean(logits, centres)
    assert torch.allclose(ab, centres[17][None, :, None, None].expand(1, 2, 2, 3), atol=1e-4)


def test_head_decoded_in_blocks_equals_the_conv_then_the_annealed_mean():
    torch.manual_seed(0)
    centres = torch.from_numpy(abbins.bin_centres())
    q, c = len(centres), 9
    conv = torch.nn.Conv2d(c, q, 1)
    bias = torch.randn(q)
    # More pixels than one block, and a count that is not a multiple of it.
    features = torch.randn(2, c, 40, 61).contiguous(memory_format=torch.channels_last)
    assert abbins.DECODE_BLOCK < 2 * 40 * 61
    with torch.no_grad():
        expected = abbins.annealed_mean(conv(features), centres, 0.5, bias)
        ab = abbins.decode_head(features, conv.weight, conv.bias, centres, 0.5, bias)
    assert ab.shape == (2, 2, 40, 61)
    torch.testing.assert_close(ab, expected, atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match=r"\(255, 9, 1, 1\) head weight, got \(255, 9, 3, 3\)"):
        abbins.decode_head(features, torch.zeros(q, c, 3, 3), conv.bias, centres)


def test_rebalancing_favours_rare_bins_and_keeps_mean_weight_one():
    q = len(abbins.bin_centres())
    counts = np.ones(q)
    counts[0] = 1000.0  # one very common (e.g. gray) bin
    w = abbins.rebalance_weights(counts)
    assert w[0] < w[1:].min()
    smooth_p = counts / counts.sum()  # the expectation holds approximately for the raw p too
    assert 0.5 < float((smooth_p * w).sum()) < 1.5


def test_soft_neighbours_match_the_dense_soft_encoding():
    centres = torch.from_numpy(abbins.bin_centres())
    ab = torch.rand(2, 2, 9, 11, generator=torch.Generator().manual_seed(1)) * 180 - 90
    ab = ab.round()  # the lookup table is exact on whole ab units
    idx, weights = abbins.soft_neighbours(ab)
    dense = torch.zeros(2, len(centres), 9, 11).scatter_(1, idx, weights)
    assert torch.allclose(dense, abbins.soft_encode(ab, centres), atol=1e-6)

    # The first neighbour is a nearest bin (whole units can tie between two bins).
    def distance(bins):
        return (centres[bins].permute(0, 3, 1, 2) - ab).norm(dim=1)

    assert torch.allclose(distance(idx[:, 0]), distance(abbins.nearest_bin(ab, centres)))


def test_prior_bias_is_log_rebalancing_and_zero_without_it():
    counts = np.arange(1, len(abbins.bin_centres()) + 1, dtype=np.float64)
    assert np.allclose(abbins.prior_bias(counts, 1.0), 0.0, atol=1e-6)
    bias = abbins.prior_bias(counts, 0.5)
    assert bias[0] > bias[-1]  # the rarest bin is favoured most
    assert np.allclose(np.exp(bias), abbins.rebalance_weights(counts, 0.5), rtol=1e-5)


def test_logit_bias_moves_the_decoded_color_toward_favoured_bins():
    centres = abbins.bin_centres()
    favoured = int(np.argmax(centres[:, 0]))  # the reddest bin
    bias = np.zeros(len(centres), np.float32)
    bias[favoured] = 5.0
    lum = torch.full((1, 1, 32, 32), 50.0)
    plain = create_model("unet_resnet18", head="bins").eval()
    biased = create_model("unet_resnet18", head="bins", logit_bias=bias.tolist()).eval()
    biased.load_state_dict(plain.state_dict())  # the bias is not a weight: same keys
    with torch.no_grad():
        assert (biased(lum)[:, 0] > plain(lum)[:, 0] + 1).all()
    with pytest.raises(ValueError, match="logit_bias needs 255 values"):
        create_model("unet_resnet18", head="bins", logit_bias=[0.0, 1.0])
