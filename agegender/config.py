"""Model configuration: everything needed to rebuild the network and reproduce its input."""

from dataclasses import dataclass, field

SAMPLE_RATE = 16000  # the rate every model in this project hears; audio is resampled to it
GENDERS = ["female", "male"]
AGE_GROUPS = ["teens", "twenties", "thirties", "fourties", "fifties", "sixties"]
# The years each age group stands for, [low, high). "teens" takes in children (the corpora have no child
# group) and "sixties" everyone from 60 on.
AGE_GROUP_YEARS = {
    "teens": (5.0, 20.0), "twenties": (20.0, 30.0), "thirties": (30.0, 40.0), "fourties": (40.0, 50.0),
    "fifties": (50.0, 60.0), "sixties": (60.0, 95.0),
}  # fmt: skip


def joint_label(gender: str, age: str) -> str:
    """The one spelling of a joint age-gender class: `female-twenties`."""
    return f"{gender}-{age}"


def joint_labels(genders: list[str], ages: list[str]) -> list[str]:
    """The joint age-gender classes, gender-major."""
    return [joint_label(g, a) for g in genders for a in ages]


def default_labels() -> dict[str, list[str]]:
    return {"gender": list(GENDERS), "age": list(AGE_GROUPS), "age_gender": joint_labels(GENDERS, AGE_GROUPS)}


@dataclass
class ModelConfig:
    """Stored as `config.json` beside the weights.

    Audio is resampled to `sample_rate`, turned into a `n_mels` log-mel spectrogram with a
    `win_length`-sample window every `hop_length` samples, and classified in windows of
    `window_frames` frames (2.56 s by default), `window_hop_frames` apart.
    """

    sample_rate: int = SAMPLE_RATE
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    n_mels: int = 64
    f_min: float = 20.0
    f_max: float = 8000.0
    window_frames: int = 256
    window_hop_frames: int = 128
    labels: dict[str, list[str]] = field(default_factory=default_labels)
    variant: str = "gated"  # "gated": explicit time/frequency attention; "paper": the authors' ungated MAM
    width: float = 1.0  # channel multiplier; 1.0 is the paper's 120/256/384/64/80
    in_channels: int = 1
    dropout: float = 0.3
    age_years: bool = False  # a regression head for the age in years
    gender_bias: float = 0.0  # log-odds added to "female", chosen on validation to balance the recalls
    gender_bias_by_age: dict[str, float] = field(default_factory=dict)  # added for these age groups

    def __post_init__(self):
        if self.variant not in ("gated", "paper"):
            raise ValueError(f"variant must be 'gated' or 'paper', not {self.variant!r}")
        if not self.labels:
            raise ValueError("a model needs at least one task in `labels`")

    @property
    def tasks(self) -> list[str]:
        return list(self.labels)

    @property
    def frame_seconds(self) -> float:
        """Time between spectrogram frames."""
        return self.hop_length / self.sample_rate

    @property
    def window_seconds(self) -> float:
        return self.window_frames * self.frame_seconds
