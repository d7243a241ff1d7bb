"""What the page says about the loaded model: where it came from and how well it was measured."""

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .labels import TASK_TITLES, TASKS

log = logging.getLogger(__name__)

METRIC_NAMES = {
    "accuracy": "Accuracy",
    "macro_f1": "Macro F1",
    "uar": "UAR",
    "majority_accuracy": "Majority accuracy",
    "majority_macro_f1": "Majority macro F1",
}


@dataclass
class ModelFacts:
    """What the page says about the loaded model: where it came from and how well it was measured."""

    source: str
    metrics: dict | None = None  # checkpoints' metrics.json, when the model has one
    card: str = ""  # the model card (README.md) text, when there is one

    @property
    def placeholder(self) -> bool:
        """True when there is no measured accuracy: the model must not be trusted."""
        return not (self.metrics or {}).get("tasks")

    @property
    def limitations(self) -> str:
        """The model card's 'Limitations' section, if it has one."""
        match = re.search(r"^(#+)\s*[^\n]*limit[^\n]*\n(.*?)(?=^#{1,%d}\s|\Z)" % 6, self.card, re.I | re.M | re.S)
        return match.group(2).strip() if match else ""


def _model_file(source: str, name: str) -> Path | None:
    """A file beside the weights: in a local directory, or fetched from the Hub (None if absent)."""
    if os.path.isdir(source):
        path = Path(source) / name
        return path if path.is_file() else None
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(source, name))
    except Exception:  # absent file, offline, private repo...: the page just says there are no metrics
        return None


def model_facts(source: str) -> ModelFacts:
    metrics_path, card_path = _model_file(source, "metrics.json"), _model_file(source, "README.md")
    metrics = None
    if metrics_path is not None:
        try:
            metrics = json.loads(metrics_path.read_text())
        except (OSError, ValueError):
            log.warning("unreadable %s", metrics_path)
    card = card_path.read_text(errors="replace") if card_path is not None else ""
    return ModelFacts(source=source, metrics=metrics if isinstance(metrics, dict) else None, card=card)


def _percent(value) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) and 0 <= value <= 1 else str(value)


def metrics_markdown(facts: ModelFacts) -> str:
    """The measured accuracy as a table, or a plain warning when the model has none."""
    if facts.placeholder:
        return (
            "**No measured accuracy: this is an untrained placeholder model.** Its predictions are random; "
            "the page shows how the pipeline works, not what your voice sounds like. A trained model with "
            "its test results replaces it in `checkpoints/` (or load one with `--model`)."
        )
    tasks = facts.metrics["tasks"]
    columns = [key for key in METRIC_NAMES if any(key in m for m in tasks.values())]
    lines = [
        "| Task | " + " | ".join(METRIC_NAMES[c] for c in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for task, values in sorted(tasks.items(), key=lambda kv: TASKS.index(kv[0]) if kv[0] in TASKS else len(TASKS)):
        lines.append(f"| {TASK_TITLES.get(task, task)} | " + " | ".join(_percent(values.get(c, "")) for c in columns) + " |")
    split = facts.metrics.get("split")
    head = f"Measured on the **{split}** split:" if split else "Measured accuracy:"
    note = (
        "UAR is the unweighted average recall (balanced accuracy); the majority columns score a model that "
        "always answers the most common training class."
    )
    return head + "\n\n" + "\n".join(lines) + "\n\n" + note
