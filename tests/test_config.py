import pytest

from loco_cli.config import PRESETS, FeatureConfig, LossConfig, ModelConfig, SnippetConfig


@pytest.mark.parametrize("cfg", [FeatureConfig(), ModelConfig(), LossConfig(), SnippetConfig()])
def test_round_trip_and_digest(cfg):
    again = type(cfg).from_dict(cfg.to_dict())
    assert again == cfg
    assert again.digest() == cfg.digest()
    assert cfg.replace().digest() == cfg.digest()


def test_digest_changes_with_content():
    assert FeatureConfig().digest() != FeatureConfig(n_mels=80).digest()


def test_presets():
    assert PRESETS["drums"].model.n_classes == 3
    assert PRESETS["piano"].model.n_classes == 88
    assert PRESETS["piano"].features.n_mels == PRESETS["piano"].model.n_bands
    assert FeatureConfig().fps == pytest.approx(200.4545, rel=1e-4)


@pytest.mark.parametrize(
    "make",
    [
        lambda: FeatureConfig(fmax=30000.0),
        lambda: FeatureConfig(win_length=4096, n_fft=2048),
        lambda: ModelConfig(arch="transformer"),
        lambda: LossConfig(k_max=1),
        lambda: LossConfig(teacher_weight=1.5),
        lambda: SnippetConfig(length_s=0),
    ],
)
def test_invalid_values_raise(make):
    with pytest.raises(ValueError):
        make()


def test_unknown_fields_raise():
    with pytest.raises(ValueError):
        ModelConfig.from_dict({"layers": 3})
