"""What a user gets per second: relevant models and how faithful they are.

Run:  .venv/bin/python benchmarks/bench_relevant_rate.py --generator G.pt [--generator G2.pt]
      --data oracle.h5 [--n 30000] [--seed 11] [--repeats 3] [--power P]

Two ways to obtain relevant E. coli models, timed in one run on this machine:

(a) ORACLE sampling + the exact filter (max Re(λ) < threshold);
(b) generation by each ``--generator`` (cGAN or flow) + the exact filter (engine labels).

For each: wall time for ``--n`` candidate models (sampling or generating, V_max
back-calculation, labelling; the median of ``--repeats`` timings of the same work) and, for a
generator, the part spent generating (without the filter),
relevant models per second, and the fidelity of the kept
relevant models against the relevant sets of ``--data`` (the generator's training data):
width (median std and IQR ratio of ln K_M) and C2ST accuracy against relevant ORACLE models
of an independent draw (the noise floor is what (a) itself scores).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from rekindle.analysis.fidelity import c2st, width_ratios
from rekindle.data import load_model, load_physiology
from rekindle.generation import load_generator
from rekindle.io.dataset import read_dataset
from rekindle.kinetics import KineticSystem
from rekindle.kinetics.labelling import Labeller
from rekindle.sampling import sample_parameters


def _median_time(work: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    """Median wall time of ``repeats`` runs of ``work`` and its (deterministic) result."""
    times, out = [], np.empty(0)
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--generator", required=True, action="append", help="generator.pt (cGAN or flow; repeat)"
    )
    ap.add_argument("--data", required=True, help="an ORACLE dataset of the generators' model")
    ap.add_argument("--n", type=int, default=30_000, help="candidate models per method")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--repeats", type=int, default=3, help="timings per method (median)")
    ap.add_argument(
        "--power",
        type=float,
        default=None,
        help="guided flows: acceptance exponent (default: each one's own)",
    )
    args = ap.parse_args()
    gens = [load_generator(path) for path in args.generator]
    # the guided flows among the generators draw at --power
    powered = [g for g in gens if args.power is not None and getattr(g, "guide", None) is not None]
    for g in powered:
        g.set_guidance(True, args.power)
    gen = gens[0]
    model_name, phys_name = str(gen.metadata["model"]), str(gen.metadata["physiology"])
    model, phys = load_model(model_name), load_physiology(model_name, phys_name)
    system = KineticSystem(model)
    labeller = Labeller(system, phys, float(gen.threshold))
    train = read_dataset(args.data, rows=slice(0, 200_000))
    reference = system.km_of(train.parameters[train.relevant])
    # an independent ORACLE draw: the C2ST reference for every method
    p_ref, _, rel_ref = sample_parameters(model, phys, args.n, seed=args.seed + 1000)
    heldout = system.km_of(p_ref[rel_ref])

    def oracle() -> np.ndarray:
        params, _, rel = sample_parameters(model, phys, args.n, seed=args.seed)
        return system.km_of(params[rel])

    rows = [("ORACLE + exact filter", *_median_time(oracle, args.repeats), float("nan"))]
    for path, g in zip(args.generator, gens, strict=True):
        if (g.metadata["model"], g.metadata["physiology"]) != (model_name, phys_name):
            raise SystemExit(f"{path}: another model or physiology than {args.generator[0]}")

        drawing: list[float] = []

        def generated(g: Any = g, drawing: list[float] = drawing) -> np.ndarray:
            t0 = time.perf_counter()
            km = g.generate(args.n, "relevant", seed=args.seed)
            drawing.append(time.perf_counter() - t0)
            _, rel_gen = labeller.label(system.complete_parameters(km, phys))
            return km[rel_gen]

        name = f"{g.metadata.get('generator', 'cgan')} ({Path(path).parent.name}) + exact filter"
        if g in powered:
            name += f", power {args.power:g}"
        rows.append((name, *_median_time(generated, args.repeats), float(np.median(drawing))))

    table = Table(title=f"Relevant models per second, {model_name}/{phys_name}, n = {args.n:,}")
    columns = ("method", "seconds", "of which drawing", "incidence", "relevant/s")
    for col in (*columns, "std ratio", "IQR ratio", "C2ST"):
        table.add_column(col, justify="right")
    for name, seconds, kept, drawing_s in rows:
        spread, iqr = width_ratios(kept, reference)
        n_c2st = min(3000, kept.shape[0], heldout.shape[0])
        acc = c2st(np.log(kept), np.log(heldout), max_samples=n_c2st, seed=args.seed)
        table.add_row(
            name,
            f"{seconds:.2f}",
            "" if np.isnan(drawing_s) else f"{drawing_s:.2f}",
            f"{kept.shape[0] / args.n:.3f}",
            f"{kept.shape[0] / seconds:,.0f}",
            f"{spread:.3f}",
            f"{iqr:.3f}",
            f"{acc:.3f}",
        )
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
