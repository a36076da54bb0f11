"""Before/after of the fixed-steady-state path: this tree against another checkout's source,
both imported into one process and timed interleaved, in CPU time on one thread.

Run:  PYTHONPATH=src .venv/bin/python benchmarks/bench_fixed_state.py --baseline ../main/src
          [--repeats 10] [--completion-rows 1000000]

Table 1, per model (E. coli fdp1, chunks of 1 000 as sampling draws them; medians of the
interleaved repeats): the fused V_max + elasticities, the V_max completion alone, the
reduced-Jacobian assembly in the labelling's 64-model blocks, a whole ``sample_chunk``
(draw, completion, elasticities, assembly, eigenvalues) and LAPACK ``geev`` alone on
already-built Jacobians; then the single-thread ratio ``geev`` / ``sample_chunk``, the
figure the two-thread ratio of ``bench_sampling.py`` tends to on idle cores. Table 2: CPU
seconds of the V_max completion of ``--completion-rows`` K_M rows in the blocks of
``rekindle generate`` (``COMPLETION_ROWS``). Both trees must give identical parameters.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

N = 1000


def _import_tree(src: str | None, alias: str) -> dict:
    """The rekindle modules used here, imported from ``src`` (``None``: the current path),
    kept under ``alias`` so that a second tree can be imported beside them."""
    for k in [k for k in sys.modules if k == "rekindle" or k.startswith("rekindle.")]:
        del sys.modules[k]
    if src is not None:
        sys.path.insert(0, str(Path(src).resolve()))
    import rekindle.data as data
    import rekindle.generation as generation
    import rekindle.kinetics as kinetics
    import rekindle.kinetics.labelling as labelling
    import rekindle.sampling as sampling

    if src is not None:
        sys.path.pop(0)
    mods = {"data": data, "kin": kinetics, "lab": labelling, "smp": sampling, "gen": generation}
    for k in [k for k in sys.modules if k == "rekindle" or k.startswith("rekindle.")]:
        sys.modules[alias + k] = sys.modules.pop(k)
    return mods


def _stages(m: dict) -> dict:
    model = m["data"].load_model("ecoli")
    phys = m["data"].load_physiology("ecoli", "fdp1")
    system = m["kin"].KineticSystem(model)
    x = m["smp"].km_reference_concentrations(model, phys)
    sigma = np.random.default_rng(0).uniform(1e-12, 1 - 1e-12, size=(N, x.size))
    km = m["smp"].km_from_saturation(sigma, x)
    labeller = m["lab"].Labeller(system, phys, n_jobs=1)
    _, entries = system.complete_parameters_and_elasticities(km, phys)
    jac = system.elasticities.reduced_jacobian(entries)
    assembly = system.elasticities

    def assemble() -> None:
        for i in range(0, N, 64):
            assembly.reduced_jacobian(entries[i : i + 64])

    return {
        "V_max + elasticities (fused)": lambda: system.complete_parameters_and_elasticities(
            km, phys
        ),
        "V_max completion (complete_parameters)": lambda: system.complete_parameters(km, phys),
        "reduced Jacobian assembly (64-model blocks)": assemble,
        "sample_chunk (all of it)": lambda: m["smp"].sample_chunk(labeller, N, 0, 1),
        "geev alone (bound)": lambda: m["kin"].max_real_eigenvalues(jac),
    }


def _completion(m: dict, rows: int) -> tuple[Callable[[], np.ndarray], int]:
    model = m["data"].load_model("ecoli")
    phys = m["data"].load_physiology("ecoli", "fdp1")
    system = m["kin"].KineticSystem(model)
    x = m["smp"].km_reference_concentrations(model, phys)
    block = m["gen"].COMPLETION_ROWS
    km = x * np.exp(np.random.default_rng(1).normal(0.0, 1.5, size=(block, x.size)))
    return (lambda: system.complete_parameters(km, phys)), -(-rows // block)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--baseline", required=True, help="the other tree's src folder")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--completion-rows", type=int, default=1_000_000)
    args = ap.parse_args()
    trees = {"baseline": _import_tree(args.baseline, "A_"), "this tree": _import_tree(None, "B_")}
    stages = {name: _stages(m) for name, m in trees.items()}
    times: dict[tuple[str, str], list[float]] = {}
    with threadpool_limits(1):
        for _ in range(args.repeats):
            for stage in stages["baseline"]:
                for name in trees:
                    t = time.thread_time()
                    stages[name][stage]()
                    times.setdefault((name, stage), []).append(time.thread_time() - t)
        work = {name: _completion(m, args.completion_rows) for name, m in trees.items()}
        same = np.array_equal(work["baseline"][0](), work["this tree"][0]())
        cpu = dict.fromkeys(trees, 0.0)
        for _ in range(work["baseline"][1]):
            for name in trees:
                t = time.thread_time()
                work[name][0]()
                cpu[name] += time.thread_time() - t
    print(f"{'CPU µs per model, one thread (median)':46s} {'baseline':>9s} {'this tree':>9s}")
    for stage in stages["baseline"]:
        a, b = (float(np.median(times[(name, stage)])) / N * 1e6 for name in trees)
        print(f"{stage:46s} {a:9.2f} {b:9.2f}")
    ratios = []
    for name in trees:
        eig = float(np.median(times[(name, "geev alone (bound)")]))
        chunk = float(np.median(times[(name, "sample_chunk (all of it)")]))
        ratios.append(f"{eig / chunk:.1%} (overhead {(chunk - eig) / N * 1e6:.1f} µs)")
    print(f"{'geev / sample_chunk':46s} " + "  ".join(ratios))
    rows = work["baseline"][1] * trees["baseline"]["gen"].COMPLETION_ROWS
    print(
        f"V_max completion of {rows:,} K_M rows in blocks of "
        f"{trees['baseline']['gen'].COMPLETION_ROWS}: baseline {cpu['baseline']:.2f} CPU s, "
        f"this tree {cpu['this tree']:.2f} CPU s; identical parameters: {same}"
    )


if __name__ == "__main__":
    main()
