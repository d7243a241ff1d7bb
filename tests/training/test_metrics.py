import numpy as np

from training.data import sampling_weights, short_clips, spec_augment
from training.metrics import majority, scores


def test_scores():
    s = scores([0, 0, 0, 1], [0, 0, 1, 1], ["a", "b", "c"])
    assert s["accuracy"] == 0.75
    assert np.isclose(s["uar"], (2 / 3 + 1) / 2)  # class c is absent: not averaged in
    assert np.isclose(s["macro_f1"], (0.8 + 2 / 3) / 2)
    assert s["confusion"] == [[2, 1, 0], [0, 1, 0], [0, 0, 0]] and s["absent_classes"] == ["c"]
    m = majority([1, 1, 0], [0, 1, 1, 1], ["a", "b"])
    assert m["majority_class"] == "b" and m["majority_accuracy"] == 0.75


def test_sampling_weights_balance_and_speaker_cap():
    items = [{"gender": "male", "age": "twenties", "speaker": "big"}] * 100
    items += [{"gender": "female", "age": "teens", "speaker": f"s{i}"} for i in range(10)]
    w = sampling_weights(items, power=1.0, speaker_cap=1000)
    assert np.isclose(w[:100].sum(), w[100:].sum())
    w = sampling_weights(items, power=0.0, speaker_cap=10)  # the big speaker counts as 10 clips
    assert np.isclose(w[:100].sum(), 0.5)


def test_sampling_weights_cap_speakers_of_each_corpus_apart():
    one = [{"gender": "male", "age": "twenties", "speaker": "s1", "corpus": "a"}] * 10
    two = [{"gender": "male", "age": "twenties", "speaker": "s1", "corpus": "b"}] * 10
    other = [{"gender": "male", "age": "twenties", "speaker": "s2", "corpus": "a"}]
    w = sampling_weights(one + two + other, power=0.0, speaker_cap=10)
    assert np.allclose(w, 1 / 21)  # two speakers named s1, 10 clips each: neither reaches the cap


def test_spec_augment_masks_and_keeps_shape():
    import torch

    x = torch.randn(4, 64, 256)
    y = spec_augment(x, time_masks=2, time_width=40, freq_masks=2, freq_width=10)
    assert y.shape == x.shape and (y != x).any()


def test_spec_augment_frequency_masks_scale_with_the_mel_bands():
    import torch

    x = torch.arange(128.0)[None, :, None].expand(256, 128, 10).contiguous()  # every band distinct
    y = spec_augment(x, time_masks=0, freq_masks=1)  # one mask per example, up to 128 // 8 = 16 bands wide
    widths = (y != x).any(dim=2).sum(dim=1)
    assert widths.max() > 8 and widths.max() <= 16


def test_short_clips_repeat_a_short_start_as_inference_does():
    import torch

    from agegender.features import split_windows

    x = torch.randn(8, 64, 256)
    assert torch.equal(short_clips(x, 0.01, p=0.0), x)
    y = short_clips(x, 0.01, p=1.0)  # every clip cut to its first 0.25-2 s (25-200 frames of 10 ms)
    for clip, out in zip(x, y):
        cuts = [n for n in range(25, 201) if torch.equal(split_windows(clip[:, :n], 256, 128)[0][0], out)]
        assert cuts, "not the start of the clip repeated, as split_windows repeats a short clip"


def test_multitask_loss_skips_missing_labels():
    import torch
    import torch.nn.functional as F

    from training.train import multitask_loss

    logits = {"gender": torch.randn(4, 2), "age": torch.randn(4, 6)}
    y = torch.tensor([[0, -1], [1, 2], [-1, 3], [1, -1]])
    expected = (F.cross_entropy(logits["gender"][[0, 1, 3]], y[[0, 1, 3], 0])
                + F.cross_entropy(logits["age"][[1, 2]], y[[1, 2], 1])) / 2  # fmt: skip
    assert torch.isclose(multitask_loss(logits, y, ["gender", "age"], 0.0), expected)
    only_gender = torch.tensor([[0, -1], [1, -1]])
    loss = multitask_loss({k: v[:2] for k, v in logits.items()}, only_gender, ["gender", "age"], 0.0)
    assert torch.isclose(loss, F.cross_entropy(logits["gender"][:2], only_gender[:, 0]))


def test_uar_interval_resamples_speakers():
    from training.metrics import uar_interval

    truth = np.array([0, 0, 1, 1] * 10)
    speakers = np.repeat(np.arange(20), 2)  # 20 speakers of two clips each
    assert uar_interval(truth, truth, speakers) == [1.0, 1.0]  # always right: no spread
    wrong_half = truth.copy()
    wrong_half[:20] = 1 - wrong_half[:20]  # the first 10 speakers always misheard
    lo, hi = uar_interval(truth, wrong_half, speakers)
    assert lo < 0.5 < hi and hi - lo > 0.2
    lo1, hi1 = uar_interval(truth, wrong_half, np.arange(40))  # counted as 40 one-clip speakers: narrower
    assert hi1 - lo1 < hi - lo
