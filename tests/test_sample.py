"""``vidcolor sample``'s film: gray, 18 fps, with audio and one cut, as the quick start shows."""

from __future__ import annotations

from fractions import Fraction

from media import audio_packets, decode_all_luma

from vidcolor.probing import probe
from vidcolor.sample import write_sample
from vidcolor.temporal.cuts import CutDetector


def test_the_sample_is_a_gray_18_fps_film_with_sound_and_a_cut_halfway(tmp_path):
    path = write_sample(tmp_path / "sample.mp4", seconds=2.0, size=(160, 120))
    info = probe(path)
    assert info.video.fps == Fraction(18) and info.video.frame_count == 36
    assert (info.video.width, info.video.height) == (160, 120)
    assert not info.video.has_color
    assert len(audio_packets(path)) > 0
    detector = CutDetector(0.15)
    cuts = [i for i, y in enumerate(decode_all_luma(path)) if detector.is_cut(i, y / 255.0)]
    assert cuts == [0, 18]  # the first frame always starts a shot
