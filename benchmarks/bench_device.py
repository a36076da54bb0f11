"""The CPU against a GPU in one call: the stages a torch device can take (issue 17, GPU part).

Run:  .venv/bin/python benchmarks/bench_device.py [--devices cpu cuda] [--n-label 20000]
      [--n-generate 1000000] [--gan-epochs 3] [--guide-steps 300]

Prepared for a session that is lent a GPU (the device tool runs it as one short call; the
tests stay CPU-only). For each device (``cuda`` is skipped where torch sees none) it times:

1. **GAN training**: the paper's architecture on 18 000 E. coli fdp1 ORACLE sets, batch
   2 048, ``--gan-epochs`` epochs: samples per second (``KineticGAN.train``'s own figure).
2. **GAN generation**: ``--n-generate`` K_M sets of the relevant class by the model just
   trained: seconds (the device synchronised).
3. **Guide training**: AdamW steps of the flow's relevance guide (the default
   ``GuideConfig``: 3 × 256, batch 1 024, float32) on the same sets' saturation features,
   with the guide's own loss (cross-entropy on the labels and the auxiliary head on the
   stability margin): samples per second. The flow itself trains and
   draws on the CPU (its generation is timed by ``bench_generate.py``).
4. **Labelling's eigenvalues**: max Re(λ) of ``--n-label`` reduced Jacobians (44 × 44): by
   LAPACK ``geev`` through numpy on the CPU (as labelling does), by
   ``torch.linalg.eigvals`` on the device; the largest difference from the CPU's values is
   printed beside it (h⁻¹).

Prints one table, stage by device, and the device's name.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from rekindle.data import load_model, load_physiology
from rekindle.flow.config import GuideConfig
from rekindle.flow.guide import RelevanceNet, stability_margin
from rekindle.flow.guide import _loss as guide_loss
from rekindle.gan import ArchitectureConfig, KineticGAN, SaturationScaler, TrainingConfig
from rekindle.kinetics import KineticSystem
from rekindle.kinetics.stability import DEFAULT_THRESHOLD, max_real_eigenvalues
from rekindle.sampling import km_reference_concentrations, sample_parameters


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _gan(km: np.ndarray, rel: np.ndarray, names: list[str], scaler, device: str, epochs: int):
    gan = KineticGAN(
        km,
        rel,
        names,
        {"model": "ecoli", "physiology": "fdp1"},
        scaler=scaler,
        architecture=ArchitectureConfig(label_encoding="onehot"),
    )
    cfg = TrainingConfig(epochs=epochs, eval_every=10**6, batch_size=2048, device=device)
    return gan, gan.train(None, cfg).samples_per_second


def _guide_samples_per_second(
    y: np.ndarray, rel: np.ndarray, margin: np.ndarray, device: str, steps: int
) -> float:
    cfg = GuideConfig()
    torch.manual_seed(0)
    net = RelevanceNet(y.shape[1], cfg.hidden, cfg.layers).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    yt = torch.as_tensor(y, dtype=torch.float32, device=device)
    lt = torch.as_tensor(rel, dtype=torch.float32, device=device)
    mt = torch.as_tensor(margin, dtype=torch.float32, device=device)
    gen = torch.Generator(device=device).manual_seed(0)

    def step() -> None:  # the guide's training step: its own loss, auxiliary head included
        rows = torch.randint(0, yt.shape[0], (cfg.batch_size,), device=device, generator=gen)
        loss = guide_loss(net, yt[rows], lt[rows], mt[rows], cfg.auxiliary_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(10):  # warm-up: kernels, allocator
        step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps * cfg.batch_size / (time.perf_counter() - t)


def _eigenvalues(jac: np.ndarray, device: str) -> tuple[float, np.ndarray]:
    """Seconds and max Re(λ) (n,) of ``jac`` (n, r, r)."""
    if device == "cpu":
        t = time.perf_counter()
        lam = max_real_eigenvalues(jac)
        return time.perf_counter() - t, lam
    jt = torch.as_tensor(jac, device=device)
    torch.linalg.eigvals(jt[:64])  # warm-up
    _sync(device)
    t = time.perf_counter()
    lam_t = torch.linalg.eigvals(jt).real.amax(dim=1)
    _sync(device)
    return time.perf_counter() - t, lam_t.cpu().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    ap.add_argument("--n-label", type=int, default=20_000)
    ap.add_argument("--n-generate", type=int, default=1_000_000)
    ap.add_argument("--gan-epochs", type=int, default=3)
    ap.add_argument("--guide-steps", type=int, default=300)
    args = ap.parse_args()
    console = Console()
    devices = [d for d in args.devices if d == "cpu" or torch.cuda.is_available()]
    skipped = sorted(set(args.devices) - set(devices))
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    system = KineticSystem(model)
    n_sets = max(20_000, args.n_label)
    params, lam_oracle, rel = sample_parameters(model, phys, n_sets, seed=0)
    km = system.km_of(params)
    scaler = SaturationScaler(km_reference_concentrations(model, phys))
    y = scaler.transform(km)
    margin = stability_margin(lam_oracle, DEFAULT_THRESHOLD)  # the guide's auxiliary target
    _, entries = system.complete_parameters_and_elasticities(km[: args.n_label], phys)
    jac = system.elasticities.reduced_jacobian(entries)

    rows: dict[str, dict[str, str]] = {}
    reference: np.ndarray | None = None
    for device in devices:
        gan, sps = _gan(km[:20_000], rel[:20_000], model.km_names, scaler, device, args.gan_epochs)
        rows.setdefault("GAN training (batch 2 048), samples/s", {})[device] = f"{sps:,.0f}"
        gan.generate(10_000, "relevant", seed=0, device=device)  # warm-up
        _sync(device)
        t = time.perf_counter()
        gan.generate(args.n_generate, "relevant", seed=0, device=device)
        _sync(device)
        dt = time.perf_counter() - t
        rows.setdefault(f"GAN generation of {args.n_generate:,} K_M sets, s", {})[device] = (
            f"{dt:.2f}"
        )
        gsps = _guide_samples_per_second(y, rel, margin, device, args.guide_steps)
        rows.setdefault("guide training (3 × 256, batch 1 024), samples/s", {})[device] = (
            f"{gsps:,.0f}"
        )
        secs, lam = _eigenvalues(jac, device)
        if reference is None:
            reference = lam
        diff = float(np.max(np.abs(lam - reference)))
        rows.setdefault(f"max Re(λ) of {args.n_label:,} Jacobians, models/s", {})[device] = (
            f"{args.n_label / secs:,.0f} (max |Δλ| {diff:.1e} h⁻¹)"
        )
    table = Table(title="rekindle stages by device (E. coli fdp1)")
    table.add_column("stage")
    for device in devices:
        table.add_column(device, justify="right")
    for stage, by_device in rows.items():
        table.add_row(stage, *(by_device.get(d, "—") for d in devices))
    console.print(table)
    if torch.cuda.is_available():
        console.print(f"cuda: {torch.cuda.get_device_name(0)}")
    if skipped:
        console.print(f"skipped (torch sees no such device): {', '.join(skipped)}")
    agree = (lam_oracle[: args.n_label] < DEFAULT_THRESHOLD) == (reference < DEFAULT_THRESHOLD)
    console.print(
        f"CPU threads: {torch.get_num_threads()}; labels of the sample agree: {bool(agree.all())}"
    )


if __name__ == "__main__":
    main()
