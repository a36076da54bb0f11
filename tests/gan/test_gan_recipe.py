"""The training step's options: generation mode of the judged fakes, the reference recipe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from rekindle.gan import (
    ArchitectureConfig,
    Discriminator,
    GANTrainer,
    Generator,
    LogMinMaxScaler,
    TrainingConfig,
)


def _trainer(
    make_data: Callable[..., Any], n: int = 64, d: int = 5, **changes: Any
) -> GANTrainer:
    data = make_data(n=n, d=d, seed=31)
    arch = ArchitectureConfig(latent_dim=7, generator_hidden=(16, 16), discriminator_hidden=(8,))
    scaler = LogMinMaxScaler().fit(data.km)
    cfg = TrainingConfig(batch_size=16, device="cpu", **changes)
    trainer = GANTrainer(Generator(d, arch), Discriminator(d, arch), scaler, cfg)
    labels = np.where(data.relevant, 0, 1)
    trainer._setup(scaler.transform(data.km), labels)
    trainer._seed_fresh()
    return trainer


class _Spy:
    """Records every generator and discriminator forward pass of a training step."""

    def __init__(self, trainer: GANTrainer) -> None:
        self.generated: list[tuple[bool, torch.Tensor, torch.Tensor, torch.Tensor]] = []
        self.judged: list[torch.Tensor] = []
        self.steps = {"d": 0, "g": 0}
        g, d = trainer.generator, trainer.discriminator
        g.register_forward_hook(self._on_generate)
        d.register_forward_hook(lambda _m, inputs, _out: self.judged.append(inputs[0].detach()))
        for name, opt in (("d", trainer.d_opt), ("g", trainer.g_opt)):
            opt.register_step_post_hook(lambda *_a, key=name: self._count(key))

    def _on_generate(self, module: torch.nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        z, labels = inputs
        self.generated.append((module.training, z.detach(), labels.detach(), out.detach()))

    def _count(self, key: str) -> None:
        self.steps[key] += 1


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_discriminator_judges_fakes_of_the_generated_mode(
    make_data: Callable[..., Any], mode: str
) -> None:
    trainer = _trainer(make_data, fake_mode=mode)
    spy = _Spy(trainer)
    trainer._step(trainer._x[:16], trainer._y[:16])
    # first generator pass: the discriminator's fakes; D's first input = real rows + fakes
    training, _, _, out = spy.generated[0]
    assert training is (mode == "train")
    fakes = spy.judged[0][16:]
    assert torch.equal(fakes, out)
    # the generator's own update always runs a training-mode pass
    assert spy.generated[-1][0] is True


def test_eval_fakes_equal_what_generate_gives(make_data: Callable[..., Any]) -> None:
    """With fake_mode="eval" the discriminator's fakes are the generator's eval output."""
    trainer = _trainer(make_data)
    g = trainer.generator
    before = {k: v.clone() for k, v in g.state_dict().items()}
    spy = _Spy(trainer)
    trainer._step(trainer._x[:16], trainer._y[:16])
    _, z, labels, out = spy.generated[0]
    fresh = Generator(g.n_features, g.config)
    fresh.load_state_dict(before)
    with torch.no_grad():
        expected = fresh.eval()(z, labels)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)


def test_reference_step_counts(make_data: Callable[..., Any]) -> None:
    """Two discriminator updates per generator update; half a batch of real rows + fakes."""
    trainer = _trainer(
        make_data,
        n=64,
        discriminator_update="split",
        discriminator_rows="half-resampled",
        generator_batch="fresh",
        fake_labels="batch",
    )
    spy = _Spy(trainer)
    real, labels = trainer._x[:16], trainer._y[:16]
    trainer._step(real, labels)
    assert spy.steps == {"d": 2, "g": 1}
    # D: 8 real rows drawn with replacement from the batch, then 8 fakes; G: 16 fresh rows
    first, second, third = spy.judged
    assert first.shape[0] == 8 and second.shape[0] == 8 and third.shape[0] == 16
    assert all(any(torch.equal(row, r) for r in real) for row in first)
    eval_pass, train_pass = spy.generated
    assert eval_pass[0] is False and eval_pass[1].shape[0] == 8
    assert train_pass[0] is True and train_pass[1].shape[0] == 16

    # one epoch of 64 rows = 4 steps: 8 discriminator and 4 generator updates
    spy.steps = {"d": 0, "g": 0}
    _, _, acc, rows = trainer.train_epoch()
    assert spy.steps == {"d": 8, "g": 4} and rows == 64 and 0 <= acc <= 1


def test_default_step_counts(make_data: Callable[..., Any]) -> None:
    trainer = _trainer(make_data, n=64)
    spy = _Spy(trainer)
    trainer.train_epoch()
    assert spy.steps == {"d": 4, "g": 4}
    assert [x.shape[0] for x in spy.judged[:2]] == [32, 16]  # real + fakes, then G's batch


def test_resampled_rows_come_with_their_labels(make_data: Callable[..., Any]) -> None:
    trainer = _trainer(make_data, discriminator_rows="half-resampled", fake_labels="batch")
    labels_seen: list[torch.Tensor] = []
    trainer.discriminator.register_forward_hook(lambda _m, i, _o: labels_seen.append(i[1]))
    spy = _Spy(trainer)
    real, labels = trainer._x[:16], trainer._y[:16]
    trainer._step(real, labels)
    rows, row_labels = spy.judged[0][:8], labels_seen[0][:8]
    for row, lab in zip(rows, row_labels, strict=True):
        match = [i for i in range(16) if torch.equal(real[i], row)]
        assert int(lab) in {int(labels[i]) for i in match}
    # the fakes carry the real rows' labels (fake_labels="batch")
    assert torch.equal(labels_seen[0][8:], row_labels)
