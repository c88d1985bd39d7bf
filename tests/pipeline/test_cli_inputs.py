"""`synth run` checks its input files before it contacts the endpoint."""

from __future__ import annotations

from astra_gym.cli import main


def test_a_missing_input_is_reported_before_the_endpoint_is_probed(tmp_path, capsys):
    # Port 9 (discard) on loopback: nothing listens, so a probe would fail with a
    # connection error; the missing file must be what the user hears about.
    code = main(["synth", "run", "--input", str(tmp_path / "missing.jsonl"), "--out",
                 str(tmp_path / "run"), "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
                 "--api-key", "x"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot read" in err and "missing.jsonl" in err
    assert "endpoint" not in err
    assert not (tmp_path / "run").exists()
