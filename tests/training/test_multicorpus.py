"""Several corpora at once: caches with their own splits, age-in-years targets, channel augmentation."""

import csv
import json

import numpy as np
import pytest
import torch

from agegender.classifier import AgeGenderClassifier
from agegender.config import ModelConfig
from agegender.features import window_samples
from synth import voice
from training import data, evaluate, prepare, push, train
from training.data import (
    Corpora,
    InARoom,
    augment_waveforms,
    band_limit,
    colour,
    mix_pairs,
    reverberate,
)
from training.train import (
    age_loss,
    build_model,
    distillation_loss,
    ema_update,
    multitask_loss,
    ordinal_targets,
    train_step,
)


def make_corpus(root, clip_maker, n, with_years):
    rows = clip_maker(root, n)
    for i, r in enumerate(rows):
        r["path"] = f"clips/{r['path']}"
        r["age_years"] = {"teens": 15, "twenties": 25, "thirties": 35, "fourties": 45, "fifties": 55,
                          "sixties": 65}[r["age"]] + i % 3 if with_years else ""  # fmt: skip
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "gender", "age", "speaker", "age_years"])
        w.writeheader()
        w.writerows(rows)
    return root / "manifest.csv"


@pytest.fixture
def two_caches(tmp_path, clip_maker):
    caches = []
    for name, years in (("groups", False), ("years", True)):
        manifest = make_corpus(tmp_path / name, clip_maker, 40, years)
        cache = tmp_path / "cache" / name
        prepare.main(["--data", str(manifest), "--cache", str(cache), "--workers", "1", "--seed", "3",
                      "--corpus", name])  # fmt: skip
        caches.append(str(cache))
    return caches


def test_corpora_tag_items_and_keep_each_split(two_caches):
    corpora = Corpora(two_caches)
    assert corpora.corpora == ["groups", "years"] and corpora.sample_rate == 16000
    assert {it["corpus"] for it in corpora.items} == {"groups", "years"}
    for split in ("train", "val", "test"):
        for c in corpora.corpora:  # speaker-disjoint within each corpus
            others = {it["speaker"] for it in corpora.items if it["corpus"] == c and it["split"] != split}
            assert not others & {it["speaker"] for it in corpora.split(split) if it["corpus"] == c}
    years = [it["age_years"] for it in corpora.items if it["corpus"] == "years"]
    assert all(y is not None for y in years)
    with pytest.raises(ValueError, match="same corpus name"):
        Corpora([two_caches[0], two_caches[0]])


def test_train_and_evaluate_on_two_corpora(two_caches, tmp_path):
    out = tmp_path / "model"
    train.main(["--data", *two_caches, "--out", str(out), "--epochs", "1", "--batch-size", "16", "--width", "0.125",
                "--device", "cpu", "--lr", "1e-3", "--room", "0.5", "--mixup", "0.4", "--ordinal", "0.5"])  # fmt: skip
    config = json.loads((out / "config.json").read_text())
    assert config["age_years"] is True and "gender_bias_by_age" in config
    args = json.loads((out / "train_args.json").read_text())
    assert args["room"] == 0.5 and args["mixup"] == 0.4 and args["ordinal"] == 0.5
    assert (out / "gender_bias.json").is_file()
    evaluate.main(["--model", str(out), "--data", *two_caches, "--split", "train", "--by-length"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["corpora"]) == {"groups", "years"}
    assert "mae" in metrics["corpora"]["years"]["age_years"] and "mae" not in metrics["corpora"]["groups"]["age_years"]
    assert "median_guess_mae" in metrics["age_years"]
    assert set(metrics["by_length"]) <= set(evaluate.LENGTH_BUCKETS)
    assert metrics["channel"] == "as recorded"
    evaluate.main(["--model", str(out), "--data", *two_caches, "--split", "train", "--room", "--out", str(tmp_path / "room")])
    assert json.loads((tmp_path / "room" / "metrics.json").read_text())["channel"].startswith("synthetic room")


def test_in_a_room_changes_every_clip_the_same_way_on_every_read(two_caches):
    dry = Corpora(two_caches)
    room = InARoom(dry)
    items = room.split("val")
    assert items == dry.split("val") and room.corpora == dry.corpora
    a, b = items[0], items[1]
    heard = room.waveform(a)
    assert heard.dtype == np.float32 and heard.shape == dry.waveform(a).shape
    assert not np.allclose(heard, dry.waveform(a), atol=1e-3)
    assert np.array_equal(room.waveform(a), heard)
    assert not np.allclose(room.waveform(b)[:1000], dry.waveform(b)[:1000], atol=1e-3)
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    room.waveform(a)
    assert torch.equal(torch.rand(1), expected)  # training's random stream is left alone


def test_amp_on_cpu_trains_channels_last_and_saves_weights_that_load_exactly(two_caches, tmp_path, capsys):
    out = tmp_path / "amp"
    train.main(["--data", *two_caches, "--out", str(out), "--epochs", "1", "--batch-size", "16", "--width", "0.125",
                "--device", "cpu", "--amp"])  # fmt: skip
    assert "amp True" in capsys.readouterr().out
    trained = torch.load(out / "state.pt", weights_only=False)["net"]  # the only epoch is also the one saved
    assert trained["flb1.4.weight"].is_contiguous(memory_format=torch.channels_last)
    assert not trained["flb1.4.weight"].is_contiguous()
    saved = AgeGenderClassifier.from_pretrained(out).net.state_dict()
    assert saved.keys() == trained.keys() and all(torch.equal(saved[k], trained[k]) for k in saved)


def test_age_loss_uses_years_or_the_group_interval():
    age = torch.tensor([[30.0, 0.0], [35.0, 0.0], [50.0, 0.0], [30.0, 0.0]])
    nan = float("nan")
    inside = age_loss(age[1:2], torch.tensor([[nan, 30.0, 40.0]]))
    outside = age_loss(age[2:3], torch.tensor([[nan, 30.0, 40.0]]))
    assert inside.item() == 0 and outside.item() == pytest.approx(np.log(50 / 40), rel=1e-4)
    exact = age_loss(age[0:1], torch.tensor([[30.0, 30.0, 40.0]]))  # Laplace NLL, scale 1: |0| / 1 + 0
    assert exact.item() == pytest.approx(0.0, abs=1e-6)
    assert age_loss(age[3:4], torch.tensor([[nan, nan, nan]])).item() == 0  # no age at all: no loss


def test_ordinal_targets_spread_over_the_neighbouring_groups_and_follow_the_exact_age():
    labels = ModelConfig().labels  # groups teens..sixties; joint classes female-* then male-*
    nan = float("nan")
    y = torch.tensor([[0, 1, 1], [1, 1, 7], [1, 5, 11]])  # twenties (group only); male aged 29; male aged 80
    ages = torch.tensor([[nan, 20, 30], [29, 20, 30], [80, 60, 95]])
    soft = ordinal_targets(y, ages, labels, sigma=0.5)
    age = soft["age"]
    assert torch.allclose(age.sum(1), torch.ones(3))
    assert age[0].argmax() == 1 and age[0, 0] == pytest.approx(age[0, 2].item())  # symmetric about its group
    assert age[1].argmax() == 1 and age[1, 2] > 3 * age[1, 0] and age[1, 2] > 2 * age[0, 2]  # 29 leans to thirties
    assert age[2].argmax() == 5 and age[2, :4].sum() < 0.01
    joint = soft["age_gender"].view(3, 2, 6)  # (clip, gender, group)
    assert torch.equal(joint[0, 1], torch.zeros(6)) and torch.allclose(joint[0, 0], age[0])
    assert torch.equal(joint[1, 0], torch.zeros(6)) and torch.allclose(joint[1, 1], age[1])
    # a very narrow spread is the one-hot target: the same loss as plain cross-entropy
    logits = {t: torch.randn(3, len(names)) for t, names in labels.items()}
    narrow = ordinal_targets(y, torch.full_like(ages, nan), labels, sigma=0.01)
    plain = multitask_loss(logits, y, list(labels), 0.1)
    assert multitask_loss(logits, y, list(labels), 0.1, narrow).item() == pytest.approx(plain.item(), rel=1e-5)
    assert multitask_loss(logits, y, list(labels), 0.1, soft).item() != pytest.approx(plain.item(), rel=1e-3)


def test_band_limit_removes_high_frequencies_from_the_chosen_clips():
    t = torch.arange(16000) / 16000
    x = torch.sin(2 * np.pi * 6000 * t).repeat(64, 1)
    y = band_limit(x, 16000, p=1.0)
    assert y.abs().max() < 0.01  # 6 kHz is outside both telephone bands (40 dB down, float32 FFT)
    assert torch.equal(band_limit(x, 16000, p=0.0), x)


def test_reverberation_smears_a_click_over_the_room_and_keeps_the_level():
    torch.manual_seed(0)
    x = torch.zeros(8, 16000)
    x[:, 1000] = 1.0
    y = reverberate(x, 16000, rt60=(0.5, 0.5), drr_db=(0.0, 0.0))
    assert torch.allclose(y.pow(2).mean(dim=1), x.pow(2).mean(dim=1), rtol=1e-4)
    assert y[:, :1000].abs().max() < 1e-4  # causal: nothing before the click
    tail = y[:, 1001:1000 + 8000].pow(2).sum(dim=1) / y[:, 1000].pow(2)
    assert torch.allclose(tail, torch.ones(8), rtol=0.05)  # direct-to-reverberant ratio 0 dB
    late = y[:, 1000 + 4000 : 1000 + 8000].pow(2).sum(dim=1) / y[:, 1001 : 1000 + 4000].pow(2).sum(dim=1)
    assert (late < 1e-2).all()  # 0.25-0.5 s after the click: more than 20 dB below the first 0.25 s


def test_colour_is_a_smooth_gain_curve_of_a_few_db():
    torch.manual_seed(0)
    n = 16000
    x = torch.randn(64, n)
    gain_db = 20 * torch.log10(torch.fft.rfft(colour(x, 16000)).abs() / torch.fft.rfft(x).abs())
    assert 1.0 < gain_db.std().item() < 6.0
    step = gain_db[:, 500:].diff(dim=1).abs()  # from 500 Hz on, bins 1 Hz (<0.003 octave) apart: no jumps
    assert step.max() < 0.1


def test_room_augmentation_is_off_by_default_and_changes_a_share_of_the_clips(monkeypatch):
    x = torch.randn(200, 8000)
    torch.manual_seed(0)
    plain = augment_waveforms(x, 16000)
    torch.manual_seed(0)
    assert torch.equal(augment_waveforms(x, 16000, room=0.0), plain)
    shares = []
    real = data.to_a_share
    monkeypatch.setattr(data, "to_a_share", lambda x, p, change: shares.append(p) or real(x, p, change))
    assert torch.isfinite(augment_waveforms(x, 16000, room=0.3)).all()
    assert shares == [0.3, 0.3]  # reverberation, then colouring
    changed = (real(x, 0.3, lambda c: c + 1) != x).any(dim=1).float().mean().item()
    assert 0.2 < changed < 0.4


def test_mix_pairs_mixes_each_crop_with_a_partner_brought_to_its_loudness():
    torch.manual_seed(0)
    t = torch.arange(8000) / 16000
    x = torch.stack([torch.sin(2 * np.pi * f * t) * a for f, a in ((200, 0.5), (300, 0.05), (450, 0.2), (700, 0.01))])
    for _ in range(20):
        mixed, partner, lam = mix_pairs(x, 0.4)
        assert 0.5 <= lam <= 1 and sorted(partner.tolist()) == [0, 1, 2, 3]
        for i, j in enumerate(partner.tolist()):
            rms_i, rms_j = x[i].pow(2).mean().sqrt(), x[j].pow(2).mean().sqrt()
            assert torch.allclose(mixed[i], lam * x[i] + (1 - lam) * x[j] * rms_i / rms_j, atol=1e-6)


def test_mixup_mixes_the_losses_of_the_two_label_sets(monkeypatch):
    torch.manual_seed(0)
    model = build_model(ModelConfig(width=0.125, age_years=True, dropout=0.0), "cpu")
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    crops = (torch.randn(6, window_samples(model.config)) * 3000).to(torch.int16)
    y = torch.tensor([[0, 1, 1], [1, 2, 8], [0, 3, 3], [1, 0, 6], [0, 5, 5], [-1, 4, -1]])
    nan = float("nan")
    ages = torch.tensor([[25.0, 20, 30], [nan, 30, 40], [nan, nan, nan], [17, 5, 20], [nan, 60, 95], [45, 40, 50]])
    partner = torch.tensor([3, 0, 5, 1, 2, 4])
    monkeypatch.setattr(train, "mix_pairs", lambda x, alpha: (x, partner, 0.7))  # the crops themselves, unmixed
    tasks = ["gender", "age", "age_gender"]

    def loss(y, ages, mixup=0.0):
        return train_step(model, opt, crops, y, tasks, False, False, 0.1, ages, mixup=mixup)[0].item()

    mixed = loss(y, ages, mixup=0.4)
    assert mixed == pytest.approx(0.7 * loss(y, ages) + 0.3 * loss(y[partner], ages[partner]), rel=1e-5)
    assert mixed != pytest.approx(loss(y, ages), rel=1e-3)


def test_distillation_loss_is_zero_for_the_teacher_itself_and_grows_with_disagreement():
    torch.manual_seed(0)
    tasks = ["gender", "age"]
    teacher = {"gender": torch.randn(5, 2), "age": torch.randn(5, 6)}
    assert distillation_loss(teacher, teacher, tasks, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    near = {t: v + 0.1 * torch.randn_like(v) for t, v in teacher.items()}
    far = {t: -v for t, v in teacher.items()}
    assert 0 < distillation_loss(near, teacher, tasks, 2.0) < distillation_loss(far, teacher, tasks, 2.0)
    # KL(p || q) at temperature 1, by hand, for one task
    p, q = teacher["age"].softmax(1), far["age"].softmax(1)
    by_hand = (p * (p.log() - q.log())).sum(1).mean()
    assert distillation_loss(far, teacher, ["age"], 1.0).item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_distillation_mixes_the_teachers_loss_into_the_class_loss():
    torch.manual_seed(0)
    model = build_model(ModelConfig(width=0.125, age_years=True, dropout=0.0), "cpu").eval()
    teacher = build_model(ModelConfig(width=0.125, age_years=True, dropout=0.0), "cpu").net.eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    crops = (torch.randn(4, window_samples(model.config)) * 3000).to(torch.int16)
    y = torch.tensor([[0, 1, 1], [1, 2, 8], [0, 3, 3], [-1, 4, -1]])
    ages = torch.tensor([[25.0, 20, 30], [35, 30, 40], [45, 40, 50], [55, 50, 60]])
    tasks = ["gender", "age", "age_gender"]
    spec = model.features(crops.float() / 32767)
    with torch.no_grad():
        out, taught = model(spec), teacher(spec).logits
    plain = multitask_loss(out.logits, y, tasks, 0.1).item()
    years = age_loss(out.age_years, ages).item()
    kd = distillation_loss(out.logits, taught, tasks, 2.0).item()
    loss = train_step(model, opt, crops, y, tasks, False, False, 0.1, ages, teacher=teacher, distil=(0.3, 2.0))[0]
    assert loss.item() == pytest.approx(0.7 * plain + 0.3 * kd + years, rel=1e-5)
    assert kd > 0 and loss.item() != pytest.approx(plain + years, rel=1e-3)


def test_distil_trains_from_a_teacher_and_records_its_commands(two_caches, tmp_path):
    teacher, student = tmp_path / "teacher", tmp_path / "student"
    common = ["--data", *two_caches, "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--width", "0.125"]
    train.main([*common, "--out", str(teacher)])
    train.main([*common, "--out", str(student), "--width", "0.25", "--distil", str(teacher), "--distil-weight", "0.8"])
    record = json.loads((student / "train_args.json").read_text())
    assert record["distil_weight"] == 0.8 and AgeGenderClassifier.from_pretrained(student).config.width == 0.25
    assert record["teacher_commands"] == [json.loads((teacher / "train_args.json").read_text())["command"]]
    card = push.model_card(student, repo_id="someone/agegender-test")
    assert card.index(record["command"]) < card.index(record["teacher_commands"][0])
    with pytest.raises(SystemExit, match="tasks, labels or spectrogram differ"):
        train.main([*common, "--out", str(tmp_path / "other"), "--tasks", "gender", "--distil", str(teacher)])


def test_window_frames_and_n_mels_set_what_the_network_hears(two_caches, tmp_path):
    out = tmp_path / "short_windows"
    train.main(["--data", *two_caches, "--out", str(out), "--epochs", "1", "--batch-size", "16", "--width", "0.125",
                "--device", "cpu", "--window-frames", "128", "--n-mels", "96"])  # fmt: skip
    model = AgeGenderClassifier.from_pretrained(out)
    assert (model.config.window_frames, model.config.window_hop_frames, model.config.n_mels) == (128, 64, 96)
    assert json.loads((out / "train_args.json").read_text())["window_frames"] == 128
    prediction = model.predict(voice(3.0), sample_rate=16000)
    assert prediction.spectrogram.shape[0] == 96 and prediction.freq_attention.shape == (96,)
    windows = prediction.windows
    assert len(windows) > 2 and max(w.end - w.start for w in windows) == pytest.approx(1.28, abs=0.01)
    for flag in ("--window-frames", "--n-mels"):
        with pytest.raises(SystemExit):
            train.parse_args(["--data", *two_caches, flag, "32"])
    # 64 bands instead of 96 would load the same weights (both leave one frequency cell) and train on silently
    with pytest.raises(SystemExit, match="was trained with other --n-mels; resume with the run's own command"):
        train.main(["--data", *two_caches, "--out", str(out), "--epochs", "2", "--batch-size", "16", "--width", "0.125",
                    "--device", "cpu", "--window-frames", "128", "--resume"])  # fmt: skip


def test_init_starts_from_a_trained_model_and_records_its_command(two_caches, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    common = ["--data", *two_caches, "--epochs", "1", "--batch-size", "16", "--device", "cpu"]
    train.main([*common, "--out", str(first), "--width", "0.125", "--lr", "1e-3"])
    # learning rate 0: the second run must save exactly the weights it started from (batch-norm statistics move)
    train.main([*common, "--out", str(second), "--init", str(first), "--lr", "0"])
    a, b = (AgeGenderClassifier.from_pretrained(d) for d in (first, second))
    assert b.config.width == 0.125
    for (name, x), y in zip(a.net.named_parameters(), b.net.parameters()):
        assert torch.equal(x, y), name
    record = json.loads((second / "train_args.json").read_text())
    assert record["width"] == 0.125
    first_command = json.loads((first / "train_args.json").read_text())["command"]
    assert record["init_commands"] == [first_command] and "--width 0.125" in first_command
    card = push.model_card(second, repo_id="someone/agegender-test")
    assert card.index(first_command) < card.index(record["command"])


def test_init_refuses_a_model_with_other_tasks(two_caches, tmp_path):
    first = tmp_path / "first"
    common = ["--data", *two_caches, "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--width", "0.125"]
    train.main([*common, "--out", str(first), "--tasks", "gender"])
    with pytest.raises(SystemExit, match="tasks, labels or age head differ"):
        train.main([*common, "--out", str(tmp_path / "second"), "--init", str(first)])


def test_ema_saves_the_moving_average_and_resumes_it(two_caches, tmp_path):
    out, plain = tmp_path / "model", tmp_path / "plain"
    recipe = ["--data", *two_caches, "--batch-size", "16", "--device", "cpu", "--width", "0.125", "--lr", "1e-2"]
    train.main([*recipe, "--out", str(out), "--ema", "0.9", "--epochs", "1"])
    state = torch.load(out / "state.pt", weights_only=False)
    saved = AgeGenderClassifier.from_pretrained(out).net.state_dict()
    averaged = {k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")}
    assert saved.keys() == averaged.keys()
    assert all(torch.equal(saved[k], averaged[k]) for k in saved)  # buffers (batch-norm statistics) too
    assert not all(torch.equal(saved[k], state["net"][k]) for k in saved)  # not the last step's weights
    steps = state["ema"]["n_averaged"].item()
    train.main([*recipe, "--out", str(out), "--ema", "0.9", "--epochs", "2", "--resume"])
    state = torch.load(out / "state.pt", weights_only=False)
    assert state["ema"]["n_averaged"].item() == 2 * steps
    for epochs in ("1", "2"):  # the same without the average: it only watches, the weights trained are the same
        train.main([*recipe, "--out", str(plain), "--epochs", epochs, *(["--resume"] if epochs == "2" else [])])
    trained = torch.load(plain / "state.pt", weights_only=False)["net"]
    assert all(torch.equal(v, trained[k]) for k, v in state["net"].items())
    train.main([*recipe, "--out", str(plain), "--epochs", "3", "--resume", "--ema", "0.9"])  # no average kept
    assert torch.load(plain / "state.pt", weights_only=False)["ema"]["n_averaged"].item() == steps


def test_ema_update_warms_up_then_decays():
    update = ema_update(0.9)
    averaged, counter = [torch.zeros(3)], [torch.tensor(3)]
    update(averaged, [torch.ones(3)], torch.tensor(1))  # warm-up: decay (1 + 1) / (10 + 1), not 0.9
    assert torch.allclose(averaged[0], torch.full((3,), 9 / 11))
    update(averaged, [torch.zeros(3)], torch.tensor(1000))  # later the decay itself
    assert torch.allclose(averaged[0], torch.full((3,), 0.9 * 9 / 11))
    update(counter, [torch.tensor(7)], torch.tensor(5))  # counters are copied, not averaged
    assert counter[0].item() == 7
