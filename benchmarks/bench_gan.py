"""GAN speed: training throughput, generation, generation + exact validation.

Run:  .venv/bin/python benchmarks/bench_gan.py [--n-generate 1000000] [--n-validate 1000000]
      [--device cpu|cuda] [--generator runs/default/generator.pt]

Prints tables. Paper (Titan XP): 1 000 epochs × 72 000 sets in ~40 min ≈ 30 000 samples/s;
1 M models generated in ~18 s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rekindle.data import load_model, load_physiology
from rekindle.gan import ArchitectureConfig, KineticGAN, SaturationScaler, TrainingConfig
from rekindle.kinetics import KineticSystem
from rekindle.sampling import km_reference_concentrations, sample_parameters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-generate", type=int, default=1_000_000)
    ap.add_argument("--n-validate", type=int, default=1_000_000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--generator", type=Path, default=None)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512, 2048])
    args = ap.parse_args()
    console = Console()
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    system = KineticSystem(model)
    params, _, rel = sample_parameters(model, phys, 20_000, seed=0)
    km = system.km_of(params)
    scaler = SaturationScaler(km_reference_concentrations(model, phys))

    t1 = Table(
        title=f"training throughput (paper architecture, 18 000 training sets, {args.device})"
    )
    for c in ("batch size", "samples/s", "s/epoch of 72 000", "1000 epochs × 72 000"):
        t1.add_column(c, justify="right")
    gan = None
    for bs in args.batch_sizes:
        gan = KineticGAN(
            km,
            rel,
            model.km_names,
            {"model": "ecoli", "physiology": "fdp1"},
            scaler=scaler,
            architecture=ArchitectureConfig(label_encoding="onehot"),
        )
        cfg = TrainingConfig(epochs=3, eval_every=1000, batch_size=bs, device=args.device)
        res = gan.train(None, cfg)
        sps = res.samples_per_second
        t1.add_row(
            str(bs), f"{sps:,.0f}", f"{72_000 / sps:.2f}", f"{1000 * 72_000 / sps / 60:.0f} min"
        )
    console.print(t1)

    if args.generator is not None:
        gan = KineticGAN.load(args.generator, device=args.device)
    assert gan is not None
    t2 = Table(title="generation (E. coli fdp1)")
    for c in ("task", "models", "seconds", "models/s"):
        t2.add_column(c, justify="right")
    t = time.perf_counter()
    k = gan.generate(args.n_generate, "relevant", seed=0, device=args.device)
    dt = time.perf_counter() - t
    t2.add_row("K_M only", f"{args.n_generate:,}", f"{dt:.2f}", f"{args.n_generate / dt:,.0f}")
    t = time.perf_counter()
    for i in range(0, k.shape[0], 100_000):
        system.complete_parameters(k[i : i + 100_000], phys, check=False)
    dt2 = time.perf_counter() - t
    t2.add_row(
        "complete sets (K_M + V_max)",
        f"{args.n_generate:,}",
        f"{dt + dt2:.2f}",
        f"{args.n_generate / (dt + dt2):,.0f}",
    )
    del k
    from rekindle.generation import generate_dataset

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        res = generate_dataset(
            gan, args.n_validate, Path(tmp) / "g.h5", validate=True, chunk_size=50_000
        )
        dt = time.perf_counter() - t
    t2.add_row(
        "generate + validate + write",
        f"{args.n_validate:,}",
        f"{dt:.1f}",
        f"{args.n_validate / dt:,.0f}",
    )
    console.print(t2)
    console.print(f"incidence of the validated models: {res['incidence']:.4f}")


if __name__ == "__main__":
    main()
