"""Grad-CAM (Selvaraju et al., ICCV 2017) for MAM-CNN, taken from the forward pass that makes the prediction.

    pred, cam, target = classify_and_explain(clf, clf.load("clip.wav"), ("gender", "female"))

The class score is the log-probability of one label (so "female" and "male" are told apart, not just
"loud"). Its gradient with respect to the input of FLB-2 (FLB-1's features concatenated with the MAM
output, the layer the attention gates act on: 8 x 32 cells per 2.56 s window, about 80 ms by 8 mel bands
each) is averaged per channel; the channels are summed with those weights and negative evidence is cut
(ReLU). Window maps are upsampled to the spectrogram's bands and frames, averaged where windows overlap,
and scaled to [0, 1] by their maximum in the clip.
"""

import threading
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .classifier import AgeGenderClassifier, Prediction
from .features import split_windows

_local = threading.local()  # what the current thread's forward pass records, if anything


class _Recording:
    def __init__(self):
        self.features: list[torch.Tensor] = []  # FLB-2 inputs, one per batch of windows
        self.logits: list[dict[str, torch.Tensor]] = []


def _install(net: torch.nn.Module) -> None:
    """Let `classify_waveforms` keep the graph of its forward pass, for the thread that asks for it."""
    if getattr(net, "_gradcam_installed", False):
        return
    plain_forward = net.forward

    def forward(x):
        recording = getattr(_local, "recording", None)
        if recording is None:
            return plain_forward(x)
        with torch.inference_mode(False), torch.enable_grad():
            out = plain_forward(x.clone())
        recording.logits.append(out.logits)
        return out

    def keep_features(module, args):
        recording = getattr(_local, "recording", None)
        if recording is not None and args[0].requires_grad:
            recording.features.append(args[0])

    net.flb2.register_forward_pre_hook(keep_features)
    net.forward = forward
    net._gradcam_installed = True


def class_score(logits: dict[str, torch.Tensor], task: str, label: str, labels: dict[str, list[str]]) -> torch.Tensor:
    """Per-window log-probability of `label`; gender or age come from the joint head when there is no own head."""
    if task in logits:
        return logits[task].log_softmax(-1)[:, labels[task].index(label)]
    if task in ("gender", "age") and "age_gender" in logits:
        part = 0 if task == "gender" else 1
        rows = [i for i, name in enumerate(labels["age_gender"]) if name.split("-")[part] == label]
        if rows:
            return logits["age_gender"].log_softmax(-1)[:, rows].logsumexp(-1)
    raise ValueError(f"the model has no label {label!r} for {task!r}")


Target = tuple[str, str]


def classify_and_explain(
    clf: AgeGenderClassifier, waveform: np.ndarray, target: Target | Callable[[Prediction], Target]
) -> tuple[Prediction, np.ndarray | None, Target]:
    """Classify one waveform from `clf.load`; return the prediction, its Grad-CAM and the label explained.

    `target` is (task, label), e.g. ("age", "twenties"), or a function that picks it from the prediction
    (the predicted gender, say). The map is (n_mels, frames) in [0, 1], or None when nothing in the clip
    speaks for the label (every weighted sum is negative).
    """
    _install(clf.net)
    _local.recording = recording = _Recording()
    try:
        pred = clf.classify_waveforms([waveform])[0]
    finally:
        _local.recording = None
    cfg = clf.config
    target = target(pred) if callable(target) else tuple(target)
    score = sum(class_score(logits, *target, cfg.labels).sum() for logits in recording.logits)
    grads = torch.autograd.grad(score, recording.features)
    with torch.no_grad():
        cams = torch.cat(
            [F.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1)) for a, g in zip(recording.features, grads)]
        )
        cams = F.interpolate(cams.unsqueeze(1), size=(cfg.n_mels, cfg.window_frames), mode="bilinear").squeeze(1)
        frames = pred.spectrogram.shape[1]
        _, starts = split_windows(torch.zeros(1, frames), cfg.window_frames, cfg.window_hop_frames)
        if frames <= cfg.window_frames:
            cam = cams[0, :, :frames]
        else:
            total, count = torch.zeros(cfg.n_mels, frames), torch.zeros(frames)
            for m, s in zip(cams, starts):
                total[:, s : s + cfg.window_frames] += m
                count[s : s + cfg.window_frames] += 1
            cam = total / count
        peak = float(cam.max())
    return pred, ((cam / peak).numpy() if peak > 0 else None), target
