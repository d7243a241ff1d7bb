import csv

import numpy as np

from training.datasets import assign_splits, read_commonvoice, read_corpus, read_kaggle, read_manifest, speaker_split

CV_COLUMNS = ["client_id", "path", "sentence", "up_votes", "down_votes", "age", "gender", "accents", "variant",
              "locale", "segment"]  # fmt: skip


def write_tsv(path, rows, columns):
    with open(path, "w", newline="") as f:
        f.write("\t".join(columns) + "\n")
        for r in rows:
            f.write("\t".join(str(r.get(c, "")) for c in columns) + "\n")


def test_commonvoice_spellings_and_bad_rows(tmp_path, clip_maker):
    clips = clip_maker(tmp_path, 8)
    rows = [
        {"client_id": "a", "path": clips[0]["path"], "sentence": 'say "hi"', "age": "twenties", "gender": "male"},
        {"client_id": "a", "path": clips[1]["path"], "age": "seventies", "gender": "female_feminine"},
        {"client_id": "b", "path": clips[2]["path"], "age": "", "gender": "male_masculine"},
        {"client_id": "b", "path": clips[3]["path"], "age": "thirties", "gender": "other"},
        {"client_id": "c", "path": clips[4]["path"], "age": "", "gender": ""},  # no label: skipped
        {"client_id": "c", "path": "nope.mp3", "age": "teens", "gender": "female"},  # missing file: skipped
        {"client_id": "d", "path": clips[5]["path"], "age": "ancient", "gender": "robot"},  # unknown: skipped
    ]
    write_tsv(tmp_path / "validated.tsv", rows, CV_COLUMNS)
    records, skipped = read_commonvoice(tmp_path)
    assert [(r.gender, r.age) for r in records] == [
        ("male", "twenties"), ("female", "sixties"), ("male", None), (None, "thirties")
    ]
    assert records[0].speaker == "a" and records[0].split is None
    assert skipped["missing audio file"] == 1
    assert skipped["no gender or age label"] == 2
    assert skipped["unknown gender label (kept without gender)"] == 1
    assert read_corpus(tmp_path)[0] == records


def test_commonvoice_release_splits(tmp_path, clip_maker):
    clips = clip_maker(tmp_path, 3)
    for name, clip in zip(["train.tsv", "dev.tsv", "test.tsv"], clips):
        write_tsv(tmp_path / name, [{"client_id": name, "path": clip["path"], "age": "teens", "gender": "male"}],
                  CV_COLUMNS)  # fmt: skip
    records, _ = read_commonvoice(tmp_path, release_splits=True)
    assert [r.split for r in records] == ["train", "val", "test"]


def test_kaggle_layout(tmp_path, clip_maker):
    cols = ["filename", "text", "up_votes", "down_votes", "age", "gender", "accent", "duration"]
    for name in ("cv-valid-train", "cv-valid-dev"):
        (tmp_path / name).mkdir()
        clips = clip_maker(tmp_path / name, 2)
        rows = [{"filename": f"{name}/clips/{c['path']}", "text": "a, b", "age": c["age"], "gender": c["gender"]}
                for c in clips]  # fmt: skip
        rows.append({"filename": f"{name}/gone.mp3", "age": "teens", "gender": "male"})
        rows.append({"filename": f"{name}/clips/{clips[0]['path']}", "age": "", "gender": ""})
        with open(tmp_path / f"{name}.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)
    records, skipped = read_kaggle(tmp_path)
    assert len(records) == 4 and {r.split for r in records} == {"train", "val"}
    assert skipped["missing audio file"] == 2 and skipped["no gender or age label"] == 2
    assert read_corpus(tmp_path)[0] == records


def test_manifest(manifest_corpus):
    records, skipped = read_manifest(manifest_corpus / "manifest.csv")
    assert len(records) == 48
    assert skipped["missing audio file"] == 1 and skipped["no gender or age label"] == 1
    assert len(read_corpus(manifest_corpus)[0]) == 48


def test_split_is_speaker_disjoint_and_reproducible(manifest_corpus):
    records, _ = read_manifest(manifest_corpus / "manifest.csv")
    assign_splits(records, seed=3)
    by_speaker = {}
    for r in records:
        by_speaker.setdefault(r.speaker, set()).add(r.split)
    assert all(len(s) == 1 for s in by_speaker.values())
    assert [speaker_split(r.speaker, 3) for r in records] == [r.split for r in records]
    shares = np.mean([speaker_split(f"s{i}", 0) == "train" for i in range(2000)])
    assert 0.75 < shares < 0.85


def test_age_in_years_column(tmp_path, clip_maker):
    """The Speech Accent Archive / speechocean762 layout: Common Voice columns plus age_years and source."""
    clips = clip_maker(tmp_path, 4)
    columns = CV_COLUMNS + ["age_years", "source"]
    rows = [
        {"client_id": "saa-a", "path": clips[0]["path"], "age": "teens", "gender": "female", "age_years": "8"},
        {"client_id": "saa-b", "path": clips[1]["path"], "age": "fourties", "gender": "male", "age_years": "47"},
        {"client_id": "saa-c", "path": clips[2]["path"], "age": "twenties", "gender": "male", "age_years": ""},
        {"client_id": "saa-d", "path": clips[3]["path"], "age": "sixties", "gender": "female", "age_years": "old"},
    ]
    write_tsv(tmp_path / "validated.tsv", [{**r, "source": "somewhere"} for r in rows], columns)
    records, skipped = read_commonvoice(tmp_path)
    assert [r.age_years for r in records] == [8.0, 47.0, None, None]
    assert [r.age for r in records] == ["teens", "fourties", "twenties", "sixties"]
    assert skipped["unreadable age_years (kept without it)"] == 1


def test_age_targets_use_years_where_known_and_the_group_otherwise():
    from training.data import age_targets

    t = age_targets([{"age": "teens", "age_years": 8.0}, {"age": "thirties"}, {"age": None}])
    assert t[0].tolist() == [8.0, 5.0, 20.0] and np.isnan(t[1, 0]) and t[1, 1:].tolist() == [30.0, 40.0]
    assert np.isnan(t[2]).all()
