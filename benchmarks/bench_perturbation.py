"""Throughput and outcome of the perturbation analysis on this machine (paper Fig. 2e).

Run:  .venv/bin/python benchmarks/bench_perturbation.py [--n-models 1000]
          [--n-perturbations 10] [--jobs N] [--rtol 1e-5] [--atol 1e-8]
          [--protocols uniform fold] [--output summary.json] [--threads]
          [--no-step-table] [--iteration-profile N]

Samples biologically relevant ORACLE models of E. coli (fdp1), runs the perturbation
analysis with each protocol and prints a table: integrations, wall time, integrations/s
(issue 17 asks ≥ 170/s on 2 cores: 1 000 models × 10 in ≤ 60 s), process CPU time per
integration (this process and its worker processes; comparable on a shared machine
where wall time is not), fraction returned
(of completed integrations, and of all), blown-up and failed counts, acceptance rate of
the perturbation draws and mean / largest steps per integration. A second table gives
the CPU cost of one integration step per trajectory and stage (one thread; a full batch
of 512 perturbed states, and a single trajectory as at the end of a chunk, where the
slowest integrations run nearly alone), and of whole steps of the integrator.
``--iteration-profile N`` integrates the first N models' perturbations as one chunk in
this process and prints the loop's iterations and CPU seconds by the number of
trajectories stepped together (the tail of a worker's chunk).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import replace

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import rekindle.analysis.perturbation as perturbation_module
from rekindle.analysis.initial_states import draw_initial_states
from rekindle.analysis.perturbation import (
    PERTURBATION_OPTIONS,
    PerturbationResult,
    PerturbationSettings,
    perturbation_analysis,
    write_summary,
)
from rekindle.data import load_model, load_physiology
from rekindle.integrate import (
    DEFAULT_MAX_BATCH,
    IntegratorOptions,
    ReducedProblem,
    Status,
    integrate_batch,
    single_threaded_blas,
)
from rekindle.integrate.linear import factorise
from rekindle.kinetics import KineticSystem
from rekindle.kinetics.compiled import compiled_rates
from rekindle.sampling import sample_parameters
from rekindle.scale import default_n_jobs


def relevant_models(n: int, seed: int) -> np.ndarray:
    """``n`` relevant ORACLE parameter sets of E. coli fdp1, shape ``(n, n_parameters)``."""
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    got: list[np.ndarray] = []
    have, draw, round_ = 0, max(2 * n, 100), 0
    while have < n:
        p, _, rel = sample_parameters(model, phys, draw, seed=seed + 1000 * round_)
        got.append(p[rel])
        have += int(rel.sum())
        round_ += 1
    return np.concatenate(got)[:n]


def step_costs(parameters: np.ndarray, m: int = DEFAULT_MAX_BATCH) -> dict[str, float]:
    """CPU seconds per trajectory of each part of one RODAS4 step (one thread, batch ``m``),
    and of whole steps of :func:`integrate_batch` (loop, controller and copies included)."""
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    system = KineticSystem(model)
    x = system.steady_state_concentrations(phys)
    prob = ReducedProblem(system, x)
    rng = np.random.default_rng(0)
    x0, _ = draw_initial_states(system, x, m, "fold", rng)
    p = parameters[np.arange(m) % parameters.shape[0]]
    z = x0 / x
    reps = max(3, 2000 // m)
    out: dict[str, float] = {}
    with single_threaded_blas:
        jac = prob.jacobian(z, p)
        jac_t = prob.jacobian(z, p, transposed=True)  # as the integrator stores them
        diagonal = np.full(m, 1e3)
        factors = factorise(jac_t, diagonal)
        b = np.ascontiguousarray(z[:, : jac.shape[1]])

        lu_torch = torch.from_numpy(factors.lu_t).mT  # the same factors, as torch reads them
        pivots_torch = torch.from_numpy(factors.pivots)

        def torch_getrs() -> None:  # the former stage solves
            for _ in range(6):
                rhs = torch.from_numpy(b)[:, :, None]
                torch.linalg.lu_solve(lu_torch, pivots_torch, rhs)[:, :, 0].numpy()

        def torch_getrf() -> None:  # the former factorisation (row-major W, torch's getrf)
            w = np.negative(jac)
            w.reshape(m, -1)[:, :: jac.shape[1] + 1] += diagonal[:, None]
            np.isfinite(w.reshape(m, -1)).all(axis=1)
            torch.linalg.lu_factor_ex(torch.from_numpy(w))

        entries = system.elasticity_entries(x0, p)
        prepared = prob.prepare(p)  # as in the integrator: once per step
        numpy_prob = ReducedProblem(system, x, compiled=False)  # the numpy engine (before)
        numpy_prepared = numpy_prob.prepare(p)
        for name, fn in (
            ("right-hand side ×5 (stages 2–6)", lambda: [prob.rhs(z, prepared) for _ in range(5)]),
            (
                "  the same by the numpy engine (before), ×5",
                lambda: [numpy_prob.rhs(z, numpy_prepared) for _ in range(5)],
            ),
            (
                "right-hand side + elasticities",
                lambda: compiled_rates(system).rates_and_entries(x0, p),
            ),
            (
                "  the same by the numpy engine (before), with elasticities",
                lambda: system.rates_and_elasticity_entries(x0, p),
            ),
            (
                "Jacobian assembly (sparse)",
                lambda: system.elasticities.reduced_jacobian(entries, prob.jac_map),
            ),
            (
                "LU of I/(hγ) − J (built + LAPACK getrf, compiled loop)",
                lambda: factorise(jac_t, diagonal),
            ),
            ("  the same through torch's batched getrf (before)", torch_getrf),
            ("6 LU solves (compiled getrs loop)", lambda: [factors.solve(b) for _ in range(6)]),
            ("  the same by torch's batched getrs (before)", torch_getrs),
        ):
            fn()
            t = time.process_time()
            for _ in range(reps):
                fn()
            out[name] = (time.process_time() - t) / reps / m
        steps = 40
        opts = replace(PERTURBATION_OPTIONS, max_steps=steps)
        t = time.process_time()
        integrate_batch(system, p, x0, 0.35, scale=x, options=opts, max_batch=m)
        out["whole step (integrate_batch)"] = (time.process_time() - t) / steps / m
    return out


def _parts(costs: dict[str, float]) -> float:
    return sum(v for k, v in costs.items() if not k.startswith(("whole", " ")))


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished worker processes, s."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def iteration_profile(
    system: KineticSystem,
    reference: np.ndarray,
    parameters: np.ndarray,
    settings: PerturbationSettings,
) -> tuple[list[tuple[str, int, float]], dict[str, int]]:
    """Loop iterations of one chunk (``parameters``' models in one process, one thread)
    and their CPU seconds, by the number of trajectories stepped together: the cost of
    the tail, where the slowest integrations run nearly alone; and the chunk's
    integrations per status. ``reference``: ``X_ref``, µM, ``(n_states,)``."""
    import rekindle.integrate.loop as loop_module

    bounds = (1, 4, 16, 64, 128, 256, DEFAULT_MAX_BATCH)
    counts, seconds = np.zeros(len(bounds), dtype=int), np.zeros(len(bounds))
    advance = loop_module._advance

    def timed(run, state):  # the loop's step of every active trajectory, timed
        t = time.process_time()
        running = advance(run, state)
        i = min(int(np.searchsorted(bounds, state.size)), len(bounds) - 1)
        counts[i] += 1
        seconds[i] += time.process_time() - t
        return running

    loop_module._advance = timed
    try:
        with single_threaded_blas:
            chunk = perturbation_module.perturbation_chunk(
                system, reference, parameters, 0, settings
            )
    finally:
        loop_module._advance = advance
    lower = (1, 2, 5, 17, 65, 129, 257)
    rows = [
        (f"{lo}–{hi}" if lo < hi else f"{lo}", int(c), float(s))
        for lo, hi, c, s in zip(lower, bounds, counts, seconds, strict=True)
    ]
    codes, n = np.unique(chunk.status, return_counts=True)
    return rows, {Status(int(c)).name: int(k) for c, k in zip(codes, n, strict=True)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n-models", type=int, default=1000)
    ap.add_argument("--n-perturbations", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=default_n_jobs())
    ap.add_argument("--rtol", type=float, default=PERTURBATION_OPTIONS.rtol)
    ap.add_argument("--atol", type=float, default=PERTURBATION_OPTIONS.atol)
    ap.add_argument("--method", default="rodas4")
    ap.add_argument("--protocols", nargs="+", default=["uniform", "fold"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", help="write the summaries to this .csv or .json")
    ap.add_argument(
        "--threads",
        action="store_true",
        help="map the chunks with threads instead of worker processes (as below 2 000 "
        "integrations before 2026-12-07)",
    )
    ap.add_argument(
        "--step-table",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also print the CPU cost of one step per part",
    )
    ap.add_argument(
        "--iteration-profile",
        type=int,
        default=0,
        metavar="N",
        help="also integrate the first N models' perturbations (first protocol) as one "
        "chunk in this process and print its loop iterations and CPU by batch size",
    )
    args = ap.parse_args()
    if args.threads:
        perturbation_module.PROCESS_MIN_INTEGRATIONS = sys.maxsize

    console = Console(width=160)
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    system = KineticSystem(model)
    t = time.perf_counter()
    params = relevant_models(args.n_models, args.seed)
    console.print(
        f"sampled {len(params):,} relevant fdp1 models in {time.perf_counter() - t:.1f} s"
    )
    options = IntegratorOptions(rtol=args.rtol, atol=args.atol)
    results: dict[str, PerturbationResult] = {}
    cpu: dict[str, float] = {}
    for protocol in args.protocols:
        settings = PerturbationSettings(
            protocol=protocol,
            n_perturbations=args.n_perturbations,
            seed=args.seed,
            store_models=0,
            options=options,
            method=args.method,
        )
        c0 = _cpu_seconds()
        results[protocol] = perturbation_analysis(system, phys, params, settings, n_jobs=args.jobs)
        cpu[protocol] = _cpu_seconds() - c0
    table = Table(
        title=(
            f"Perturbation analysis, E. coli fdp1, {args.n_models:,} relevant ORACLE models × "
            f"{args.n_perturbations} ({args.method}, rtol {args.rtol:g}, atol {args.atol:g}·X_ref, "
            f"{args.jobs} {'thread' if args.threads else 'worker'}(s))"
        )
    )
    for col in (
        "protocol",
        "integrations",
        "wall s",
        "integrations/s",
        "CPU ms/integration",
        "returned (completed)",
        "returned (all)",
        "blown up",
        "failed",
        "draws accepted",
        "mean steps",
        "max steps",
    ):
        table.add_column(col, justify="right")
    for protocol, r in results.items():
        table.add_row(
            protocol,
            f"{r.n_integrations:,}",
            f"{r.wall_time:.1f}",
            f"{r.integrations_per_second:.1f}",
            f"{1e3 * cpu[protocol] / r.n_integrations:.1f}",
            f"{r.fraction_returned_completed:.4f}",
            f"{r.fraction_returned:.4f}",
            f"{r.n_blown_up}",
            f"{r.n_failed}",
            f"{r.acceptance_rate:.3f}",
            f"{np.mean(r.n_accepted + r.n_rejected):.0f}",
            f"{np.max(r.n_accepted + r.n_rejected)}",
        )
    console.print(table)
    console.print(
        "target (issue 17): ≥ 170 integrations/s on 2 cores, i.e. ≤ 11.8 ms CPU per integration"
    )
    console.print(
        "paper (fdp1, fold protocol, 1 000 models × 100): ORACLE 66.31 %, REKINDLE 66.85 %"
    )
    if args.iteration_profile:
        settings = PerturbationSettings(
            protocol=args.protocols[0],
            n_perturbations=args.n_perturbations,
            seed=args.seed,
            store_models=0,
            options=options,
            method=args.method,
        )
        reference = system.steady_state_concentrations(phys)
        rows, statuses = iteration_profile(
            system, reference, params[: args.iteration_profile], settings
        )
        t3 = Table(
            title=f"one chunk of {min(args.iteration_profile, len(params))} models: loop "
            "iterations by trajectories stepped together (CPU s, one thread)"
        )
        for col in ("trajectories", "iterations", "CPU s", "ms per iteration"):
            t3.add_column(col, justify="right")
        for label, n_it, s in rows:
            t3.add_row(label, f"{n_it:,}", f"{s:.2f}", f"{1e3 * s / max(n_it, 1):.2f}")
        t3.add_row("all", f"{sum(r[1] for r in rows):,}", f"{sum(r[2] for r in rows):.2f}", "")
        console.print(t3)
        console.print(
            "integrations by status: " + ", ".join(f"{k} {v:,}" for k, v in statuses.items())
        )
    if not args.step_table:
        if args.output:
            console.print(f"wrote {write_summary(results, args.output)}")
        return
    batches = (DEFAULT_MAX_BATCH, 1)
    costs = [step_costs(params, m) for m in batches]
    t2 = Table(title="one RODAS4 step, CPU µs per trajectory (one thread)")
    t2.add_column("part")
    for m in batches:
        t2.add_column(f"batch {m}", justify="right")
    for k in costs[0]:
        if k.startswith("whole"):
            t2.add_row("sum of the parts", *(f"{1e6 * _parts(c):.1f}" for c in costs))
        t2.add_row(k, *(f"{1e6 * c[k]:.1f}" for c in costs))
    console.print(t2)
    if args.output:
        console.print(f"wrote {write_summary(results, args.output)}")


if __name__ == "__main__":
    main()
