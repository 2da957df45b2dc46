from pathlib import Path

import pytest
import yaml

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
