"""The model card (README.md): made with huggingface_hub's `ModelCard`, `ModelCardData` and `EvalResult` from
the files of a model directory, so that `push_to_hub` and `python -m training.push` write the same card.

What it reads, all optional except config.json: `train_args.json` (the command line that was run, the
corpora and their licences, split sizes), `metrics.json` (test figures from `training.evaluate`, pooled and
per corpus), `val_metrics.json`, `log.csv`, `confusion.png` and `curves.png`.
"""

import csv
import json
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .config import ModelConfig

TASK_NAMES = {"gender": "Gender", "age": "Age group", "age_gender": "Age-gender (joint)"}
PAPER = ("Tursunov, A.; Mustaqeem; Choeh, J.Y.; Kwon, S. Age and Gender Recognition Using a Convolutional Neural "
         "Network with a Specially Designed Multi-Attention Module through Speech Spectrograms. *Sensors* 2021, "
         "21, 5892. https://doi.org/10.3390/s21175892")  # fmt: skip


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def corpus_results(metrics: dict) -> dict[str, dict]:
    """Corpus name -> its metrics (`tasks`, `age_years`): every corpus, and all of them pooled when several."""
    if not metrics.get("tasks"):
        return {}
    data = metrics.get("data")
    single = next(iter(data)) if isinstance(data, dict) and len(data) == 1 else "all"
    order = {t: i for i, t in enumerate(TASK_NAMES)}
    out = {"all corpora": metrics, **metrics["corpora"]} if metrics.get("corpora") else {single: metrics}
    return {c: {**m, "tasks": dict(sorted(m["tasks"].items(), key=lambda kv: order.get(kv[0], 99)))} for c, m in out.items()}


def recalls(task: dict) -> tuple[float | None, float | None]:
    per_class = task.get("per_class", {})
    return tuple(per_class.get(g, {}).get("recall") for g in ("female", "male"))


def eval_results(metrics: dict, corpora: dict[str, dict]) -> list[EvalResult]:
    """Hub `model-index` entries: accuracy, macro-F1 and UAR per task, female and male recall, age MAE, per corpus."""
    split = metrics.get("split", "test")
    out = []
    for corpus, m in corpus_results(metrics).items():
        name = corpora.get(corpus, {}).get("title", corpus)

        def add(task: str, metric_type: str, metric_name: str, value) -> None:
            if value is not None:
                out.append(EvalResult(task_type="audio-classification", task_name=TASK_NAMES.get(task, task),
                                      dataset_type=corpus, dataset_name=name, dataset_config=task, dataset_split=split,
                                      metric_type=metric_type, metric_name=metric_name, metric_value=round(value, 4)))  # fmt: skip

        for task, s in m.get("tasks", {}).items():
            add(task, "accuracy", "accuracy", s.get("accuracy"))
            add(task, "f1", "macro-F1", s.get("macro_f1"))
            add(task, "recall", "UAR (balanced accuracy)", s.get("uar"))
            if task == "gender":
                female, male = recalls(s)
                add(task, "recall", "female recall", female)
                add(task, "recall", "male recall", male)
        add("age_years", "mae", "age MAE (years)", (m.get("age_years") or {}).get("mae"))
    return out


def weights_licence(corpora: dict[str, dict]) -> str:
    """MIT when every corpus allows commercial use; otherwise the non-commercial corpora's licence(s)."""
    restricted = sorted({c["licence"].lower() for c in corpora.values() if c.get("commercial") is False})
    return restricted[0] if len(restricted) == 1 else ("other" if restricted else "mit")


def metrics_table(corpora_metrics: dict[str, dict]) -> list[str]:
    rows = [("| corpus | task | clips | accuracy | macro-F1 | UAR (95% over speakers) | female recall | male recall "
             "| majority macro-F1 |"),
            "|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip

    def f(v):
        return "" if v is None else f"{v:.3f}"

    def uar(s):
        ci = s.get("uar_ci95")
        return f(s.get("uar")) + (f" ({ci[0]:.2f}-{ci[1]:.2f})" if ci else "")

    for corpus, m in corpora_metrics.items():
        for task, s in m.get("tasks", {}).items():
            female, male = recalls(s) if task == "gender" else (None, None)
            rows.append(f"| {corpus} | {task} | {s.get('n', '')} | {f(s.get('accuracy'))} | {f(s.get('macro_f1'))} | "
                        f"{uar(s)} | {f(female)} | {f(male)} | {f(s.get('majority_macro_f1'))} |")  # fmt: skip
        a = m.get("age_years") or {}
        if a.get("mae") is not None:
            rows.append(f"| {corpus} | age in years | {a['n']} | MAE {a['mae']:.1f} years "
                        f"(always {a['median_guess']:.0f}: {a['median_guess_mae']:.1f}) | | | | | |")  # fmt: skip
    return rows


def model_card(model_dir: str | Path | None = None, repo_id: str = "USER/agegender-mamcnn",
               config: ModelConfig | None = None) -> ModelCard:  # fmt: skip
    """The card for the model in `model_dir` (its config.json, or `config` when given)."""
    d = Path(model_dir) if model_dir is not None else Path("/nonexistent")
    cfg = _load(d / "config.json")
    config = config or ModelConfig(**cfg.get("config", cfg))
    metrics, val, args = _load(d / "metrics.json"), _load(d / "val_metrics.json"), _load(d / "train_args.json")
    corpora = args.get("corpora") or {}
    per_corpus = corpus_results(metrics)
    licence = weights_licence(corpora)
    name = repo_id.split("/")[-1]
    data = ModelCardData(
        model_name=name, library_name="agegender", pipeline_tag="audio-classification", license=licence,
        license_name="non-commercial" if licence == "other" else None,
        tags=["audio-classification", "age-recognition", "gender-recognition", "mam-cnn", "pytorch_model_hub_mixin"],
        datasets=sorted({c["hub_id"] for c in corpora.values() if c.get("hub_id")}) or None,
        metrics=["accuracy", "f1", "recall", "mae"], eval_results=eval_results(metrics, corpora) or None,
    )  # fmt: skip

    weights = d / "model.safetensors"
    size = f"{weights.stat().st_size / 1e6:.1f} MB of float32 weights" if weights.is_file() else "float32 weights"
    tasks = sorted(config.tasks, key=lambda t: list(TASK_NAMES).index(t) if t in TASK_NAMES else 99)
    heads = ", ".join(f"**{t}** ({len(config.labels[t])} classes)" for t in tasks)
    if getattr(config, "age_years", False):
        heads += " and the **age in years**"
    L = [f"# {name}: age and gender from speech (MAM-CNN)", "",
         f"A multi-attention CNN (MAM-CNN, Tursunov et al., *Sensors* 2021) that predicts, from a voice recording, "
         f"{heads}. Variant `{config.variant}`, width {config.width} (1.0 is the paper's size), {size}. Input: mono "
         f"{config.sample_rate // 1000} kHz speech, {config.n_mels}-band log-mel, {config.window_seconds:.2f} s windows "
         "whose outputs are averaged over the clip.", "",
         "```python", "from agegender import AgeGenderClassifier", "",
         f'model = AgeGenderClassifier.from_pretrained("{repo_id}")  # or a local copy of this directory',
         'print(model.predict("speech.wav").to_dict())', "```", ""]  # fmt: skip

    L += ["## Licence and training data", ""]
    if corpora:
        L += ["| corpus | licence | commercial use |", "|---|---|---|"]
        L += [f"| {c.get('title', n)} | {c.get('licence', 'unknown')} | "
              f"{ {True: 'yes', False: '**no**'}.get(c.get('commercial'), 'unknown') } |" for n, c in corpora.items()]  # fmt: skip
        L += [""]
        restricted = [c.get("title", n) for n, c in corpora.items() if c.get("commercial") is False]
        unknown = [c.get("title", n) for n, c in corpora.items() if c.get("commercial") is None]
        if restricted:
            L += [f"**Non-commercial use only.** The weights were trained on {', '.join(restricted)}, whose licence "
                  "does not allow commercial use; use these weights for research and teaching only. The code is MIT.", ""]  # fmt: skip
        elif unknown:
            L += [f"The licence of {', '.join(unknown)} is not recorded: check it before using these weights.", ""]
        else:
            L += ["Every corpus allows commercial use; code and weights are MIT.", ""]
    else:
        L += ["The training corpora were not recorded with this model (`train_args.json` has no `corpora`).", ""]
    sizes = args.get("split_sizes") or metrics.get("split_sizes") or {}
    if sizes:
        L += ["Speaker-disjoint splits (clips / speakers):", "", "| split | all | " + "".join(f"{c} | " for c in corpora),
              "|---|---:|" + "---:|" * len(corpora)]  # fmt: skip
        for split, v in sizes.items():
            cells = [f"{v[c]['clips']} / {v[c]['speakers']}" if c in v else "" for c in corpora]
            L.append(f"| {split} | {v['clips']} / {v['speakers']} | " + "".join(f"{c} | " for c in cells))
        L += [""]

    L += ["## Evaluation", ""]
    if per_corpus:
        L += [f"Per clip on the held-out **{metrics.get('split', 'test')}** split of each corpus (speakers never seen "
              "in training). macro-F1 and UAR (unweighted average recall) count every class equally; the majority "
              "baseline always answers the most frequent training class.", ""]  # fmt: skip
        L += metrics_table(per_corpus) + [""]
    else:
        L += ["No metrics.json yet: run `python -m training.evaluate`.", ""]
    if val.get("tasks"):
        L += [f"Validation (model selection, epoch {val.get('epoch')}): " + ", ".join(
            f"{t} macro-F1 {s['macro_f1']:.3f}" for t, s in val["tasks"].items()) + ".", ""]  # fmt: skip
    for png, what in (("confusion.png", "Confusion matrices (test)"), ("curves.png", "Learning curves")):
        if (d / png).is_file():
            L += [f"![{what}]({png})", ""]

    if args:
        first = args.get("init_commands", [])
        L += ["## Training", "", "The exact commands that trained this model, in order (each one goes on from the "
              "weights the one before saved):" if first else "The exact command that trained this model:", "",
              "```", *first, args.get("command") or "(not recorded)", *(r["command"] for r in args.get("resumed", [])),
              "```", ""]  # fmt: skip
        teacher = args.get("teacher_commands")
        if teacher:
            L += [f"It learned from a teacher model's outputs beside the labels (`--distil {args.get('distil')}`). The "
                  "teacher was trained first, by the commands below; to reproduce, run them and give their output "
                  "directory to `--distil`:", "", "```", *teacher, "```", ""]  # fmt: skip
        log = d / "log.csv"
        if log.is_file():
            rows = list(csv.DictReader(open(log)))
            minutes = sum(float(r["seconds"]) for r in rows) / 60
            L += [f"{len(rows)} epochs" + (" in the last step" if first else "") + f" in {minutes:.0f} min on `{args.get('device')}`"
                  + (f"; kept epoch {val['epoch']} (best validation macro-F1)." if val.get("epoch") else "."), ""]  # fmt: skip

    L += ["## Intended use and limits", "",
          "For demonstrations and teaching: showing what a speech model can and cannot infer about a voice. "
          "**Not for decisions about people** (access, hiring, age verification, profiling, surveillance).", "",
          "- Accuracy varies with language, accent, microphone, room echo and noise; read the per-corpus figures "
          "above, and expect lower figures on other recordings. Speak close to the microphone: echo costs the age "
          "estimate most.",
          "- Gender here is a binary self-reported label predicted from the voice; it is not anyone's gender "
          "identity. Age groups are self-reported decades; voices age differently.",
          "- Predictions come with probabilities; treat a low top probability, or less than a second of speech, "
          'as "unsure".', "", "## Citation", "", PAPER, ""]  # fmt: skip
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(L))
