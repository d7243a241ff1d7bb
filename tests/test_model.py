import pytest
import torch

from agegender.config import ModelConfig
from agegender.model import MAMCNN


def paper_config(**overrides) -> ModelConfig:
    """The authors' setting: 64x64 3-channel images, one 6-class head, ungated MAM."""
    settings = dict(n_mels=64, window_frames=64, in_channels=3, labels={"age": list("abcdef")}, variant="paper")
    return ModelConfig(**{**settings, **overrides})


def test_paper_variant_parameter_count():
    n = sum(p.numel() for p in MAMCNN(paper_config()).parameters())
    assert n == 8_838_670  # "about 8.84 M" by our count of the authors' Keras code


def test_paper_variant_layer_shapes():
    net = MAMCNN(paper_config()).eval()
    x = torch.randn(2, 3, 64, 64)
    f1 = net.flb1(x)
    assert f1.shape == (2, 384, 8, 8)
    t, t_gate = net.time_branch(f1)
    f, f_gate = net.freq_branch(f1)
    assert t.shape == f.shape == (2, 64, 8, 8) and t_gate is None and f_gate is None
    mam = net.mam_norm(torch.cat([t, f], 1))
    assert mam.shape == (2, 128, 8, 8)
    assert net.flb2(torch.cat([f1, mam], 1)).shape == (2, 384, 1, 1)
    out = net(x)
    assert out.logits["age"].shape == (2, 6)
    assert out.time_attention is None and out.freq_attention is None


def test_branch_kernels_run_along_one_axis():
    net = MAMCNN(paper_config())
    assert [c.kernel_size for c in net.time_branch.convs if isinstance(c, torch.nn.Conv2d)] == [(1, 9), (1, 3), (1, 3)]
    assert [c.kernel_size for c in net.freq_branch.convs if isinstance(c, torch.nn.Conv2d)] == [(9, 1), (3, 1), (3, 1)]


def test_gated_attention_maps_at_input_resolution():
    config = ModelConfig(width=0.25)
    net = MAMCNN(config).eval()
    out = net(torch.randn(3, config.n_mels, config.window_frames))
    assert out.time_attention.shape == (3, config.window_frames)
    assert out.freq_attention.shape == (3, config.n_mels)
    for a in (out.time_attention, out.freq_attention):
        assert a.min() >= 0 and a.max() <= 1
    assert {t: v.shape[-1] for t, v in out.logits.items()} == {"gender": 2, "age": 6, "age_gender": 12}


def test_gates_change_the_prediction():
    torch.manual_seed(0)
    net = MAMCNN(ModelConfig(width=0.25)).eval()
    x = torch.randn(2, 64, 256)
    before = net(x).logits["age"]
    with torch.no_grad():
        net.time_branch.gate.bias.fill_(-8.0)  # close the time gate
    assert not torch.allclose(before, net(x).logits["age"])


def test_subset_of_tasks():
    net = MAMCNN(ModelConfig(width=0.125, labels={"gender": ["female", "male"]})).eval()
    assert list(net(torch.randn(1, 64, 256)).logits) == ["gender"]


def test_gain_does_not_change_the_output():
    net = MAMCNN(ModelConfig(width=0.125)).eval()
    x = torch.randn(1, 64, 256)
    a, b = net(x).logits["gender"], net(x + 3.0).logits["gender"]  # +3 in log power = x20 in power
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_too_small_input_is_refused():
    with pytest.raises(ValueError, match="at least 64"):
        MAMCNN(ModelConfig(n_mels=32))


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="variant"):
        ModelConfig(variant="fancy")
