"""Train an agegender MAM-CNN on a prepared cache (or a corpus, prepared on the way).

    python -m training.train --data data/cache/cv data/cache/saa --out runs/all --epochs 40 --device cpu

`--data` takes one or more prepared caches (one per corpus), each with its own speaker-disjoint split.
One epoch draws balanced random 2.56 s crops (as many as there are training clips, or --epoch-size).
After every epoch the model is scored per clip on the pooled validation split; the best mean macro-F1
over tasks is saved with `save_pretrained(out)` (so `AgeGenderClassifier.from_pretrained(out)` loads it).
At the end, the gender decision bias that balances female and male recall on every corpus's
validation clips is chosen and written into the saved config. `out/state.pt` holds
the last epoch's weights, optimiser and RNG state for `--resume`; `out/log.csv` and `out/curves.png`
the learning curves. With `--ema DECAY` the epochs are judged (and the best saved) on an exponential moving
average of the weights instead of the weights themselves.

`--init MODEL` starts from a trained model's weights (a directory, or a Hub id) instead of random ones,
with a fresh optimiser and schedule: to fine-tune the bundled model on new data, or to give a finished run
another cosine cycle. The architecture is the starting model's; its commands are recorded with this one.

Started by `torchrun --nproc_per_node N -m training.train ...` it trains with DistributedDataParallel:
each process takes every N-th batch of the epoch, the epoch's metrics are summed over processes, and
process 0 alone validates, saves, logs and calibrates.
"""

import argparse
import copy
import csv
import json
import math
import os
import random
import shlex
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel

from agegender.classifier import AgeGenderClassifier
from agegender.config import AGE_GROUP_YEARS, ModelConfig, default_labels
from agegender.model import MIN_INPUT_SIZE

from .corpora import describe
from .data import (Corpora, augment_waveforms, check_cache, loader, mix_pairs, sampling_weights, short_clips,
                   spec_augment, steps_per_epoch)  # fmt: skip
from .calibrate import calibrate
from .evaluate import evaluate_items, split_sizes
from .prepare import ensure_cache

STATE = "state.pt"
NETWORK_ARGS = ("tasks", "width", "variant", "window_frames", "n_mels", "no_age_years")  # what a resume must keep


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, nargs="+", help="prepared caches, or one corpus directory / manifest to prepare")
    ap.add_argument("--cache", default=None, help="where to prepare --data if it is not a cache (default data/cache/<name>)")
    ap.add_argument("--out", default="runs/model", help="output model directory")
    ap.add_argument("--tasks", default="gender,age,age_gender")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=128, help="paper: 128")
    ap.add_argument("--lr", type=float, default=1e-4, help="peak learning rate (paper: Adam 1e-4)")
    ap.add_argument("--weight-decay", type=float, default=1e-2, help="AdamW decoupled weight decay")
    ap.add_argument("--schedule", default="cosine", choices=["cosine", "constant"], help="after a 1-epoch warm-up")
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--width", type=float, default=1.0, help="channel multiplier (1.0 = paper size)")
    ap.add_argument("--variant", default="gated", choices=["gated", "paper"])
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--window-frames", type=int, default=ModelConfig.window_frames,
                    help="spectrogram frames the network hears at once (256 = 2.56 s); windows overlap by half")
    ap.add_argument("--n-mels", type=int, default=ModelConfig.n_mels,
                    help="mel bands of the spectrogram (finer bands resolve more of a voice's harmonics)")
    ap.add_argument("--balance", type=float, default=0.5, help="class sampling weight count**-balance (0 natural, 1 balanced)")
    ap.add_argument("--speaker-cap", type=int, default=10, help="clips per speaker beyond which its clips are down-weighted")
    ap.add_argument("--no-augment", action="store_true", help="no channel/noise/gain/SpecAugment augmentation")
    ap.add_argument("--short-clips", type=float, default=0.0, metavar="P",
                    help="share of crops cut to their first 0.25-2 s and repeated, as predict repeats a short clip")
    ap.add_argument("--room", type=float, default=0.0, metavar="P",
                    help="share of crops reverberated by a synthetic room, and (independently) coloured by a random "
                    "microphone response")  # fmt: skip
    ap.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                    help="mix the crops in pairs, and their losses, weights from Beta(ALPHA, ALPHA); 0: off")
    ap.add_argument("--ordinal", type=float, default=0.0, metavar="SIGMA",
                    help="age-group targets spread over neighbouring groups (a Gaussian SIGMA groups wide, centred "
                    "within the group by the exact age where known); 0: one-hot")  # fmt: skip
    ap.add_argument("--distil", default=None, metavar="MODEL",
                    help="a trained model (directory or Hub id) whose outputs on each augmented crop are soft "
                    "targets beside the labels (knowledge distillation)")  # fmt: skip
    ap.add_argument("--distil-weight", type=float, default=0.5, help="share of the class loss given to the teacher")
    ap.add_argument("--distil-temperature", type=float, default=2.0, help="softmax temperature of the distillation")
    ap.add_argument("--no-age-years", action="store_true", help="no age-in-years head")
    ap.add_argument("--age-weight", type=float, default=1.0, help="weight of the age-in-years loss")
    ap.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                    help="validate and save an exponential moving average of the weights (decay per step, "
                    "e.g. 0.999); 0: the weights themselves")  # fmt: skip
    ap.add_argument("--epoch-size", type=int, default=None, help="crops per epoch (default: the training clips)")
    ap.add_argument("--patience", type=int, default=10, help="early stopping after this many epochs without a better score")
    ap.add_argument("--max-minutes", type=float, default=None, help="stop before an epoch that would overrun this")
    ap.add_argument("--max-clips", type=int, default=None, help="use at most this many train (and val) clips")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--amp", default=None, action=argparse.BooleanOptionalAction,
                    help="bf16 autocast (default: on for CUDA; on a CPU with bf16 instructions it is faster too)")
    ap.add_argument("--workers", type=int, default=None, help="loader processes (default 4 on CUDA, 0 on CPU)")
    ap.add_argument("--seed", type=int, default=0, help="training seed (the split's seed is the cache's)")
    ap.add_argument("--split-seed", type=int, default=None, help="seed of the speaker split when preparing a corpus")
    ap.add_argument("--resume", action="store_true", help="continue from out/state.pt")
    ap.add_argument("--init", default=None, help="start from this model's weights (directory or Hub id); "
                    "its architecture replaces --width/--variant/--window-frames/--n-mels")  # fmt: skip
    args = ap.parse_args(argv)
    for flag, value in (("--window-frames", args.window_frames), ("--n-mels", args.n_mels)):
        if value < MIN_INPUT_SIZE:
            ap.error(f"{flag} must be at least {MIN_INPUT_SIZE}, not {value}")
    return args


def argv_is_cli() -> bool:
    """True when this process was started as `python -m training.train` (so sys.argv is the command line)."""
    return Path(sys.argv[0]).parts[-2:] == ("training", "train.py")


def commands_that_made(model: str) -> list[str]:
    """The training commands recorded with a model directory, oldest first (those of its own --init too)."""
    path = Path(model) / "train_args.json"
    if not path.is_file():
        return [f"# the weights of {model} (no training record)"]
    made = json.loads(path.read_text())
    return [*made.get("init_commands", []), made.get("command", "(not recorded)"),
            *(r["command"] for r in made.get("resumed", []))]  # fmt: skip


def seed_everything(seed: int):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) in a single process."""
    env = os.environ
    return int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1")), int(env.get("LOCAL_RANK", "0"))


def lr_factor(step: int, warmup: int, total: int, schedule: str) -> float:
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def multitask_loss(logits: dict, y: torch.Tensor, tasks: list[str], smoothing: float,
                   soft: dict | None = None) -> torch.Tensor:  # fmt: skip
    """Mean over tasks of cross-entropy, skipping clips without a label for a task (target -1).

    `soft` maps a task to (batch, classes) target distributions that replace its one-hot targets.
    Written without data-dependent branches so that it never waits for the GPU.
    """
    total, present = 0.0, 0.0
    for j, t in enumerate(tasks):
        labelled = y[:, j] >= 0
        n = labelled.sum()
        if soft and t in soft:
            target = (1 - smoothing) * soft[t] + smoothing / soft[t].shape[1]
            ce = -((target * F.log_softmax(logits[t].float(), dim=1)).sum(1) * labelled).sum()
        else:
            ce = F.cross_entropy(logits[t].float(), y[:, j], ignore_index=-1, label_smoothing=smoothing, reduction="sum")
        total = total + ce / n.clamp_min(1)
        present = present + (n > 0).float()
    return total / torch.as_tensor(present).clamp_min(1)


def ordinal_targets(y: torch.Tensor, ages: torch.Tensor, labels: dict[str, list[str]], sigma: float) -> dict:
    """Soft targets for the age-group tasks that respect the groups' order: a Gaussian of width `sigma` (in
    groups) over the group axis, centred on the clip's group, or, where its age in years is known, on its
    place within the group (log-years, from -0.5 at the group's start to +0.5 at its end). The joint task
    keeps the clip's gender and spreads its age alike. Rows of clips without a label are meaningless."""
    groups = labels.get("age") or list(dict.fromkeys(name.split("-", 1)[1] for name in labels["age_gender"]))
    low, high = (torch.tensor([math.log(AGE_GROUP_YEARS[g][k]) for g in groups], device=y.device) for k in (0, 1))
    axis = torch.arange(len(groups), device=y.device, dtype=torch.float32)

    def spread(group: torch.Tensor) -> torch.Tensor:
        group = group.clamp_min(0)
        within = (ages[:, 0].log() - low[group]) / (high[group] - low[group]) - 0.5
        place = group + torch.nan_to_num(within, 0.0).clamp(-0.5, 0.5)
        return torch.softmax(-((axis - place[:, None]) ** 2) / (2 * sigma**2), dim=1)

    tasks, soft = list(labels), {}
    if "age" in labels:
        soft["age"] = spread(y[:, tasks.index("age")])
    if "age_gender" in labels:
        names = [name.split("-", 1) for name in labels["age_gender"]]
        gender_of = torch.tensor([[g for g, _ in names].index(g) for g, _ in names], device=y.device)
        group_of = torch.tensor([groups.index(a) for _, a in names], device=y.device)
        joint = y[:, tasks.index("age_gender")].clamp_min(0)
        same_gender = (gender_of[None, :] == gender_of[joint][:, None]).float()
        soft["age_gender"] = same_gender * spread(group_of[joint])[:, group_of]
    return soft


def distillation_loss(student: dict, teacher: dict, tasks: list[str], temperature: float) -> torch.Tensor:
    """Mean over tasks of KL(teacher || student) between the softened distributions, times temperature^2 (so
    that its gradients keep their size whatever the temperature), over every clip, labelled or not."""
    total = 0.0
    for t in tasks:
        target = F.log_softmax(teacher[t].float() / temperature, dim=1)
        total = total + F.kl_div(F.log_softmax(student[t].float() / temperature, dim=1), target,
                                 log_target=True, reduction="batchmean")  # fmt: skip
    return total * temperature**2 / len(tasks)


def age_loss(age: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Age-in-years loss over log-years: Laplace negative log-likelihood where the exact age is known,
    else the distance from the age group's [low, high) (zero inside it). Clips with neither are skipped.

    `age` is the head's (batch, 2) output (years, log scale); `targets` (batch, 3) is (years, low, high).
    """
    mu, log_b = age[:, 0].clamp_min(1e-3).log(), age[:, 1]
    years, low, high = targets.unbind(1)
    exact = ~torch.isnan(years)
    interval = ~exact & ~torch.isnan(low)
    nll = (mu - torch.nan_to_num(years, 30.0).log()).abs() / log_b.exp() + log_b
    gap = F.relu(torch.nan_to_num(low, 1.0).log() - mu) + F.relu(mu - torch.nan_to_num(high, 1000.0).log())
    total = (nll * exact).sum() + (gap * interval).sum()
    return total / (exact.sum() + interval.sum()).clamp_min(1)


def train_step(model, opt, crops: torch.Tensor, y: torch.Tensor, tasks: list[str], amp: bool, augment: bool,
               smoothing: float, ages: torch.Tensor | None = None, age_weight: float = 1.0, net=None,
               short: float = 0.0, room: float = 0.0, mixup: float = 0.0, ordinal: float = 0.0,
               teacher: nn.Module | None = None, distil: tuple[float, float] = (0.5, 2.0)):  # fmt: skip
    """One optimiser step on a batch of int16 crops: augmentation and log-mel on the device, then the network
    (`net`, e.g. `model.net` wrapped in DistributedDataParallel, else `model`). With `mixup` (a Beta
    parameter) the crops are mixed in pairs and so are their losses; with `ordinal` (a width in groups) the
    age-group targets are `ordinal_targets`. With a `teacher` network, the class loss is (1 - w) x the labels'
    + w x `distillation_loss` on the same input, for `distil` = (w, temperature)."""
    device = model.device
    x = crops.to(device, non_blocking=True).float().div_(32767)
    y = y.to(device, non_blocking=True)
    ages = ages.to(device, non_blocking=True) if ages is not None else None
    with torch.no_grad():
        partner, lam = None, 1.0
        if mixup:
            x, partner, lam = mix_pairs(x, mixup)
        if augment:
            x = augment_waveforms(x, model.config.sample_rate, room=room)
        spec = model.features(x)
        if short:
            spec = short_clips(spec, model.config.frame_seconds, short)
        if augment:
            spec = spec_augment(spec)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        output = (model if net is None else net)(spec)
        if teacher is not None:
            with torch.no_grad():
                teacher_logits = teacher(spec).logits
    # the teacher's loss is the same for both label sets of a mixed pair: computed once
    taught = distillation_loss(output.logits, teacher_logits, tasks, distil[1]) if teacher is not None else None

    def loss_for(y, ages):
        soft = None
        if ordinal and ages is not None:
            soft = ordinal_targets(y, ages, {t: model.config.labels[t] for t in tasks}, ordinal)
        loss = multitask_loss(output.logits, y, tasks, smoothing, soft)
        if taught is not None:
            loss = (1 - distil[0]) * loss + distil[0] * taught
        if output.age_years is not None and ages is not None:
            loss = loss + age_weight * age_loss(output.age_years, ages)
        return loss

    loss = loss_for(y, ages)
    if partner is not None:
        loss = lam * loss + (1 - lam) * loss_for(y[partner], ages[partner] if ages is not None else None)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss, output, y


def ema_update(decay: float):
    """The moving average's update, with a warm-up: update n uses the decay min(decay, (1 + n) / (10 + n)), so
    that the first steps' weights and batch-norm statistics fade at once instead of over thousands of steps.
    Counters (integer buffers) are copied. Computed on the device: it never waits for the GPU."""

    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor):
        if not averaged[0].is_floating_point():
            torch._foreach_copy_(averaged, current)
            return
        d = torch.clamp((1 + n) / (10 + n), max=decay).to(averaged[0].dtype)
        torch._foreach_mul_(averaged, d)
        torch._foreach_add_(averaged, torch._foreach_mul(current, 1 - d))

    return update


def build_model(config: ModelConfig, device: torch.device | str) -> AgeGenderClassifier:
    """A fresh model on `device`, its convolution weights channels-last: the layout in which oneDNN (CPU, above
    all in bf16) and cuDNN run these convolutions fastest. Saving stores the weights contiguous again."""
    model = AgeGenderClassifier(config).to(device)
    model.net.to(memory_format=torch.channels_last)
    return model


def load_teacher(source: str, config: ModelConfig, device: torch.device) -> nn.Module:
    """The network of a trained model, frozen, to distil from. It must hear the same spectrogram and name the
    same classes as the model being trained."""
    teacher = AgeGenderClassifier.from_pretrained(source)
    front_end = ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "f_min", "f_max", "window_frames")
    differs = any(getattr(teacher.config, k) != getattr(config, k) for k in front_end)
    if differs or teacher.config.labels != config.labels:
        raise SystemExit(f"--distil {source}: its tasks, labels or spectrogram differ from this run's")
    net = teacher.net.to(device).eval().requires_grad_(False)
    return net.to(memory_format=torch.channels_last)


def with_weights(model: AgeGenderClassifier, net: nn.Module) -> AgeGenderClassifier:
    """A copy of `model` carrying `net`'s weights (e.g. their moving average), ready to evaluate.
    Copied, not built, so that no random initialisation moves the training's random stream."""
    judged = copy.deepcopy(model)
    judged.net.load_state_dict(net.state_dict())
    return judged.eval()


def plot_curves(rows: list[dict], tasks: list[str], path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.plot(ep, [r["train_loss"] for r in rows], label="train loss (crops)")
    a.plot(ep, [r["val_nll"] for r in rows], label="val NLL (clips, mean over tasks)")
    a.set_xlabel("epoch")
    a.legend(fontsize=8)
    for t in tasks:
        (line,) = b.plot(ep, [r[f"val_{t}_macro_f1"] for r in rows], label=f"val {t} macro-F1")
        b.plot(ep, [r[f"train_{t}_acc"] for r in rows], ":", color=line.get_color(), label=f"train {t} acc")
    b.set_xlabel("epoch")
    b.set_ylim(0, 1)
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def train(args, argv: list[str] | None = None) -> dict:
    rank, world, local_rank = distributed()
    device = torch.device(args.device)
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        # long timeout: the other ranks wait while rank 0 alone validates and calibrates
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(hours=2))
    main_rank = rank == 0
    say = print if main_rank else lambda *a, **k: None
    seed_everything(args.seed + rank)  # the model's start is rank 0's (DDP broadcasts it); augmentation differs
    torch.backends.cudnn.benchmark = device.type == "cuda"
    amp = args.amp if args.amp is not None else device.type == "cuda"
    workers = args.workers if args.workers is not None else (4 if device.type == "cuda" else 0)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    labels = {t: default_labels()[t] for t in tasks}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if rank:
        dist.barrier()  # rank 0 prepares the cache first
    roots = args.data if len(args.data) > 1 else [ensure_cache(args.data[0], args.cache, seed=args.split_seed)]
    if main_rank and world > 1:
        dist.barrier()
    cache = Corpora(roots)
    train_items, val_items = cache.split("train"), cache.split("val")
    if args.max_clips:
        rng = np.random.default_rng(args.seed)
        train_items = [train_items[i] for i in sorted(rng.permutation(len(train_items))[: args.max_clips])]
        val_items = [val_items[i] for i in sorted(rng.permutation(len(val_items))[: max(8, args.max_clips // 4)])]
    if not train_items or not val_items:
        raise SystemExit(f"{cache.root}: need train and val clips (got {len(train_items)} and {len(val_items)})")
    sizes = split_sizes(cache)
    say(f"split {json.dumps(sizes)}; training on {len(train_items)} clips, validating on {len(val_items)}")

    config = ModelConfig(labels=labels, width=args.width, variant=args.variant, dropout=args.dropout,
                         age_years=not args.no_age_years, window_frames=args.window_frames,
                         window_hop_frames=args.window_frames // 2, n_mels=args.n_mels)  # fmt: skip
    start = None
    if args.init:
        start = AgeGenderClassifier.from_pretrained(args.init)
        if start.config.labels != labels or start.config.age_years != config.age_years:
            raise SystemExit(f"--init {args.init}: its tasks, labels or age head differ from this run's")
        config = replace(start.config, dropout=args.dropout, gender_bias=0.0, gender_bias_by_age={})  # recalibrated
        args.width, args.variant = config.width, config.variant  # as trained
        args.window_frames, args.n_mels = config.window_frames, config.n_mels
    check_cache(cache, config)
    teacher = load_teacher(args.distil, config, device) if args.distil else None
    model = build_model(config, device)
    if start is not None:
        model.net.load_state_dict(start.net.state_dict())
    params = sum(p.numel() for p in model.net.parameters())
    opt = torch.optim.AdamW(model.net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    spe = steps_per_epoch(args.epoch_size or len(train_items), args.batch_size, world)
    total = spe * args.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, spe, total, args.schedule))
    weights = sampling_weights(train_items, args.balance, args.speaker_cap)

    ema = None  # the average is kept where it is judged: on rank 0 alone
    if args.ema and main_rank:
        ema = AveragedModel(model.net, multi_avg_fn=ema_update(args.ema), use_buffers=True)
    start_epoch, best, best_epoch, bad, rows = 1, -1.0, 0, 0, []
    if args.resume and (out / STATE).is_file():
        st = torch.load(out / STATE, map_location=device, weights_only=False)
        saved = st["args"]
        changed = [f"--{k.replace('_', '-')}" for k in NETWORK_ARGS if k in saved and saved[k] != vars(args)[k]]
        if changed:
            raise SystemExit(f"--resume: {out / STATE} was trained with other {', '.join(changed)}; "
                             "resume with the run's own command")  # fmt: skip
        model.net.load_state_dict(st["net"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        if ema is not None and st.get("ema") is not None:
            ema.load_state_dict(st["ema"])
        elif ema is not None:
            say("the resumed run kept no moving average: it starts from the resumed weights")
        start_epoch, best, best_epoch, bad, rows = st["epoch"] + 1, st["best"], st["best_epoch"], st["bad"], st["rows"]
        torch.set_rng_state(st["torch_rng"])
        say(f"resumed from {out / STATE} after epoch {st['epoch']} (best {best:.4f} at epoch {best_epoch})")
    argv = argv if argv is not None else (sys.argv[1:] if argv_is_cli() else [])
    command = shlex.join(["python", "-m", "training.train", *argv])
    record = {**vars(args), "command": command, "params": params, "split_sizes": sizes,
              "corpora": {c: describe(c) for c in cache.corpora}}  # fmt: skip
    if start is not None:
        record["init_commands"] = commands_that_made(args.init)
    if teacher is not None:
        record["teacher_commands"] = commands_that_made(args.distil)
    if args.resume and (out / "train_args.json").is_file():  # keep the run's own command; list each resume
        first = json.loads((out / "train_args.json").read_text())
        record = {**first, "resumed": [*first.get("resumed", []), {"after_epoch": start_epoch - 1, "command": command}]}
    if main_rank:
        (out / "train_args.json").write_text(json.dumps(record, indent=1))
    say(f"{params / 1e6:.2f} M parameters, width {args.width}, {args.variant}; device {device}, amp {amp}, "
        f"{spe} steps/epoch of {args.batch_size}" + (f" on each of {world} processes" if world > 1 else ""))  # fmt: skip
    net = None
    if world > 1:
        net = DistributedDataParallel(model.net, device_ids=[local_rank] if device.type == "cuda" else None)

    t_start = time.time()
    for epoch in range(start_epoch, args.epochs + 1):
        t0 = time.time()
        model.train()
        dl = loader(cache, train_items, labels, config, args.batch_size, epoch, args.seed, weights,
                    workers, device.type == "cuda", args.epoch_size, rank, world)  # fmt: skip
        wait, n_clips, loss_sum = 0.0, 0, torch.zeros((), device=device)
        correct, counted = torch.zeros(len(tasks), device=device), torch.zeros(len(tasks), device=device)
        t_wait = time.time()
        for crops, y, ages in dl:
            wait += time.time() - t_wait  # time blocked on the loader
            loss, output, y = train_step(model, opt, crops, y, tasks, amp, not args.no_augment, args.label_smoothing,
                                         ages, args.age_weight, net, args.short_clips, args.room,
                                         args.mixup, args.ordinal, teacher,
                                         (args.distil_weight, args.distil_temperature))  # fmt: skip
            sched.step()
            if ema is not None:
                ema.update_parameters(model.net)
            with torch.no_grad():  # accumulated on the device: no synchronisation per step
                for j, t in enumerate(tasks):
                    m = y[:, j] >= 0
                    correct[j] += ((output.logits[t].argmax(1) == y[:, j]) & m).sum()
                    counted[j] += m.sum()
                loss_sum += loss.detach() * len(y)
            n_clips += len(y)
            t_wait = time.time()
        sums = torch.cat([torch.stack([loss_sum, torch.tensor(float(n_clips), device=device)]), correct, counted])
        if world > 1:
            dist.all_reduce(sums)
        sums = sums.tolist()
        loss_sum, n_clips, correct, counted = sums[0], int(sums[1]), sums[2 : 2 + len(tasks)], sums[2 + len(tasks) :]
        train_time = time.time() - t0
        stop = False
        if main_rank:
            model.eval()
            judged = model if ema is None else with_weights(model, ema.module)
            val = evaluate_items(judged, cache, val_items, train_items)
            score = float(np.mean([val["tasks"][t]["macro_f1"] for t in tasks]))
            row = {"epoch": epoch, "lr": opt.param_groups[0]["lr"], "train_loss": loss_sum / max(n_clips, 1),
                   "val_nll": float(np.mean([val["tasks"][t]["nll"] for t in tasks])), "val_score": score}  # fmt: skip
            for j, t in enumerate(tasks):
                row[f"train_{t}_acc"] = correct[j] / max(counted[j], 1)
                for k in ("accuracy", "macro_f1", "uar"):
                    row[f"val_{t}_{k if k != 'accuracy' else 'acc'}"] = val["tasks"][t][k]
            if "age_years" in val:
                row["val_age_mae"] = val["age_years"].get("mae", math.nan)  # nan: no exact ages in validation
            row.update(clips=n_clips, clips_per_s=n_clips / train_time, data_wait=wait / train_time, seconds=time.time() - t0)
            rows.append(row)

            improved = score > best
            if improved:
                best, best_epoch, bad = score, epoch, 0
                judged.save_pretrained(out)
                (out / "val_metrics.json").write_text(json.dumps({"epoch": epoch, "split": "val", **val}, indent=1))
            else:
                bad += 1
            torch.save({"net": model.net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "ema": ema.state_dict() if ema is not None else None, "epoch": epoch, "best": best,
                        "best_epoch": best_epoch, "bad": bad, "rows": rows, "torch_rng": torch.get_rng_state(),
                        "args": vars(args)}, out / STATE)  # fmt: skip
            with open(out / "log.csv", "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)
            plot_curves(rows, tasks, out / "curves.png")
            per_task = "  ".join(
                f"{t} acc {row[f'val_{t}_acc']:.3f} F1 {row[f'val_{t}_macro_f1']:.3f}" for t in tasks
            )
            print(f"epoch {epoch:3d}  loss {row['train_loss']:.4f}  val {per_task}  score {score:.4f}"
                  f"{' *' if improved else ''}  {row['clips_per_s']:.0f} clips/s, data wait {row['data_wait']:.0%}, "
                  f"{row['seconds']:.0f} s", flush=True)  # fmt: skip

            elapsed = (time.time() - t_start) / 60
            if bad >= args.patience:
                print(f"early stop: no better validation score for {args.patience} epochs")
                stop = True
            elif args.max_minutes and elapsed + (time.time() - t0) / 60 > args.max_minutes:
                print(f"stopping after {elapsed:.1f} min (budget {args.max_minutes} min)")
                stop = True
        if world > 1:  # every rank stops together
            flag = torch.tensor([float(stop)], device=device)
            dist.broadcast(flag, 0)
            stop = bool(flag.item())
        if stop:
            break
    summary = {}  # rank 0's; the other ranks return an empty one
    if main_rank:
        summary = {"best_epoch": best_epoch, "best_val_score": best, "epochs_run": rows[-1]["epoch"] if rows else 0}
        print(f"best mean validation macro-F1 {best:.4f} at epoch {best_epoch}; model in {out}")
        if "gender" in tasks and best_epoch:
            chosen = calibrate(out, cache, str(device))
            print(f"gender bias (female log-odds), chosen on validation: {chosen}")
            summary.update(chosen)
    if world > 1:
        dist.barrier()  # the others wait for rank 0's calibration
        dist.destroy_process_group()
    return summary


def main(argv=None):
    train(parse_args(argv), argv)


if __name__ == "__main__":
    main()
