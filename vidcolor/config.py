"""Configuration: frozen dataclasses, the only place defaults live.

A config is built from the defaults, then a YAML file (``--config``), then ``--set key=value``
overrides, in that order. Every key, type and value is checked: a wrong one raises
:class:`~vidcolor.errors.ConfigError` naming the key and what it accepts.
``configs/default.yaml`` mirrors these defaults; a test keeps the two equal.

The choice lists live here once (the CLI's ``choices`` and every module that dispatches on a
choice read them from here), and so do the checks that span keys (:meth:`Config.__post_init__`).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vidcolor.errors import ConfigError

CODECS = ("h264", "ffv1", "prores")
SMOOTH_MODES = ("flow", "window", "off")
DECODERS = ("pyav", "decord", "auto")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "float32", "bfloat16", "float16")
TRANSFERS = ("auto", "ray", "shared")
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower",
           "veryslow")  # fmt: skip


def _choice(default: str, *choices: str) -> Any:
    return field(default=default, metadata={"choices": choices})


def _range(default: float | None, lo: float, hi: float) -> Any:
    return field(default=default, metadata={"range": (lo, hi)})


@dataclass(frozen=True)
class ModelConfig:
    """Which network colorizes, and how frames are fed to it."""

    weights: str | None = "default"
    arch: str = "unet_resnet18"
    render_factor: int = _range(21, 4, 128)
    batch_size: int = _range(0, 0, 256)  # 0: 1 on CPU, 8 on CUDA (Colorizer)
    device: str = _choice("auto", *DEVICES)
    precision: str = _choice("auto", *PRECISIONS)  # Colorizer


@dataclass(frozen=True)
class SmoothConfig:
    """Temporal smoothing of the predicted chroma, and the scene cuts it stops at."""

    mode: str = _choice("flow", *SMOOTH_MODES)
    radius: int = _range(4, 0, 32)
    luma_tolerance: float = _range(24.0, 0.1, 100.0)
    cut_threshold: float = _range(0.15, 0.0, 1.0)
    detect_cuts: bool = True
    cuts: str | int | None = None

    @property
    def halo(self) -> int:
        """Frames each side of a frame that its smoothed colors depend on: the radius, or 0
        when smoothing is off. Chunks read this many frames beyond their own."""
        return 0 if self.mode == "off" else self.radius


@dataclass(frozen=True)
class ChunkConfig:
    """How the film is cut into independent units of work."""

    size: int = _range(240, 1, 1_000_000)


@dataclass(frozen=True)
class DecodeConfig:
    """Which library reads frames, and what becomes of frames it cannot decode."""

    backend: str = _choice("pyav", *DECODERS)
    skip_bad_frames: bool = False  # replace them by their neighbours' pictures (read_frames)


@dataclass(frozen=True)
class EncodeConfig:
    """How each colorized segment is encoded."""

    codec: str = _choice("h264", *CODECS)
    crf: int = _range(17, 0, 51)
    preset: str = _choice("medium", *PRESETS)


@dataclass(frozen=True)
class RunConfig:
    """Where the work runs."""

    workers: int = _range(0, 0, 4096)
    cpus_per_worker: int = _range(2, 1, 1024)
    gpus_per_worker: float | None = _range(None, 0.0, 64.0)
    address: str | None = None
    work_dir: str | None = None
    transfer: str = _choice("auto", *TRANSFERS)
    resume: bool = True
    keep_work: bool = False


@dataclass(frozen=True)
class Config:
    """The whole effective configuration of one run."""

    model: ModelConfig = field(default_factory=ModelConfig)
    smooth: SmoothConfig = field(default_factory=SmoothConfig)
    chunks: ChunkConfig = field(default_factory=ChunkConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    encode: EncodeConfig = field(default_factory=EncodeConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        """The checks that span keys: each setting alone has been checked by then."""
        if self.decode.skip_bad_frames and self.decode.backend == "decord":
            raise ConfigError(
                "config key decode.skip_bad_frames needs decode.backend pyav or auto: decord "
                "cannot tell a damaged frame"
            )


def load_config(path: Path | None = None, overrides: typing.Sequence[str] = ()) -> Config:
    """Builds the effective config: defaults, then the YAML file, then ``key=value`` overrides.

    Args:
        path: A YAML file with any subset of the sections and keys of ``configs/default.yaml``.
        overrides: Strings like ``"model.render_factor=24"``; values are parsed as YAML scalars.

    Raises:
        ConfigError: naming the key for an unknown key, a wrong type or an out-of-range value.
    """
    tree: dict[str, Any] = {}
    if path is not None:
        tree = _read_yaml(path)
    for item in overrides:
        key, sep, raw = item.partition("=")
        section, _, name = key.strip().partition(".")
        if not sep or not section or not name:
            raise ConfigError(f"--set expects section.key=value, got {item!r}")
        tree.setdefault(section, {})
        if not isinstance(tree[section], dict):
            raise ConfigError(f"config section {section!r} must be a mapping")
        tree[section][name] = _scalar(raw)
    return _build(Config, tree, prefix="")


def _scalar(raw: str) -> Any:
    """A ``--set`` value parsed as YAML; text YAML cannot parse (``@x``, ``[1``) stays text, and
    the key's own check then says what the key accepts."""
    if not raw.strip():
        return None
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def to_dict(config: Config) -> dict[str, Any]:
    """The config as plain nested dicts, as it would be written in YAML."""
    return dataclasses.asdict(config)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping; PyYAML keeps the last one
    silently, so a second ``model:`` section would drop the first without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise ConfigError(
                        f"config file {self.name} sets {key_node.value!r} twice (line "
                        f"{key_node.start_mark.line + 1}); keep one"
                    )
                seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=_StrictLoader)  # a SafeLoader: plain data only
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(f"cannot read config file {path}: {reason}; give a YAML file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}".splitlines()[0]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of sections")
    return data


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            where = f"in {prefix.rstrip('.')}" if prefix else "sections"
            raise ConfigError(
                f"unknown config key {prefix}{key}{_suggest(str(key), list(known), prefix)}; "
                f"known {where}: {', '.join(known)}"
            )
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                keys = ", ".join(f.name for f in dataclasses.fields(hint))
                raise ConfigError(
                    f"config section {prefix}{name} must be a mapping of its keys ({keys}); "
                    f"got {value!r}"
                )
            kwargs[name] = _build(typing.cast(type, hint), value, prefix=f"{prefix}{name}.")
        else:
            kwargs[name] = _check(f"{prefix}{name}", hint, value, known[name].metadata)
    return cls(**kwargs)


def _suggest(key: str, known: list[str], prefix: str) -> str:
    """`` (did you mean X?)`` for a key that belongs to another section, or a near miss."""
    homes = [
        f"{section}.{key}"
        for section, hint in typing.get_type_hints(Config).items()
        if key in {f.name for f in dataclasses.fields(hint)}
    ]
    guess = homes or [prefix + k for k in difflib.get_close_matches(key, known, n=1)]
    return f" (did you mean {' or '.join(guess)}?)" if guess else ""


def _check(key: str, hint: Any, value: Any, meta: typing.Mapping[str, Any]) -> Any:
    allowed = _allowed_types(hint)
    if value is None:
        if type(None) in allowed:
            return None
        raise ConfigError(f"config key {key} may not be empty; it takes {_accepts(allowed, meta)}")
    if float in allowed and type(value) is int:
        value = float(value)
    ok = type(value) in allowed  # bool is not int here: `render_factor: true` is a mistake
    if ok and "choices" in meta:
        ok = value in meta["choices"]
    if ok and "range" in meta:
        lo, hi = meta["range"]
        ok = lo <= value <= hi  # also refuses NaN
    if not ok:
        raise ConfigError(f"config key {key} must be {_accepts(allowed, meta)}; got {value!r}")
    return value


_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _accepts(allowed: tuple[type, ...], meta: typing.Mapping[str, Any]) -> str:
    """What a key takes, in words: ``one of flow, window, off``, ``an integer between 0 and 32``."""
    if "choices" in meta:
        return f"one of {', '.join(meta['choices'])}"
    words = " or ".join(_TYPE_WORDS.get(t, t.__name__) for t in allowed if t is not type(None))
    if "range" in meta:
        lo, hi = meta["range"]
        words += f" between {lo} and {hi}"
    return words + (" (or null)" if type(None) in allowed else "")


def _allowed_types(hint: Any) -> tuple[type, ...]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)
