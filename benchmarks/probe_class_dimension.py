"""How many saturation coordinates does a class of max Re(λ) depend on?

Members of the class (the last subset-simulation level of
:func:`rekindle.classes.sampler.sample_class`, E. coli fdp1) keep their ``k`` most sensitive
coordinates (rank correlation with the violation in a prior population of
``--population`` sets) and redraw the other ``259 − k`` from ORACLE's prior; the table
prints the fraction still in the class (exact labels). No proposal that models ``k``
coordinates and leaves the rest at the prior can put more of its draws in the class.

    python benchmarks/probe_class_dimension.py --classes -28 -30 -35 --members 800
"""

from __future__ import annotations

import argparse

import numpy as np

from rekindle.classes import ClassSamplerSettings, parse_where
from rekindle.classes.generate import class_engine
from rekindle.classes.labels import LabelCounter, saturation_of
from rekindle.classes.levels import sensitivity_shape, subset_levels
from rekindle.io.model_bundle import load_bundle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", type=float, nargs="+", default=[-28, -30, -35])
    ap.add_argument("--kept", type=int, nargs="+", default=[3, 10, 20, 40, 80])
    ap.add_argument("--members", type=int, default=800)
    ap.add_argument("--population", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    bundle = load_bundle("ecoli", "fdp1")
    m, p = bundle.model, bundle.physiology
    d = len(m.km_names)
    print("| class | members | " + " | ".join(f"k = {k}" for k in args.kept) + " |")
    print("|---|---|" + "---|" * len(args.kept))
    for bound in args.classes:
        spec = parse_where(f"max_eig < {bound}")
        measure, _, _ = class_engine(m, p, spec)
        rng = np.random.default_rng(args.seed)
        settings = ClassSamplerSettings(seed=args.seed, population=args.population)
        u, *_ = subset_levels(spec, LabelCounter(measure, None), d, settings, rng)
        u = u[: args.members]
        prior = rng.standard_normal((args.population, d))
        shape = sensitivity_shape(prior, spec.violation(measure(saturation_of(prior))))
        order = np.argsort(shape)  # smallest step multiplier = most sensitive
        row = []
        for k in args.kept:
            w = rng.standard_normal(u.shape)
            w[:, order[:k]] = u[:, order[:k]]
            row.append(f"{spec.eig_member(measure(saturation_of(w))).mean():.3f}")
        print(f"| < {bound:g} | {u.shape[0]} | " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
