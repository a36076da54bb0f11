"""Argument checks (before any file is touched) and unique population names."""

from __future__ import annotations

from pathlib import Path

import pytest

from rekindle.analysis.populations import population_names
from rekindle.errors import UsageError
from rekindle.validation import (
    MAX_SEED,
    require_device,
    require_disk_space,
    require_finite,
    require_output_file,
    require_positive,
    require_seed,
)


def test_populations_with_the_same_stem_get_distinct_names():
    names = population_names([Path("runA/oracle.h5"), Path("runB/oracle.h5"), Path("g.h5")])
    assert names == ["runA/oracle", "runB/oracle", "g"]
    assert population_names([Path("a.h5"), Path("b.h5")], ["ORACLE", "GAN"]) == ["ORACLE", "GAN"]
    with pytest.raises(UsageError, match="given twice"):
        population_names([Path("a.h5"), Path("./a.h5")])
    with pytest.raises(UsageError, match="1 --label for 2 datasets"):
        population_names([Path("a.h5"), Path("b.h5")], ["x"])


@pytest.mark.parametrize(
    ("check", "match"),
    [
        (lambda: require_positive("--n", 0), "--n must be at least 1, got 0"),
        (lambda: require_positive("--chunk-size", -3), "--chunk-size must be at least 1"),
        (lambda: require_finite("--threshold", float("nan")), "--threshold must be a finite"),
        (lambda: require_seed(-1), "--seed must be between 0 and"),
        (lambda: require_seed(MAX_SEED + 1), "--seed must be between 0 and"),
        (lambda: require_device("bogus"), "--device must be cpu, cuda"),
        (lambda: require_disk_space(Path("x.h5"), 10**12, 411), "at most .* models fit"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(check, match):
    with pytest.raises(UsageError, match=match) as err:
        check()
    assert "\n" not in str(err.value)


def test_output_checks(tmp_path):
    with pytest.raises(UsageError, match="is a folder"):
        require_output_file(tmp_path)
    assert require_output_file(tmp_path / "new" / "deeper" / "d.h5")
    assert require_seed(0) == 0 and require_seed(MAX_SEED) == MAX_SEED
    assert require_device("cuda:1") == "cuda:1" and require_device(None) is None
