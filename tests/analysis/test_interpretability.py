"""KL ranking of parameters and the collection of class populations."""

from __future__ import annotations

import numpy as np

from rekindle.analysis.interpretability import collect_class_populations, rank_parameters


def test_ranking_finds_the_parameters_that_differ():
    rng = np.random.default_rng(0)
    a = 10 ** rng.normal(0, 1, size=(4000, 6))
    b = 10 ** rng.normal(0, 1, size=(4000, 6))
    b[:, 4] *= 10.0  # one decade shift: the largest divergence
    b[:, 1] *= 10**0.3  # a smaller one
    r = rank_parameters(a, b, [f"k{i}" for i in range(6)])
    assert r.names[:2] == ["k4", "k1"]
    assert r.kl[0] > r.kl[1] > 3 * r.kl[2]
    assert r.top(2)[0]["name"] == "k4"


def test_collection_sorts_by_the_engine_label_until_both_quotas_are_met():
    def generate(n, seed):
        return np.random.default_rng(seed).uniform(1, 2, size=(n, 3))

    def max_eig(km):  # "relevant" when the first K_M is above 1.9: 10 % of draws
        return np.where(km[:, 0] > 1.9, -20.0, 5.0)

    pops = collect_class_populations(generate, max_eig, 150, batch_size=500)
    assert pops.complete
    assert pops.relevant.shape == (150, 3) and pops.not_relevant.shape == (150, 3)
    assert np.all(pops.relevant[:, 0] > 1.9) and np.all(pops.not_relevant[:, 0] <= 1.9)
    assert np.all(pops.max_eig_relevant < -9)
