import json

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


def test_bad_file_fails_but_good_ones_are_answered(capsys, tmp_path, tiny_model_dir, make_wav):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"")
    good = str(make_wav())
    assert main(["predict", str(bad), good, "--model", str(tiny_model_dir), "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["file"] == good
    assert err == f"error: {bad}: the file is empty\n"


def test_missing_model_directory(capsys, tmp_path, make_wav):
    assert main(["predict", str(make_wav()), "--model", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: could not load model") and len(err.splitlines()) == 1
