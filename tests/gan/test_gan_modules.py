"""Network shapes, parameter counts, label encoding, dropout."""

from __future__ import annotations

import pytest
import torch

from rekindle.gan import (
    PAPER_GENERATOR_PARAMETERS,
    ArchitectureConfig,
    Discriminator,
    Generator,
    count_parameters,
)
from rekindle.gan.modules import Dropout, LabelEncoding


def test_paper_parameter_counts() -> None:
    paper = ArchitectureConfig.paper()
    g, d = Generator(259, paper), Discriminator(259, paper)
    assert count_parameters(g) == PAPER_GENERATOR_PARAMETERS == 315_779
    # The paper's 18,319 is not reachable with the stated widths (see modules docstring).
    assert count_parameters(d) == 32 * (259 + 1 + 1) + 33 * 64 + 65 * 128 + 129 == 18_913
    onehot = ArchitectureConfig(label_encoding="onehot")
    assert count_parameters(Generator(259, onehot)) == 315_779 + 128
    assert count_parameters(Discriminator(259, onehot)) == 18_913 + 32


@pytest.mark.parametrize("encoding", ["scalar", "onehot"])
def test_shapes_and_range(encoding: str) -> None:
    arch = ArchitectureConfig(label_encoding=encoding)
    g, d = Generator(259, arch), Discriminator(259, arch)
    z = torch.randn(17, 127)
    y = torch.randint(0, 2, (17,))
    x = g(z, y)
    assert x.shape == (17, 259)
    assert torch.all(x.abs() < 1)
    logits = d(x, y)
    assert logits.shape == (17,)
    g.eval()
    assert g(z[:1], y[:1]).shape == (1, 259)  # eval mode works with a single sample


def test_layer_names_for_freezing() -> None:
    names = {n for n, _ in Generator(10).named_children()}
    assert {"hidden", "output"} <= names
    blocks = Generator(10).hidden
    assert len(blocks) == 3
    assert isinstance(blocks[0][0], torch.nn.Linear) and blocks[0][0].out_features == 128
    assert isinstance(blocks[0][2], torch.nn.BatchNorm1d)


def test_label_encoding_values() -> None:
    enc = LabelEncoding(2, "scalar")
    assert enc(torch.tensor([0, 1])).tolist() == [[-1.0], [1.0]]  # relevant = -1
    assert LabelEncoding(2, "onehot")(torch.tensor([1])).tolist() == [[0.0, 1.0]]
    assert "table" not in Generator(5).state_dict()
    assert not any("label_encoding" in k for k in Generator(5).state_dict())


def test_label_changes_output() -> None:
    g = Generator(6).eval()
    z = torch.randn(4, 127)
    a = g(z, torch.zeros(4, dtype=torch.long))
    b = g(z, torch.ones(4, dtype=torch.long))
    assert not torch.allclose(a, b)


def test_dropout_statistics() -> None:
    drop = Dropout(0.5)
    x = torch.ones(200_000)
    y = drop(x)
    assert set(torch.unique(y).tolist()) == {0.0, 2.0}
    assert abs(float((y == 0).float().mean()) - 0.5) < 0.01
    assert torch.equal(drop.eval()(x), x)
