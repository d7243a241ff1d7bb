"""ONNX export: front end and network in one graph, waveform windows in, probabilities and maps out.

The graph takes `waveform`, a (batch, window_samples) float32 array of mono audio at the model's sample
rate (the batch is dynamic), and returns one output per task (softmax probabilities, named after the task)
and one per other tensor the network returns (`time_attention`, `freq_attention`, ...). The model's
config.json and the window sizes are stored in the file's metadata, so it runs without torch or this package.
"""

import json
import logging
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from .features import window_samples
from .model import ModelOutput


def named_outputs(output: ModelOutput, tasks: list[str]) -> dict[str, torch.Tensor]:
    """Every output the network has, flat: `task` -> probabilities, then each other non-empty field."""
    named = {}
    for field, value in output._asdict().items():
        if field == "logits":
            named.update({task: value[task].float().softmax(-1) for task in tasks})
        elif isinstance(value, torch.Tensor):
            named[field] = value
    return named


class WaveformModel(nn.Module):
    """Log-mel front end + network: (batch, window_samples) waveforms -> a tuple of `named_outputs`."""

    def __init__(self, classifier):
        super().__init__()
        self.features, self.net, self.tasks = classifier.features, classifier.net, classifier.config.tasks

    def named(self, waveforms: torch.Tensor) -> dict[str, torch.Tensor]:
        return named_outputs(self.net(self.features(waveforms)), self.tasks)

    def forward(self, waveforms: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.named(waveforms).values())


def metadata(config) -> dict[str, str]:
    return {
        "config": json.dumps(asdict(config)),
        "sample_rate": str(config.sample_rate),
        "window_samples": str(window_samples(config)),
        "window_hop_samples": str(config.window_hop_frames * config.hop_length),
    }


def export_onnx(classifier, path: str | Path, opset: int = 18) -> list[str]:
    """Write `classifier` to `path` as ONNX; returns the output names."""
    import onnx

    model = WaveformModel(classifier).cpu().eval()
    example = 0.1 * torch.randn(2, window_samples(classifier.config), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        names = list(model.named(example))
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # it lists the torchvision ops it skips
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.export's own deprecations
        program = torch.onnx.export(
            model,
            (example,),
            input_names=["waveform"],
            output_names=names,
            dynamic_shapes={"waveforms": {0: torch.export.Dim("batch", min=1)}},
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
    proto = program.model_proto
    onnx.helper.set_model_props(proto, metadata(classifier.config))
    onnx.save(proto, str(path))
    return names
