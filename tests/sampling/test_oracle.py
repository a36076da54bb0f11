"""ORACLE sampling: saturations, reproducibility, resume, and the published incidence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from rekindle.io.dataset import read_dataset
from rekindle.sampling import (
    km_reference_concentrations,
    sample_dataset,
    sample_parameters,
    saturation_from_km,
)


def test_saturations_are_uniform(ecoli, fdp1, ecoli_system):
    p, _, _ = sample_parameters(ecoli, fdp1, 400, seed=11)
    sigma = saturation_from_km(ecoli_system.km_of(p), km_reference_concentrations(ecoli, fdp1))
    # every K_M's saturation is U(0,1): KS test per parameter, Bonferroni over 259
    pvals = [stats.kstest(sigma[:, j], "uniform").pvalue for j in range(sigma.shape[1])]
    assert min(pvals) > 1e-3 / len(pvals)


def test_sampled_sets_are_steady_states(ecoli, fdp1, ecoli_system):
    p, _, _ = sample_parameters(ecoli, fdp1, 20, seed=2)
    x = ecoli_system.steady_state_concentrations(fdp1)
    v = ecoli_system.rates(x, p)
    flux = fdp1.flux_vector(ecoli.reaction_ids)
    np.testing.assert_allclose(v, np.broadcast_to(flux, v.shape), rtol=1e-10, atol=1e-6)
    vmax = p[:, [ecoli.parameter_index[f"vmax_forward_{r}"] for r in ecoli.reaction_ids]]
    assert np.all(np.isfinite(vmax)) and np.all(vmax >= 0)


def test_same_seed_same_population_whatever_the_threads(toy, toy_ref):
    a = sample_parameters(toy, toy_ref, 250, seed=4, chunk_size=64, n_jobs=1)
    b = sample_parameters(toy, toy_ref, 250, seed=4, chunk_size=64, n_jobs=2)
    c = sample_parameters(toy, toy_ref, 250, seed=5, chunk_size=64, n_jobs=2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_incidence_of_fdp1_is_the_published_one(ecoli, fdp1):
    n = 6000
    _, lam, rel = sample_parameters(ecoli, fdp1, n, seed=2024)
    # published: 58.8 % of 80 000 ORACLE sets; allow 4 binomial standard errors
    se = np.sqrt(0.588 * 0.412 / n)
    assert abs(rel.mean() - 0.588) < 4 * se
    assert np.all(np.isfinite(lam))


def test_resume_after_interrupt_gives_the_same_file(tmp_path, toy, toy_ref):
    full = sample_dataset(toy, toy_ref, 300, tmp_path / "full.h5", seed=7, chunk_size=50)
    out = tmp_path / "resumed.h5"

    class Stop(Exception):
        pass

    def stop_after_two_chunks(done: int) -> None:
        if done >= 100:
            raise Stop

    with pytest.raises(Stop):
        sample_dataset(
            toy, toy_ref, 300, out, seed=7, chunk_size=50, progress=stop_after_two_chunks
        )
    assert not out.exists()
    sample_dataset(toy, toy_ref, 300, out, seed=7, chunk_size=50, resume=True)
    a, b = read_dataset(full), read_dataset(out)
    np.testing.assert_array_equal(a.parameters, b.parameters)
    np.testing.assert_array_equal(a.relevant, b.relevant)
