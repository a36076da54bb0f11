"""Why incidence alone does not measure a generator: narrower saturations are more stable.

The README and the run summary report the spread of generated K_M next to the incidence;
this test is the evidence behind that advice (ORACLE draws σ ~ U(0, 1); restricting every
σ to U(0.25, 0.75) makes nearly every fdp1 model relevant).
"""

from __future__ import annotations

import numpy as np

from rekindle.kinetics.labelling import Labeller
from rekindle.sampling import km_from_saturation, km_reference_concentrations


def _incidence(system, phys, lo, hi, n=2000):
    x = km_reference_concentrations(system.model, phys)
    sigma = np.random.default_rng(0).uniform(lo, hi, size=(n, x.size))
    return Labeller(system, phys).label_km(km_from_saturation(sigma, x))[2].mean()


def test_narrower_saturations_raise_the_incidence(ecoli_system, fdp1):
    full = _incidence(ecoli_system, fdp1, 0.0 + 1e-12, 1.0 - 1e-12)
    mid80 = _incidence(ecoli_system, fdp1, 0.1, 0.9)
    mid50 = _incidence(ecoli_system, fdp1, 0.25, 0.75)
    assert abs(full - 0.588) < 0.045  # the ORACLE incidence (4 binomial s.e.)
    assert 0.80 < mid80 < 0.92
    assert mid50 > 0.97
