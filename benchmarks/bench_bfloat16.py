"""One training step of a guide-sized network in float32 and under bfloat16 autocast.

Whether bfloat16 pays depends on the CPU: with native bfloat16 products (AVX-512 BF16,
AMX) mixed precision is faster; without, PyTorch emulates them and the guide trains in
float32 (``rekindle.flow.guide.native_bfloat16``). Prints oneDNN's check and ms per step
of the guide's own network (:class:`~rekindle.flow.guide.RelevanceNet` of the default
:class:`~rekindle.flow.GuideConfig`: 259 → 256 × 3 → logit, μ, ln s, or ``--hidden``
units per layer; the first layer in float32 under autocast, as in training) with its
classification loss, batch 1 024, AdamW, for each arithmetic, alternated. The figures of
docs/science/memgen.md were measured with the former default, ``--hidden 512``.

    python benchmarks/bench_bfloat16.py [--threads 1] [--steps 10] [--rounds 2] [--hidden 512]
"""

from __future__ import annotations

import argparse
import time

import torch

from rekindle.flow import GuideConfig
from rekindle.flow.guide import RelevanceNet, native_bfloat16


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=GuideConfig().hidden)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = GuideConfig(hidden=args.hidden)
    net = RelevanceNet(259, config.hidden, config.layers)
    opt = torch.optim.AdamW(net.parameters())
    x, y = torch.randn(config.batch_size, 259), torch.rand(config.batch_size)

    def step(mixed: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mixed):
            logit = net(x)[0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logit.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    print(f"native bfloat16 (oneDNN): {native_bfloat16()}; {args.threads} thread(s)")
    print("| arithmetic | round | ms per step |")
    print("|---|---|---|")
    for r in range(args.rounds):
        for mixed in (False, True):
            step(mixed)  # warm-up
            t = time.perf_counter()
            for _ in range(args.steps):
                step(mixed)
            ms = (time.perf_counter() - t) / args.steps * 1000
            print(f"| {'bfloat16 autocast' if mixed else 'float32'} | {r + 1} | {ms:.1f} |")


if __name__ == "__main__":
    main()
