from pathlib import Path

import pytest
import yaml
from media import make_clip

from vidcolor.cli import main
from vidcolor.config import Config, load_config, to_dict
from vidcolor.errors import ConfigError

DEFAULT_YAML = Path(__file__).parent.parent / "configs" / "default.yaml"


def test_default_yaml_equals_code_defaults():
    assert yaml.safe_load(DEFAULT_YAML.read_text()) == to_dict(Config())
    assert load_config(DEFAULT_YAML) == Config()


def test_file_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  render_factor: 30\nsmooth:\n  radius: 5\n")
    config = load_config(path, ["model.render_factor=12", "encode.codec=ffv1"])
    assert config.model.render_factor == 12
    assert config.smooth.radius == 5
    assert config.encode.codec == "ffv1"
    assert config.model.batch_size == Config().model.batch_size


def test_set_null_and_float_from_int():
    config = load_config(None, ["model.weights=null", "smooth.cut_threshold=0"])
    assert config.model.weights is None
    assert config.smooth.cut_threshold == 0.0 and isinstance(config.smooth.cut_threshold, float)


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("model.colour=3", ["model.colour", "render_factor"]),
        ("modle.arch=x", ["modle", "model"]),
        ("model.render_factor=abc", ["model.render_factor", "int"]),
        ("model.render_factor=true", ["model.render_factor", "int"]),
        ("model.render_factor=2", ["model.render_factor", "between 4 and 128"]),
        ("encode.codec=vp9", ["encode.codec", "h264, ffv1, prores"]),
        ("model.arch=null", ["model.arch", "empty"]),
        ("renderfactor", ["section.key=value"]),
        ("model.radius=3", ["model.radius", "did you mean smooth.radius", "render_factor"]),
        ("smooth.radios=3", ["smooth.radios", "did you mean smooth.radius"]),
        ("model.render_factor=[4", ["model.render_factor", "integer between 4 and 128", "'[4'"]),
        ("smooth.mode=3", ["smooth.mode", "one of flow, window, off"]),
        ("smooth.cut_threshold=.nan", ["smooth.cut_threshold", "between 0.0 and 1.0"]),
        ("smooth.detect_cuts=maybe", ["smooth.detect_cuts", "true or false"]),
        ("run.gpus_per_worker=-1", ["run.gpus_per_worker", "between 0.0 and 64.0"]),
        ("model.render_factor=", ["model.render_factor", "empty", "between 4 and 128"]),
        (".radius=3", ["section.key=value"]),
        ("model.=3", ["section.key=value"]),
    ],
)
def test_bad_values_name_the_key(override, words):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    for word in words:
        assert word in str(info.value)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)
    bad.write_text("model: 3\n")
    with pytest.raises(ConfigError, match="section model must be a mapping"):
        load_config(bad)


def test_text_yaml_cannot_parse_is_taken_as_text():
    # '@' cannot start a YAML scalar; the text stays text, and the key's own check judges it.
    assert load_config(None, ["run.work_dir=@archive"]).run.work_dir == "@archive"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("model:\n  radius: 3\n", ["model.radius", "did you mean smooth.radius", "render_factor"]),
        ("radius: 3\n", ["unknown config key radius", "did you mean smooth.radius", "sections"]),
        ("smoth:\n  radius: 3\n", ["smoth", "did you mean smooth"]),
        ("smooth:\n  mode: blur\n", ["smooth.mode", "one of flow, window, off", "'blur'"]),
        ("encode:\n  crf: 60\n", ["encode.crf", "integer between 0 and 51", "60"]),
        ("run:\n  resume: maybe\n", ["run.resume", "true or false"]),
        ("model: 3\n", ["section model", "render_factor", "got 3"]),
        ("model:\n  arch: x\nsmooth: {}\nmodel:\n  device: cpu\n", ["'model' twice", "line 4"]),
        ("smooth:\n  radius: 2\n  radius: 3\n", ["'radius' twice", "line 3"]),
    ],
)
def test_bad_files_name_the_key_and_what_it_takes(tmp_path, text, words):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    for word in words:
        assert word in str(info.value)


def test_unreadable_files_and_code_tags_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path)  # a folder
    binary = tmp_path / "c.yaml"
    binary.write_bytes(b"model:\n  arch: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)
    marker = tmp_path / "MARKER"
    binary.write_text(f"model:\n  arch: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(binary)
    assert not marker.exists()


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("cfg") / "clip.mkv", frames=2, size=(64, 32),
                     codec="ffv1")  # fmt: skip


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--config", "{tmp}/c.yaml"], ["model.radius", "smooth.radius", "render_factor"]),
        (["--set", "model.radius=3"], ["model.radius", "smooth.radius"]),
        (["--set", "smooth.mode=blur"], ["smooth.mode", "flow, window, off"]),
        (["--set", "encode.crf=x"], ["encode.crf", "between 0 and 51"]),
        (["--set", "model.render_factor=@4"], ["model.render_factor", "between 4 and 128"]),
        (["--config", "{tmp}"], ["cannot read config file"]),
    ],
)
def test_cli_gives_one_line_and_exit_code(tmp_path, clip, capsys, args, words):
    (tmp_path / "c.yaml").write_text("model:\n  radius: 3\n")
    argv = ["run", str(clip), "-o", str(tmp_path / "out.mkv"), *args]
    code = main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == ConfigError.exit_code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vidcolor: error: "), err
    for word in words:
        assert word in lines[0]
    assert not (tmp_path / "out.mkv").exists()
