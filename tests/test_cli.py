import csv
import io
import json

import pytest

from agegender import AgeGenderClassifier
from agegender.cli import main


def test_one_line_per_file(capsys, tiny_model_dir, make_wav):
    assert main(["predict", str(make_wav("a.wav")), str(make_wav("b.wav")), "--model", str(tiny_model_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(str(make_wav("a.wav")) + ": gender=")
    assert "age=" in lines[0] and "age_gender=" in lines[0]


def test_json_lines(capsys, tiny_model_dir, make_wav):
    path = str(make_wav())
    assert main(["predict", path, "--model", str(tiny_model_dir), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record) == {"file", "gender", "age", "age_gender", "age_years", "age_years_range", "low_confidence",
                           "duration", "probabilities"}  # fmt: skip
    low, high = record["age_years_range"]
    assert low <= record["age_years"] <= high and record["low_confidence"] is False
    assert record["file"] == path
    assert record["age_gender"] in record["probabilities"]["age_gender"]
    assert set(record["probabilities"]["gender"]) == {"female", "male"}
    assert set(record["probabilities"]["age"]) == {"teens", "twenties", "thirties", "fourties", "fifties", "sixties"}


def test_bad_file_gets_an_error_row_and_good_ones_are_answered(capsys, tmp_path, tiny_model_dir, make_wav):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"")
    good = str(make_wav())
    assert main(["predict", str(bad), good, "--model", str(tiny_model_dir), "--json"]) == 1
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0] == {"file": str(bad), "error": "the file is empty"}
    assert rows[1]["file"] == good and rows[1]["gender"] in ("female", "male")
    assert err == f"error: {bad}: the file is empty\n"


def test_folders_are_searched_recursively_and_globs_expanded(capsys, tmp_path, tiny_model_dir, make_wav):
    (tmp_path / "corpus" / "deep").mkdir(parents=True)
    a = make_wav("corpus/a.wav")
    b = make_wav("corpus/deep/b.flac")
    (tmp_path / "corpus" / "notes.txt").write_text("not audio")
    c = make_wav("c.wav")
    argv = ["predict", str(tmp_path / "corpus"), str(tmp_path / "*.wav"), "--model", str(tiny_model_dir), "--json"]
    assert main(argv) == 0
    assert [json.loads(line)["file"] for line in capsys.readouterr().out.splitlines()] == [str(a), str(b), str(c)]


def test_pattern_or_folder_without_audio_is_an_error_row(capsys, tmp_path, tiny_model_dir):
    (tmp_path / "empty").mkdir()
    argv = ["predict", str(tmp_path / "empty"), str(tmp_path / "*.mp3"), "--model", str(tiny_model_dir), "--json"]
    assert main(argv) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["error"] for r in rows] == ["no audio files found", "no files match this pattern"]


def test_csv_has_labels_probabilities_and_errors(capsys, tmp_path, tiny_model_dir, make_wav):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF not audio" * 40)
    paths = [str(make_wav("a.wav")), str(bad), str(make_wav("b.wav", seconds=6.0))]
    assert main(["predict", *paths, "--model", str(tiny_model_dir), "--csv", "--batch-size", "2"]) == 1
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["file"] for r in rows] == paths
    assert rows[1]["error"].startswith("could not decode") and rows[1]["gender"] == ""
    labels = AgeGenderClassifier.from_pretrained(tiny_model_dir).config.labels
    for row in (rows[0], rows[2]):
        assert row["error"] == "" and "age_years" in row
        for task, names in labels.items():
            probs = {n: float(row[f"{task}:{n}"]) for n in names}
            assert sum(probs.values()) == pytest.approx(1, abs=1e-4) and row[task] == max(probs, key=probs.get)


def test_worker_processes_give_the_same_answers(capsys, tmp_path, tiny_model_dir, make_wav):
    paths = [str(make_wav(f"{i}.wav", seconds=1.5 + i)) for i in range(5)] + [str(tmp_path / "missing.wav")]
    argv = ["predict", *paths, "--model", str(tiny_model_dir), "--json", "--batch-size", "2"]
    assert main(argv + ["--workers", "0"]) == 1
    alone = capsys.readouterr().out.splitlines()
    assert main(argv + ["--workers", "2"]) == 1
    pooled = capsys.readouterr().out.splitlines()
    assert len(alone) == 6 and json.loads(alone[-1])["error"] == "no such file"
    for x, y in zip(map(json.loads, alone), map(json.loads, pooled)):
        assert x.keys() == y.keys() and x["file"] == y["file"]
        for task in x.get("probabilities", {}):
            for label, p in x["probabilities"][task].items():
                assert y["probabilities"][task][label] == pytest.approx(p, abs=1e-5)


def test_progress_bar_goes_to_stderr(capsys, tiny_model_dir, make_wav):
    paths = [str(make_wav(f"{i}.wav")) for i in range(3)]
    assert main(["predict", *paths, "--model", str(tiny_model_dir), "--json", "--progress"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 3 and "3/3" in err


def test_missing_model_directory(capsys, tmp_path, make_wav):
    assert main(["predict", str(make_wav()), "--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: could not load model") and len(err.splitlines()) == 1
