"""jnn.summary: counts and output shapes against torch on the same architecture, XLA's
FLOPs for a Linear layer, and a model left exactly as it was."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
import jnn.nn as nn
from jnn._summary import _flops_from

X_SHAPE = (2, 1, 12, 12)


def _build(lib: object) -> object:
    class Net(lib.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.features = lib.Sequential(
                lib.Conv2d(1, 4, 3), lib.BatchNorm2d(4), lib.ReLU(),
                lib.Sequential(lib.Conv2d(4, 4, 3, bias=False), lib.ReLU()))
            self.drop = lib.Dropout(0.5)
            self.fc = lib.Linear(4 * 8 * 8, 10)

        def forward(self, x: object) -> object:
            h = self.features(x)
            return self.fc(self.drop(h.reshape(h.shape[0], -1)))

    model = Net()
    model.features[0].requires_grad_(False)  # a frozen layer
    return model


def _torch_shapes(model: torch.nn.Module, x: torch.Tensor) -> dict[str, list]:
    shapes: dict[str, list] = {}

    def hook_for(name: str) -> object:
        def hook(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> None:
            shapes.setdefault(name, list(output.shape))
        return hook

    handles = [m.register_forward_hook(hook_for(name)) for name, m in model.named_modules()]
    model.eval()(x)
    for h in handles:
        h.remove()
    return shapes


def test_counts_and_output_shapes_match_torch() -> None:
    mine, theirs = _build(nn), _build(torch.nn)
    stats = jnn.summary(mine, jnp.zeros(X_SHAPE))
    params = list(theirs.parameters())
    assert stats.total_params == sum(p.numel() for p in params)
    assert stats.trainable_params == sum(p.numel() for p in params if p.requires_grad)
    assert stats.non_trainable_params == sum(p.numel() for p in params if not p.requires_grad)
    assert stats.non_trainable_params == 40  # the frozen Conv2d(1, 4, 3)
    assert stats.total_param_bytes == 4 * stats.total_params
    # torch's int64 num_batches_tracked is JAX's default int32 here: 4 bytes, not 8
    assert stats.total_buffer_bytes == sum(
        b.numel() * (4 if b.dtype == torch.int64 else b.element_size()) for b in theirs.buffers())
    shapes = _torch_shapes(theirs, torch.zeros(X_SHAPE))
    names = [name for name, _ in theirs.named_modules()]
    assert [row.name for row in stats.summary_list] == names
    for row in stats.summary_list:
        module = theirs.get_submodule(row.name)
        assert row.class_name == type(module).__name__
        assert row.output_shape == shapes[row.name], row.name
        assert row.num_params == sum(p.numel() for p in module.parameters(recurse=False))
        assert row.total_params == sum(p.numel() for p in module.parameters())
        assert row.is_leaf == (not list(module.children()))


def test_forward_flops_of_a_linear_layer() -> None:
    batch = 64
    stats = jnn.summary(nn.Linear(784, 128), input_size=(batch, 784))
    matmul = 2 * batch * 784 * 128  # a multiply and an add per weight and example
    assert matmul <= stats.flops <= matmul + 2 * batch * 128  # + the bias (XLA's counting)
    assert stats.total_mult_adds == stats.flops // 2
    assert stats.total_params == sum(p.numel() for p in torch.nn.Linear(784, 128).parameters())
    assert jnn.summary(nn.Linear(784, 128), input_size=(batch, 784), count_flops=False).flops \
        is None


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_the_model_is_not_changed(mode: str) -> None:
    model = _build(nn)
    model.features[3].eval()  # mixed flags must come back as they were
    flags = [m.training for m in model.modules()]
    before = {k: np.asarray(v) for k, v in model.state_dict().items()}
    key = np.asarray(jax.random.key_data(jnn.random.get_rng_state()))
    jnn.summary(model, jnp.ones(X_SHAPE), mode=mode)  # train: BatchNorm would update
    assert [m.training for m in model.modules()] == flags
    after = model.state_dict()
    assert before.keys() == after.keys()
    for k, v in before.items():
        np.testing.assert_array_equal(np.asarray(after[k]), v)
    assert all(not m._forward_hooks for m in model.modules())
    np.testing.assert_array_equal(np.asarray(jax.random.key_data(jnn.random.get_rng_state())),
                                  key)


def test_lazy_modules_materialize_as_in_torchs_first_forward() -> None:
    mine = nn.Sequential(nn.LazyLinear(16), nn.ReLU(), nn.Linear(16, 4))
    stats = jnn.summary(mine, jnp.zeros((3, 10)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: lazy modules are experimental
        theirs = torch.nn.Sequential(torch.nn.LazyLinear(16), torch.nn.ReLU(),
                                     torch.nn.Linear(16, 4))
        theirs(torch.zeros(3, 10))  # what torchinfo's pass does
    assert type(mine[0]).__name__ == type(theirs[0]).__name__ == "Linear"
    assert mine[0].weight.shape == tuple(theirs[0].weight.shape)
    assert stats.total_params == sum(p.numel() for p in theirs.parameters())
    assert stats.summary_list[1].output_shape == [3, 16]


def test_table_text() -> None:
    model = _build(nn)
    stats = jnn.summary(model, jnp.zeros(X_SHAPE))
    text = str(stats)
    assert repr(stats) == text
    lines = text.splitlines()
    assert lines[1].split() == ["Layer", "(type:depth-idx)", "Output", "Shape", "Param", "#"]
    assert lines[3].split() == ["Net", "[2,", "10]", "--"]
    assert lines[4].split()[:2] == ["├─Sequential:", "1-1"]
    assert lines[5].split() == ["│", "└─Conv2d:", "2-1", "[2,", "4,", "10,", "10]", "40"]
    assert "│    │    └─Conv2d: 3-1" in text
    assert f"Total params: {stats.total_params:,}" in lines
    assert "Non-trainable params: 40" in lines
    assert any(line.startswith("Forward FLOPs (M): ") for line in lines)
    shallow = str(jnn.summary(model, jnp.zeros(X_SHAPE), depth=1))
    assert "2-1" not in shallow
    row = next(line for line in shallow.splitlines() if "Sequential: 1-1" in line)
    assert row.split()[-1] == f"{sum(p.numel() for p in model.features.parameters()):,}"


def test_several_outputs_and_keyword_arguments() -> None:
    class TwoHeads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 5)

        def forward(self, x: jax.Array, bias: jax.Array, scale: float = 1.0) -> tuple:
            h = self.fc(x) * scale + bias
            return h, h.sum(-1)

    stats = jnn.summary(TwoHeads(), jnp.zeros((2, 3)), bias=jnp.ones(5), scale=2.0)
    assert stats.summary_list[0].output_shape == [[2, 5], [2]]
    assert stats.summary_list[1].output_shape == [2, 5]
    assert stats.total_input_bytes == (6 + 5) * 4


def test_cost_analysis_shapes_across_jax_versions() -> None:
    assert _flops_from({"flops": 12.0}) == 12.0
    assert _flops_from([{"flops": 3.0, "bytes accessed": 1.0}]) == 3.0
    assert _flops_from(None) is None
    assert _flops_from([]) is None
    assert _flops_from({"bytes accessed": 1.0}) is None


def test_errors() -> None:
    with pytest.raises(TypeError, match="jnn.nn.Module"):
        jnn.summary(torch.nn.Linear(2, 2), jnp.zeros((1, 2)))
    with pytest.raises(ValueError, match="mode"):
        jnn.summary(nn.Linear(2, 2), jnp.zeros((1, 2)), mode="test")
    with pytest.raises(ValueError, match="not both"):
        jnn.summary(nn.Linear(2, 2), jnp.zeros((1, 2)), input_size=(1, 2))
    model = _build(nn)  # a forward pass that fails leaves no hook and the flags as they were
    with pytest.raises(RuntimeError, match="to have 1 channels"):
        jnn.summary(model, jnp.zeros((2, 3, 12, 12)))
    assert all(m.training and not m._forward_hooks for m in model.modules())


def test_between_compiled_training_steps() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.2), nn.Linear(8, 2))
    optimizer = jnn.optim.SGD(model.parameters(), lr=0.1)

    @jnn.compile
    def step(x: jax.Array) -> jax.Array:
        def closure() -> jax.Array:
            optimizer.zero_grad()
            return (model(x) ** 2).mean()
        return optimizer.step(closure)

    x = jnp.ones((5, 4))
    step(x)  # leaves the new state packed on the device
    stats = jnn.summary(model, x, mode="train")  # dropout draws from a traced key
    assert stats.summary_list[-1].output_shape == [5, 2]
    assert int(model[1].num_batches_tracked) == 1
    step(x)
    assert int(model[1].num_batches_tracked) == 2
