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


def test_a_fitted_flow_ranks_first_the_parameter_that_decides_the_class():
    """A flow fitted on sets whose class is decided by the saturation of K_M ``k2`` alone
    (relevant ⇔ σ₂ > 0.5, the others independent of the class): the models its relevant
    class gets wrong differ from those it gets right in ``k2`` only, so ``k2`` ranks first
    by far and the ranking goes through the same Generator interface as the cGAN's."""
    from rekindle.analysis.interpretability import Generator, interpret_generator
    from rekindle.flow import FlowConfig, KineticFlow

    ref = np.array([10.0, 30.0, 100.0, 300.0, 1000.0])
    sigma = np.random.default_rng(3).uniform(0.001, 0.999, (4000, 5))
    flow = KineticFlow(ref, [f"k{i}" for i in range(5)], {}, FlowConfig(transforms=0, bins=512))
    flow.fit(ref * (1 - sigma) / sigma, sigma[:, 2] > 0.5)
    assert isinstance(flow, Generator)

    def max_eig(km):  # the planted rule, in eigenvalue form (threshold −9 /h)
        return np.where(ref[2] / (ref[2] + km[:, 2]) > 0.5, -20.0, 5.0)

    pops, ranking = interpret_generator(flow, max_eig, 300, batch_size=2000)
    assert pops.complete and ranking is not None
    assert ranking.names[0] == "k2"
    assert ranking.kl[0] > 5 * ranking.kl[1]
