"""Progress without a terminal: the heartbeat prints a line at least every interval."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

import rekindle.progress
from rekindle.progress import Heartbeat, LineProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_heartbeat_fires_only_after_a_silent_interval() -> None:
    clock, lines = FakeClock(), []
    beat = Heartbeat("rekindle train", lines.append, interval=30.0, clock=clock)
    clock.now += 29.9
    assert not beat.beat() and lines == []
    clock.now += 0.1
    assert beat.beat()
    assert lines == ["rekindle train: still working, 30 s elapsed"]
    clock.now += 20.0
    beat.touch("guide step 10/300")  # a line printed elsewhere resets the timer
    clock.now += 29.0
    assert not beat.beat()
    clock.now += 1.0
    assert beat.beat()
    assert lines[-1] == "rekindle train: still working, 80 s elapsed (last: guide step 10/300)"


def test_heartbeat_and_progress_lines_leave_no_gap_over_the_interval() -> None:
    """Driven second by second through silent phases and progress phases."""
    clock, stamps = FakeClock(), []
    beat = Heartbeat("rekindle train", lambda _line: stamps.append(clock.now), clock=clock)
    bar = LineProgress("guide", 1000, beat.write, clock=clock)
    for second in range(600):
        clock.now += 1.0
        if 200 <= second < 400:  # a stage reporting progress every second
            bar(second - 199)
        beat.beat()
    gaps = [b - a for a, b in zip([100.0, *stamps], stamps, strict=False)]
    assert stamps and max(gaps) <= rekindle.progress.PROGRESS_LINE_INTERVAL_S
    assert stamps[-1] >= 700.0 - rekindle.progress.PROGRESS_LINE_INTERVAL_S


def test_heartbeat_thread_writes_while_the_body_is_silent() -> None:
    lines: list[str] = []
    with Heartbeat("work", lines.append, interval=0.05, poll=0.01):
        time.sleep(0.4)
    assert 4 <= len(lines) <= 9
    n = len(lines)
    time.sleep(0.1)
    assert len(lines) == n  # the thread stopped with the block


@pytest.mark.slow
def test_unattended_train_prints_during_a_slowed_pre_training_stage(tmp_path, monkeypatch) -> None:
    """`rekindle train` without a terminal: a line at least every interval, checks included."""
    import rekindle.flow.model as flow_model
    from rekindle.cli import app
    from rekindle.data import load_model, load_physiology
    from rekindle.sampling import sample_dataset

    data = sample_dataset(
        load_model("toy"), load_physiology("toy", "ref"), 1000, tmp_path / "d.h5", seed=0, n_jobs=1
    )
    monkeypatch.setattr(rekindle.progress, "PROGRESS_LINE_INTERVAL_S", 0.2)
    fit = flow_model.fit_flow_generator

    def slowed(*args, **kwargs):
        time.sleep(1.0)  # stands for the silent checks and counting passes on 10^5 sets
        return fit(*args, **kwargs)

    monkeypatch.setattr(flow_model, "fit_flow_generator", slowed)
    args = ["train", "--data", str(data), "--output", str(tmp_path / "f"), "--guide-epochs", "1"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert res.output.count("rekindle train: still working") >= 3
    quiet = CliRunner().invoke(app, [*args[:3], "--output", str(tmp_path / "g"), "-q"])
    assert quiet.exit_code == 0 and "still working" not in quiet.output
