"""Corpus readers: a directory or manifest in, a list of labelled `Record`s (plus skipped-row counts) out.

Supported layouts (detected by `read_corpus`):
- Common Voice release: `validated.tsv` (and optionally `train.tsv`/`dev.tsv`/`test.tsv`) + `clips/`.
- Kaggle "Common Voice": `cv-valid-{train,dev,test}.csv` + `cv-valid-*/` folders (the paper's data).
- Generic CSV manifest: columns `path, gender, age` and optionally `speaker`, `split`, `age_years`; paths
  relative to the CSV.

An optional `age_years` column (whole or fractional years) gives the exact age where a corpus knows it.

Labels are normalised to the model's spelling: gender female|male (old and new Common Voice spellings),
age teens..sixties with seventies/eighties/nineties merged into `sixties` ("sixties" = 60 and over).
Anything else (other, empty, do_not_wish_to_say, ...) means "no label" for that task; a clip with
neither label is skipped.
"""

import csv
import hashlib
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from agegender.config import joint_label

GENDER_MAP = {
    "female": "female", "female_feminine": "female", "f": "female", "woman": "female",
    "male": "male", "male_masculine": "male", "m": "male", "man": "male",
}  # fmt: skip
NO_GENDER = {"", "other", "transgender", "intersex", "non-binary", "do_not_wish_to_say", "nan", "none"}
AGE_MAP = {
    "teens": "teens", "twenties": "twenties", "thirties": "thirties", "fourties": "fourties",
    "forties": "fourties", "fifties": "fifties", "sixties": "sixties", "seventies": "sixties",
    "eighties": "sixties", "nineties": "sixties",
}  # fmt: skip
NO_AGE = {"", "nan", "none", "do_not_wish_to_say"}
SPLITS = ("train", "val", "test")

csv.field_size_limit(sys.maxsize)


@dataclass
class Record:
    path: str  # absolute path of the audio file
    gender: str | None
    age: str | None
    speaker: str
    split: str | None = None  # train | val | test, when the corpus fixes it
    age_years: float | None = None  # exact age, where the corpus gives it


class Skipped(Counter):
    """Rows a reader left out, by reason."""

    def __str__(self):
        return ", ".join(f"{n} {reason}" for reason, n in sorted(self.items())) or "none"


def normalise_gender(value: str | None, skipped: Skipped | None = None) -> str | None:
    v = (value or "").strip().lower()
    if v in GENDER_MAP:
        return GENDER_MAP[v]
    if v not in NO_GENDER and skipped is not None:
        skipped["unknown gender label (kept without gender)"] += 1
    return None


def normalise_age(value: str | None, skipped: Skipped | None = None) -> str | None:
    v = (value or "").strip().lower()
    if v in AGE_MAP:
        return AGE_MAP[v]
    if v not in NO_AGE and skipped is not None:
        skipped["unknown age label (kept without age)"] += 1
    return None


def parse_years(value: str | None, skipped: Skipped | None = None) -> float | None:
    """An age in years from the optional `age_years` column (None when empty or implausible)."""
    v = (value or "").strip()
    if not v:
        return None
    try:
        years = float(v)
    except ValueError:
        years = -1.0
    if not 1 <= years <= 110:
        if skipped is not None:
            skipped["unreadable age_years (kept without it)"] += 1
        return None
    return years


def _make(path: Path, gender, age, speaker, split, skipped: Skipped, years=None) -> Record | None:
    g, a, y = normalise_gender(gender, skipped), normalise_age(age, skipped), parse_years(years, skipped)
    if g is None and a is None:
        skipped["no gender or age label"] += 1
        return None
    if not path.is_file():
        skipped["missing audio file"] += 1
        return None
    return Record(str(path.resolve()), g, a, speaker, split, y)


def _rows(path: Path, delimiter: str):
    with open(path, newline="", encoding="utf-8") as f:
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        yield from csv.DictReader(f, delimiter=delimiter, quoting=quoting)


def read_commonvoice(root: str | Path, release_splits: bool = False) -> tuple[list[Record], Skipped]:
    """A Common Voice release directory. With `release_splits`, use its train/dev/test.tsv as the splits."""
    root, skipped, records = Path(root), Skipped(), []
    files = [("validated.tsv", None)]
    if release_splits:
        files = [("train.tsv", "train"), ("dev.tsv", "val"), ("test.tsv", "test")]
        if not all((root / f).is_file() for f, _ in files):
            raise FileNotFoundError(f"{root} has no train.tsv/dev.tsv/test.tsv to use as splits")
    for name, split in files:
        for row in _rows(root / name, "\t"):
            if not row.get("path") or not row.get("client_id"):
                skipped["malformed row"] += 1
                continue
            r = _make(root / "clips" / row["path"], row.get("gender"), row.get("age"), row["client_id"], split, skipped,
                      row.get("age_years"))
            if r:
                records.append(r)
    return records, skipped


def read_kaggle(root: str | Path) -> tuple[list[Record], Skipped]:
    """The Kaggle "Common Voice" layout. It has no speaker ids, so its own train/dev/test split is used."""
    root, skipped, records = Path(root), Skipped(), []
    for name, split in (("cv-valid-train", "train"), ("cv-valid-dev", "val"), ("cv-valid-test", "test")):
        table = root / f"{name}.csv"
        if not table.is_file():
            continue
        for row in _rows(table, ","):
            fn = (row.get("filename") or "").strip()
            if not fn:
                skipped["malformed row"] += 1
                continue
            path = root / fn if (root / fn).is_file() else root / name / fn
            r = _make(path, row.get("gender"), row.get("age"), f"{name}/{fn}", split, skipped)
            if r:
                records.append(r)
    return records, skipped


def read_manifest(table: str | Path) -> tuple[list[Record], Skipped]:
    """A CSV (or TSV) with path, gender, age and optional speaker, split columns."""
    table, skipped, records = Path(table), Skipped(), []
    for row in _rows(table, "\t" if table.suffix == ".tsv" else ","):
        p = (row.get("path") or "").strip()
        if not p:
            skipped["malformed row"] += 1
            continue
        path = Path(p) if Path(p).is_absolute() else table.parent / p
        split = (row.get("split") or "").strip().lower() or None
        split = {"dev": "val", "valid": "val", "validation": "val"}.get(split, split)
        if split is not None and split not in SPLITS:
            skipped["unknown split (kept, split by speaker)"] += 1
            split = None
        speaker = (row.get("speaker") or "").strip() or str(path)
        r = _make(path, row.get("gender"), row.get("age"), speaker, split, skipped, row.get("age_years"))
        if r:
            records.append(r)
    return records, skipped


def read_corpus(data: str | Path, release_splits: bool = False) -> tuple[list[Record], Skipped]:
    """Detect the layout of `data` and read it."""
    data = Path(data)
    if data.is_file():
        return read_manifest(data)
    if (data / "validated.tsv").is_file() or (data / "train.tsv").is_file():
        return read_commonvoice(data, release_splits or not (data / "validated.tsv").is_file())
    if any(data.glob("cv-valid-*.csv")):
        return read_kaggle(data)
    for name in ("manifest.csv", "manifest.tsv"):
        if (data / name).is_file():
            return read_manifest(data / name)
    raise FileNotFoundError(
        f"{data}: no validated.tsv (Common Voice), cv-valid-*.csv (Kaggle) or manifest.csv found"
    )


def speaker_split(speaker: str, seed: int, fractions=(0.8, 0.1, 0.1)) -> str:
    """A speaker's split from a hash of (seed, speaker): reproducible, and speaker-disjoint by construction."""
    u = int(hashlib.sha256(f"{seed}:{speaker}".encode()).hexdigest()[:12], 16) / 16**12
    edges = [sum(fractions[: i + 1]) for i in range(len(fractions))]
    return next((s for s, e in zip(SPLITS, edges) if u < e), SPLITS[-1])


def assign_splits(records: list[Record], seed: int = 0, fractions=(0.8, 0.1, 0.1)) -> list[Record]:
    """Give every record without a fixed split one by speaker (in place); returns the records."""
    for r in records:
        if r.split is None:
            r.split = speaker_split(r.speaker, seed, fractions)
    return records


def search_split_seed(records, tries: int = 300, fractions=(0.8, 0.1, 0.1)) -> tuple[int, int]:
    """The seed in range(tries) whose val and test splits best cover every gender-age class.

    Ranked by the smallest count of any class (present in the data) in val or test, then by how close the
    val and test clip counts are to their target fractions. Uses labels only, never a model. Returns
    (seed, smallest class count).
    """
    speakers = sorted({r.speaker for r in records})
    classes = {joint_label(r.gender, r.age) for r in records if r.gender and r.age}
    best = None
    for seed in range(tries):
        split = {s: speaker_split(s, seed, fractions) for s in speakers}
        counts = {s: Counter() for s in SPLITS}
        sizes = Counter()
        for r in records:
            s = r.split or split[r.speaker]
            sizes[s] += 1
            if r.gender and r.age:
                counts[s][joint_label(r.gender, r.age)] += 1
        least = min(counts[s][c] for s in ("val", "test") for c in classes) if classes else 0
        off = sum(abs(sizes[s] - f * len(records)) for s, f in zip(SPLITS[1:], fractions[1:]))
        key = (least, -off)
        if best is None or key > best[0]:
            best = (key, seed)
    return best[1], best[0][0]
