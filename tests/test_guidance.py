"""Guidance inputs: reference pictures (named by frame, checked to show it) and hint CSVs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from media import CUT_SPEC, decode_all_luma

from vidcolor.errors import InputError
from vidcolor.guidance import (
    Guidance,
    frame_number,
    load_guidance,
    load_references,
    read_hints,
)
from vidcolor.guidance.match import THRESHOLD
from vidcolor.media import VideoInfo, VideoStreamInfo
from vidcolor.probing import probe

SEPIA = (1.0, 0.85, 0.62)  # RGB gains: a warm tint whose b (yellow) is positive


def picture(luma: np.ndarray, *, gamma: float = 1.0, tint: tuple[float, ...] = SEPIA,
            size: tuple[int, int] | None = None, depth: int = 8) -> np.ndarray:  # fmt: skip
    """A color picture of a frame (BGR, for cv2.imwrite) under another tone curve and tint."""
    gray = (luma.astype(np.float64) / luma.max()) ** gamma
    rgb = np.clip(gray[..., None] * np.array(tint), 0, 1)
    if size is not None:
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
    top = 255 if depth == 8 else 65535
    return np.round(rgb[..., ::-1] * top).astype(np.uint8 if depth == 8 else np.uint16)


@pytest.fixture(scope="module")
def cut_info(cut_clip: Path) -> VideoInfo:
    return probe(cut_clip)


@pytest.fixture(scope="module")
def cut_luma(cut_clip: Path) -> list[np.ndarray]:
    return decode_all_luma(cut_clip)


def write(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


# ------------------------------------------------------------------ names


@pytest.mark.parametrize(
    ("name", "frame"),
    [("000450.png", 450), ("ref_000450.jpg", 450), ("shot3_450.tif", 450), ("7.jpeg", 7),
     ("take2.000012.tiff", 12), ("0.png", 0)],
)  # fmt: skip
def test_the_frame_number_is_the_last_digits_of_the_stem(name: str, frame: int) -> None:
    assert frame_number(Path(name)) == frame


@pytest.mark.parametrize("name", ["ref.png", "450_ref.png", "shot3a.jpg"])
def test_a_name_without_a_frame_number_is_refused(name: str) -> None:
    with pytest.raises(InputError, match=rf"{name}: a reference's name must end in"):
        frame_number(Path(name))


# ------------------------------------------------------------------ references


def test_a_true_frame_with_another_tone_curve_passes(
    cut_info: VideoInfo, cut_luma: list[np.ndarray], tmp_path: Path
) -> None:
    # Twice the size, gamma 0.6 and a sepia tint: another tool's rendering of frame 10.
    path = write(tmp_path / "ref_000010.png", picture(cut_luma[10], gamma=0.6, size=(320, 192)))
    (ref,) = load_references([path], cut_info)
    assert ref.frame == 10 and ref.score >= THRESHOLD
    assert ref.ab.shape == (2, 96, 160) and ref.ab.dtype == np.float32
    assert ref.lightness.shape == (96, 160)
    # The tint's chroma, from OpenCV's own Lab (an independent implementation).
    tint = cv2.cvtColor(np.array([[SEPIA]], np.float32), cv2.COLOR_RGB2Lab)[0, 0]
    bright = ref.lightness > 50  # where the tint is far from black
    assert np.median(ref.ab[1][bright]) == pytest.approx(tint[2] * 0.6, rel=0.5)
    assert np.median(ref.ab[1][bright]) > 10 and abs(np.median(ref.ab[0][bright])) < 15
    # A 16-bit JPEG-free TIFF of the same frame, in a folder, gives the same digest's kind.
    tiff = write(tmp_path / "set" / "frame10.tif", picture(cut_luma[10], depth=16))
    (again,) = load_references([tiff.parent], cut_info)
    assert again.frame == 10 and again.score >= THRESHOLD
    assert again.digest() != ref.digest()  # another image
    assert load_references([path], cut_info)[0].digest() == ref.digest()


def test_a_wrong_frame_is_refused_naming_the_nearest_match(
    cut_info: VideoInfo, cut_luma: list[np.ndarray], tmp_path: Path
) -> None:
    path = write(tmp_path / "000010.png", picture(cut_luma[40], gamma=1.4))  # another shot
    with pytest.raises(InputError) as caught:
        load_references([path], cut_info)
    message = str(caught.value)
    assert f"{path} does not show frame 10 (match " in message
    assert f"needs {THRESHOLD:.2f}" in message
    assert "it matches frame 40 (" in message and "rename it to end in 000040" in message


def test_a_frame_20_frames_away_in_the_same_shot_is_refused(
    cut_info: VideoInfo, cut_luma: list[np.ndarray], tmp_path: Path
) -> None:
    path = write(tmp_path / "000025.png", picture(cut_luma[5]))
    with pytest.raises(InputError, match=r"does not show frame 25 .* it matches frame 5 "):
        load_references([path], cut_info)


def test_refusals_before_any_match(
    cut_info: VideoInfo, cut_luma: list[np.ndarray], tmp_path: Path
) -> None:
    good = picture(cut_luma[3])
    past = write(tmp_path / "a" / f"{CUT_SPEC.frames:06d}.png", good)
    with pytest.raises(InputError, match=rf"{past}: frame {CUT_SPEC.frames} is past the video"):
        load_references([past], cut_info)
    one, two = write(tmp_path / "b" / "000003.png", good), write(tmp_path / "b" / "ref_3.jpg", good)
    with pytest.raises(InputError, match=rf"two references for frame 3: {one} and {two}"):
        load_references([one.parent], cut_info)
    text = tmp_path / "c" / "000003.png"
    text.parent.mkdir()
    text.write_text("not a picture")
    with pytest.raises(InputError, match=rf"{text}: not an image OpenCV can read"):
        load_references([text], cut_info)
    wide = write(tmp_path / "d" / "000003.png", picture(cut_luma[3], size=(164, 96)))  # 2.5%
    with pytest.raises(InputError, match=rf"{wide}: 164x96 .* not the video's shape \(160x96"):
        load_references([wide], cut_info)
    within = write(tmp_path / "e" / "000003.png", picture(cut_luma[3], size=(161, 96)))  # 0.6%
    assert load_references([within], cut_info)[0].ab.shape == (2, 96, 160)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"holds no \.png/\.jpg"):
        load_references([tmp_path / "empty"], cut_info)
    with pytest.raises(InputError, match="no such file or folder"):
        load_references([tmp_path / "missing.png"], cut_info)


def test_a_picture_without_color(
    cut_info: VideoInfo, cut_luma: list[np.ndarray], tmp_path: Path
) -> None:
    gray = write(tmp_path / "shots" / "000000.png", cut_luma[0])  # as vidcolor shots writes it
    with pytest.raises(InputError, match=rf"{gray} has no color: it would make frame 0 gray"):
        load_references([gray], cut_info)
    painted = write(tmp_path / "shots" / "000030.png", picture(cut_luma[30]))
    notes: list[str] = []
    found = load_references([gray.parent], cut_info, on_note=notes.append)
    assert [r.path for r in found] == [painted]  # the unpainted one is left out, and said so
    assert notes == [f"{gray} has no color (not painted?): left out"]


def test_the_display_aspect_of_non_square_pixels(
    make_cached_clip: Callable[..., Path], tmp_path: Path
) -> None:
    clip = make_cached_clip("sar.mp4", frames=8, sar=Fraction(2, 1))
    info = probe(clip)
    assert info.video.sar == 2
    luma = decode_all_luma(clip)[2]
    stored = write(tmp_path / "s" / "000002.png", picture(luma))  # as vidcolor shots writes
    shown = write(tmp_path / "d" / "000002.png", picture(luma, size=(320, 96)))  # as displayed
    for path in (stored, shown):
        assert load_references([path], info)[0].ab.shape == (2, 96, 160)
    between = write(tmp_path / "b" / "000002.png", picture(luma, size=(240, 96)))
    with pytest.raises(InputError, match=r"aspect 1.6667 or 3.3333"):
        load_references([between], info)


@pytest.mark.shared
def test_a_real_clip_recolored_by_another_tool(shared_media: Path, tmp_path: Path) -> None:
    from vidcolor.decode import read_frames

    info = probe(shared_media / "chaplin.mp4")
    lumas = {f.index: f.luma for f in read_frames(info, 100, 141)}
    toned = write(tmp_path / "ok" / "chaplin_100.jpg", picture(lumas[100], gamma=1.5))
    assert load_references([toned], info)[0].score >= THRESHOLD
    wrong = write(tmp_path / "bad" / "chaplin_100.jpg", picture(lumas[140], gamma=0.7))
    nearest = r"it matches frame 1(39|40|41) "
    with pytest.raises(InputError, match=rf"does not show frame 100 .* {nearest}"):
        load_references([wrong], info)


@pytest.mark.shared
def test_a_true_color_frame_of_a_color_clip(shared_media: Path, tmp_path: Path) -> None:
    clip = shared_media / "davis" / "davis_camel.mp4"
    with av.open(str(clip)) as container:
        rgb = next(container.decode(video=0)).to_ndarray(format="rgb24")
    path = write(tmp_path / "camel_0.png", rgb[..., ::-1])
    (ref,) = load_references([path], probe(clip))
    assert ref.score >= THRESHOLD
    truth = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)  # OpenCV's own Lab
    assert np.abs(ref.ab.transpose(1, 2, 0) - truth[..., 1:]).mean() < 0.5


# ------------------------------------------------------------------ hints


VIDEO = VideoStreamInfo(
    index=0, codec="h264", width=160, height=96, pix_fmt="yuv420p", bit_depth=8,
    fps=Fraction(24), time_base=Fraction(1, 24), pts=tuple(range(60)), vfr=False,
    sar=Fraction(1), rotation=0, color_range="tv", color_space="unknown",
    color_primaries="unknown", color_trc="unknown", field_order="progressive",
)  # fmt: skip


def hints_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hints.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_hints_are_read_per_frame(tmp_path: Path) -> None:
    path = hints_file(tmp_path, "\ufeffframe,x,y,r,g,b,radius\n30,159,95,255,0,0,5\n\n"
                      "0,10,20,0,0,255,0\n30,1,2,10,200,10,3\n")  # fmt: skip
    first, second = read_hints(path, VIDEO)
    assert first.frame == 0 and second.frame == 30
    assert [(p.x, p.y, p.radius, p.line) for p in second.points] == [(159, 95, 5, 2), (1, 2, 3, 5)]
    # ab from OpenCV's float Lab of pure red (an independent implementation).
    red = cv2.cvtColor(np.array([[[1.0, 0.0, 0.0]]], np.float32), cv2.COLOR_RGB2Lab)[0, 0]
    assert second.points[0].ab == pytest.approx((red[1], red[2]), abs=0.1)
    plain = read_hints(hints_file(tmp_path, "frame,x,y,r,g,b\n4,0,0,1,2,3\n"), VIDEO)
    assert plain[0].points[0].radius == 3  # the default
    same = read_hints(hints_file(tmp_path, "x,y,frame,r,g,b,radius\n0,0,4,1,2,3,3\n"), VIDEO)
    assert same[0].digest() == plain[0].digest()  # column order and line are not content
    moved = dataclasses.replace(plain[0].points[0], x=1)
    assert dataclasses.replace(plain[0], points=(moved,)).digest() != plain[0].digest()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frame,x,y,r,g\n0,1,2,3,4\n", r"line 1: the header must be frame,x,y,r,g,b"),
        ("frame,x,y,r,g,b,size\n", r"line 1: the header must be"),
        ("frame,x,y,r,g,b\n0,1,2,3,4,5\n0,1,2,3,4\n", r"line 3: 5 values, but the header has 6"),
        ("frame,x,y,r,g,b\n\n0,1.5,2,3,4,5\n", r"line 3: x '1.5' is not an integer"),
        ("frame,x,y,r,g,b\n0,1,2,3,4,5\n60,1,2,3,4,5\n", r"line 3: frame 60 is not in the video"),
        ("frame,x,y,r,g,b\n0,160,2,3,4,5\n", r"line 2: pixel \(160, 2\) is outside the picture"),
        ("frame,x,y,r,g,b\n0,1,-1,3,4,5\n", r"line 2: pixel \(1, -1\) is outside"),
        ("frame,x,y,r,g,b\n0,1,2,3,256,5\n", r"line 2: color \(3, 256, 5\) is out of range"),
        ("frame,x,y,r,g,b,radius\n0,1,2,3,4,5,-2\n", r"line 2: radius -2 is out of range"),
        ('frame,x,y,r,g,b\n0,1,2,3,4,"5\n', r"line 2: not CSV"),
        ("frame,x,y,r,g,b\n", r"holds no hints"),
    ],
)
def test_a_wrong_hints_file_is_refused_naming_its_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        read_hints(hints_file(tmp_path, text), VIDEO)


def test_load_guidance_and_its_digest(
    cut_info: VideoInfo, cut_luma: list[np.ndarray], tmp_path: Path
) -> None:
    ref = write(tmp_path / "refs" / "000012.png", picture(cut_luma[12]))
    hints = hints_file(tmp_path, "frame,x,y,r,g,b\n40,5,5,200,10,10\n")
    guidance = load_guidance(cut_info, [ref.parent], hints)
    assert guidance.frames == (12, 40)
    renamed = write(tmp_path / "other" / "take_12.png", picture(cut_luma[12]))
    same = load_guidance(cut_info, [renamed], hints)
    assert same.digest() == guidance.digest()  # the same pictures and hints, named otherwise
    assert Guidance(guidance.references).digest() != guidance.digest()
    assert Guidance().digest() != guidance.digest()
    with pytest.raises(InputError, match="line 2: frame 99 is not in the video"):
        load_guidance(cut_info, [ref], hints_file(tmp_path, "frame,x,y,r,g,b\n99,0,0,0,0,0\n"))
