"""AgeGenderClassifier: the Hub-loadable model with `predict` for files and arrays."""

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from huggingface_hub import ModelCard, PyTorchModelHubMixin, constants, hf_hub_download
from torch import nn

from .answers import decide_heads
from .audio import MAX_SECONDS, AudioError, load_audio
from .card import model_card
from .config import ModelConfig
from .features import LogMel, split_windows, to_db
from .model import MAMCNN, ModelOutput


def bundled_model_dir() -> Path:
    """The bundled model: `agegender/checkpoints` in an installed package, `checkpoints/` in a checkout."""
    package = Path(__file__).resolve().parent
    installed = package / "checkpoints"
    return installed if (installed / constants.CONFIG_NAME).is_file() else package.parent / "checkpoints"


BUNDLED_MODEL = bundled_model_dir()
MODEL_ENV = "AGEGENDER_MODEL"
LOW_CONFIDENCE_SECONDS = 1.0  # less speech than this gives a less reliable answer


@dataclass
class WindowResult:
    start: float  # seconds
    end: float
    probabilities: dict[str, dict[str, float]]

    @property
    def labels(self) -> dict[str, str]:
        return {task: max(p, key=p.get) for task, p in self.probabilities.items()}


@dataclass
class Prediction:
    """What the model says about one recording, and the pictures behind it.

    The labels, probabilities and age in years agree with each other (see `agegender.answers`).
    """

    probabilities: dict[str, dict[str, float]]  # task -> label -> probability, from the whole clip
    spectrogram: np.ndarray  # (n_mels, frames) log-mel power in dB of the trimmed speech
    time_attention: np.ndarray | None  # (frames,) in [0, 1]; None for the ungated "paper" variant
    freq_attention: np.ndarray | None  # (n_mels,) in [0, 1]
    windows: list[WindowResult] = field(default_factory=list)
    duration: float = 0.0  # seconds of trimmed speech analysed
    age_years: float | None = None  # estimated age; None for a model without the age-in-years head
    age_years_range: tuple[float, float] | None = None  # (low, high): 80% range of the estimate
    heads: dict = field(default_factory=dict, repr=False)  # each head's own output, averaged over windows

    @property
    def low_confidence(self) -> bool:
        """Less than `LOW_CONFIDENCE_SECONDS` of speech: the answer rests on very little sound."""
        return self.duration < LOW_CONFIDENCE_SECONDS

    @property
    def labels(self) -> dict[str, str]:
        return {task: max(p, key=p.get) for task, p in self.probabilities.items()}

    @property
    def gender(self) -> str | None:
        return self.labels.get("gender")

    @property
    def age(self) -> str | None:
        return self.labels.get("age")

    @property
    def age_gender(self) -> str | None:
        return self.labels.get("age_gender")

    def to_dict(self) -> dict:
        return {
            **{t: self.labels.get(t) for t in ("gender", "age", "age_gender")},
            "age_years": self.age_years,
            "age_years_range": list(self.age_years_range) if self.age_years_range else None,
            "low_confidence": self.low_confidence,
            "duration": round(self.duration, 3),
            "probabilities": self.probabilities,
        }


class AgeGenderClassifier(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="agegender",
    tags=["audio-classification", "age-recognition", "gender-recognition", "mam-cnn"],
    license="mit",
):
    """Log-mel front end + MAM-CNN, with every setting in `config` (saved as config.json)."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config or ModelConfig()
        self.features = LogMel(self.config)
        self.net = MAMCNN(self.config)

    def forward(self, spectrograms: torch.Tensor) -> ModelOutput:
        return self.net(spectrograms)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # -- loading -----------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, repo_id_or_dir: str | os.PathLike | None = None, **kwargs) -> "AgeGenderClassifier":
        """Load a Hub id or local directory; None means $AGEGENDER_MODEL, else the bundled `checkpoints/`."""
        if repo_id_or_dir is None:
            repo_id_or_dir = os.environ.get(MODEL_ENV) or BUNDLED_MODEL
        name = str(repo_id_or_dir)
        if os.path.isdir(name):
            if not os.path.isfile(os.path.join(name, constants.CONFIG_NAME)):
                raise FileNotFoundError(f"{name} has no {constants.CONFIG_NAME}")
        elif os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1:
            raise FileNotFoundError(f"no model directory at {name} (and it is not a Hub id)")
        model = super().from_pretrained(repo_id_or_dir, **kwargs)
        model.source = str(repo_id_or_dir)
        return model

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision, cache_dir, force_download, local_files_only, token,
                         map_location: str = "cpu", **model_kwargs):  # fmt: skip
        """Strict load: config.json and every weight must be there, with the right shapes, or this raises."""
        if model_kwargs.get("config") is None:
            raise FileNotFoundError(f"{model_id} has no {constants.CONFIG_NAME}")
        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            weights = os.path.join(model_id, constants.SAFETENSORS_SINGLE_FILE)
            if not os.path.isfile(weights):
                raise FileNotFoundError(f"{model_id} has no {constants.SAFETENSORS_SINGLE_FILE}")
        else:
            weights = hf_hub_download(
                repo_id=model_id,
                filename=constants.SAFETENSORS_SINGLE_FILE,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                token=token,
                local_files_only=local_files_only,
            )
        state = safetensors.torch.load_file(weights, device=str(map_location))
        model.net.load_state_dict(state, strict=True)
        return model.to(map_location).eval()

    def _save_pretrained(self, save_directory: Path) -> None:
        """Only the network's weights are stored; the front end is rebuilt from the config."""
        state = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        safetensors.torch.save_file(state, str(save_directory / constants.SAFETENSORS_SINGLE_FILE))

    def generate_model_card(self, repo_id: str = "USER/agegender-mamcnn", **kwargs) -> ModelCard:
        """The card `save_pretrained` and `push_to_hub` write: `agegender.card.model_card` of the directory this
        model was loaded from (its metrics and training record), the same card `python -m training.push` writes."""
        source = getattr(self, "source", None)
        return model_card(source if source and os.path.isdir(source) else None, repo_id, config=self.config)

    def push_to_hub(self, repo_id: str, **kwargs):
        kwargs["model_card_kwargs"] = {"repo_id": repo_id, **(kwargs.get("model_card_kwargs") or {})}
        return super().push_to_hub(repo_id, **kwargs)

    # -- inference ---------------------------------------------------------------------------------

    def load(self, source, sample_rate: int | None = None, max_seconds: float = MAX_SECONDS) -> np.ndarray:
        """Decode and check one file or array: mono speech at the model's sample rate."""
        return load_audio(source, sample_rate, self.config.sample_rate, max_seconds)

    def predict(self, source, sample_rate: int | None = None) -> Prediction:
        """Classify one file path or sample array (give `sample_rate` with an array)."""
        return self.classify_waveforms([self.load(source, sample_rate)])[0]

    def predict_batch(self, sources, sample_rate: int | None = None, batch_size: int = 32,
                      errors: str = "raise") -> list:  # fmt: skip
        """Classify many files or arrays, running their windows through the network in batches.

        A source that cannot be classified raises its `AudioError`, its message starting with the file name
        (or `item N` for an array); with `errors="return"` that error takes its place in the list instead.
        """
        if errors not in ("raise", "return"):
            raise ValueError(f"errors must be 'raise' or 'return', not {errors!r}")
        results, waveforms, places = [], [], []
        for i, source in enumerate(sources):
            try:
                waveforms.append(self.load(source, sample_rate))
                places.append(i)
                results.append(None)
            except AudioError as exc:
                name = str(source) if isinstance(source, (str, os.PathLike)) else f"item {i}"
                named = type(exc)(f"{name}: {exc}")
                if errors == "raise":
                    raise named from exc
                results.append(named)
        for i, prediction in zip(places, self.classify_waveforms(waveforms, batch_size)):
            results[i] = prediction
        return results

    @torch.inference_mode()
    def classify_waveforms(self, waveforms: list[np.ndarray], batch_size: int = 32) -> list[Prediction]:
        """Classify waveforms already returned by `load`."""
        self.eval()
        if not waveforms:
            return []
        cfg = self.config
        spectrograms, windows, owners, starts = [], [], [], []
        for i, wave in enumerate(waveforms):
            spec = self.features(torch.from_numpy(wave).to(self.device).unsqueeze(0))[0]
            spectrograms.append(spec)
            w, s = split_windows(spec, cfg.window_frames, cfg.window_hop_frames)
            windows.append(w)
            owners += [i] * len(s)
            starts += s
        outputs = [self(chunk) for chunk in torch.cat(windows).split(batch_size)]
        probs = {t: torch.cat([o.logits[t] for o in outputs]).float().softmax(-1).cpu().numpy() for t in cfg.tasks}
        ages = torch.cat([o.age_years for o in outputs]).float().cpu().numpy() if cfg.age_years else None
        gated = outputs[0].time_attention is not None
        time_att = torch.cat([o.time_attention for o in outputs]).float().cpu() if gated else None
        freq_att = torch.cat([o.freq_attention for o in outputs]).float().cpu() if gated else None

        def heads(rows: np.ndarray) -> dict:
            """These windows' head outputs, averaged: task -> probabilities, and the age head's log-years/log-scale."""
            out = {t: probs[t][rows].mean(0) for t in cfg.tasks}
            if ages is not None:
                out["log_years"], out["log_scale"] = float(np.log(ages[rows, 0]).mean()), float(ages[rows, 1].mean())
            return out

        owners_a = np.array(owners)
        results = []
        for i, spec in enumerate(spectrograms):
            rows = np.flatnonzero(owners_a == i)
            frames = spec.shape[-1]
            window_results = [
                WindowResult(
                    start=starts[r] * cfg.frame_seconds,
                    end=min(starts[r] + cfg.window_frames, frames) * cfg.frame_seconds,
                    probabilities=decide_heads(heads(np.array([r])), cfg).probabilities,
                )
                for r in rows.tolist()
            ]
            clip_heads = heads(rows)
            clip = decide_heads(clip_heads, cfg)
            time_map = freq_map = None
            if gated:
                time_map = self._stitch(time_att[rows], [starts[r] for r in rows.tolist()], frames)
                freq_map = freq_att[rows].mean(0).numpy()
            results.append(
                Prediction(
                    probabilities=clip.probabilities,
                    spectrogram=to_db(spec).cpu().numpy(),
                    time_attention=time_map,
                    freq_attention=freq_map,
                    windows=window_results,
                    duration=len(waveforms[i]) / cfg.sample_rate,
                    age_years=clip.age_years,
                    age_years_range=clip.age_years_range,
                    heads=clip_heads,
                )
            )
        return results

    def _stitch(self, maps: torch.Tensor, starts: list[int], frames: int) -> np.ndarray:
        """Average overlapping per-window time maps into one map over the clip's frames."""
        size = self.config.window_frames
        if frames <= size:
            return maps[0, :frames].numpy()
        total, count = torch.zeros(frames), torch.zeros(frames)
        for m, s in zip(maps, starts):
            total[s : s + size] += m
            count[s : s + size] += 1
        return (total / count).numpy()
