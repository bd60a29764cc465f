"""Twin models for the Module-system tests: one source, built for torch.nn and for jnn.nn.

``zoo("torch")`` and ``zoo("jnn")`` define the same small classes (``MyLinear``, ``Norm``,
``MLP``, ``Tied``, ...) against each framework, so a test constructs one architecture twice
and compares names, order, reprs, errors and numbers with torch as the oracle.  jnn models
start from zeros (numpy: no XLA compile); :func:`pair` copies torch's random weights over
with ``load_state_dict`` so both compute the same function.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import strategies as st

import jnn.nn

FRAMEWORKS = ("torch", "jnn")


@functools.cache
def zoo(framework: str) -> SimpleNamespace:
    """The twin classes for ``framework`` ("torch" or "jnn"); built once (one pytree class)."""
    if framework == "torch":
        nn = torch.nn

        def tensor(*shape: int, fill: float = 0.0) -> torch.Tensor:
            return torch.full(shape, fill)

        relu = torch.relu
    else:
        nn = jnn.nn

        def tensor(*shape: int, fill: float = 0.0) -> np.ndarray:
            return np.full(shape, fill, np.float32)

        relu = jax.nn.relu

    class MyLinear(nn.Module):
        def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
            super().__init__()
            self.in_features = in_features
            self.out_features = out_features
            self.weight = nn.Parameter(tensor(out_features, in_features))
            if bias:
                self.bias = nn.Parameter(tensor(out_features))
            else:
                self.register_parameter("bias", None)

        def forward(self, x):
            y = x @ self.weight.T
            return y if self.bias is None else y + self.bias

        def extra_repr(self) -> str:
            return (f"in_features={self.in_features}, out_features={self.out_features}, "
                    f"bias={self.bias is not None}")

    class ReLU(nn.Module):
        def forward(self, x):
            return relu(x)

    class Norm(nn.Module):
        """A parameter, a persistent buffer, a non-persistent buffer, a None buffer."""

        def __init__(self, n: int) -> None:
            super().__init__()
            self.weight = nn.Parameter(tensor(n, fill=1.0))
            self.register_buffer("running_mean", tensor(n))
            self.register_buffer("scratch", tensor(n, fill=1.0), persistent=False)
            self.register_buffer("num_batches_tracked", None)

        def forward(self, x):
            if self.training:
                return x * self.weight * 2.0 + self.scratch
            return x * self.weight - self.running_mean

    class Scale(nn.Module):
        def __init__(self, scale: float = 1.0) -> None:
            super().__init__()
            self.scale = scale

        def forward(self, x):
            return x * self.scale

        def extra_repr(self) -> str:
            return f"scale={self.scale}"

    class MLP(nn.Module):
        def __init__(self, i: int = 4, h: int = 8, o: int = 3) -> None:
            super().__init__()
            self.fc1 = MyLinear(i, h)
            self.act = ReLU()
            self.norm = Norm(h)
            self.fc2 = MyLinear(h, o)

        def forward(self, x):
            return self.fc2(self.norm(self.act(self.fc1(x))))

    class Tied(nn.Module):
        """``dec.weight`` is ``enc.weight``: one Parameter used twice."""

        def __init__(self, n: int = 4) -> None:
            super().__init__()
            self.enc = MyLinear(n, n)
            self.act = ReLU()
            self.dec = MyLinear(n, n)
            self.dec.weight = self.enc.weight

        def forward(self, x):
            return self.dec(self.act(self.enc(x)))

    class Shared(nn.Module):
        """One submodule registered under two names."""

        def __init__(self, n: int = 4) -> None:
            super().__init__()
            self.block = MyLinear(n, n)
            self.act = ReLU()
            self.again = self.block

        def forward(self, x):
            return self.again(self.act(self.block(x)))

    class KwScale(nn.Module):
        """A forward with a positional default and a keyword-only argument."""

        def forward(self, x, scale=1.0, *, shift=0.0):
            return x * scale + shift

    return SimpleNamespace(nn=nn, tensor=tensor, MyLinear=MyLinear, ReLU=ReLU, Norm=Norm,
                           Scale=Scale, MLP=MLP, Tied=Tied, Shared=Shared, KwScale=KwScale)


def nested(z):
    """Shared submodules, tied parameters, None entries and buffers of every kind."""
    nn_ = z.nn
    root = z.MLP()
    shared = z.MyLinear(4, 4)
    root.blocks = nn_.ModuleList([shared, z.ReLU(), shared, z.Norm(4)])
    root.head = nn_.Sequential(OrderedDict(first=z.MyLinear(4, 4, bias=False), share=shared))
    root.tied = z.Tied()
    root.extra = z.MyLinear(8, 3)
    root.extra.weight = root.fc2.weight  # tied across branches
    root.register_module("nothing", None)
    root.register_parameter("alpha", nn_.Parameter(z.tensor(1)))
    root.register_parameter("beta", None)
    root.register_buffer("steps", z.tensor(1))
    root.register_buffer("tmp", z.tensor(2), persistent=False)
    return root


# Random nested architectures for hypothesis: leaves, containers, shared modules, ties.
LEAF = st.one_of(
    st.tuples(st.just("lin"), st.integers(1, 3), st.integers(1, 3), st.booleans()),
    st.tuples(st.just("norm"), st.integers(1, 3)),
    st.tuples(st.just("relu")),
    st.tuples(st.just("ref"), st.integers(0, 5)),  # re-use an earlier leaf (shared module)
    st.tuples(st.just("tie"), st.integers(0, 5)),  # a linear whose weight is an earlier one's
)
ARCH = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.tuples(st.just("seq"), st.lists(inner, max_size=3)),
        st.tuples(st.just("list"), st.lists(inner, max_size=3)),
        st.tuples(st.just("dict"), st.dictionaries(st.sampled_from("zayb"), inner, max_size=3)),
    ),
    max_leaves=8,
)


def build_arch(z, spec, built=None):
    built = [] if built is None else built
    kind = spec[0]
    if kind == "lin":
        m = z.MyLinear(spec[1], spec[2], spec[3])
    elif kind == "norm":
        m = z.Norm(spec[1])
    elif kind == "relu":
        m = z.ReLU()
    elif kind == "ref":
        return built[spec[1] % len(built)] if built else z.ReLU()
    elif kind == "tie":
        m = z.MyLinear(2, 2)
        linears = [b for b in built if isinstance(b, z.MyLinear)]
        if linears:
            m.weight = linears[spec[1] % len(linears)].weight
    elif kind == "seq":
        return z.nn.Sequential(*[build_arch(z, s, built) for s in spec[1]])
    elif kind == "list":
        return z.nn.ModuleList([build_arch(z, s, built) for s in spec[1]])
    else:
        return z.nn.ModuleDict({k: build_arch(z, s, built) for k, s in spec[1].items()})
    built.append(m)
    return m


def randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every torch parameter and buffer seeded random values."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=gen))
    return model


def copy_weights(torch_model: torch.nn.Module, jnn_model: jnn.nn.Module) -> None:
    jnn_model.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})
    # non-persistent buffers are not in state_dict: copy them by name
    jbufs = dict(jnn_model.named_buffers())
    for name, b in torch_model.named_buffers():
        if name not in jbufs:
            continue
        module_path, _, leaf = name.rpartition(".")
        jnn_model.get_submodule(module_path)._buffers[leaf] = jnp.asarray(b.numpy())


def pair(build, seed: int = 0):
    """``build(zoo)`` run for both frameworks: (torch model, jnn model) with equal weights."""
    tm = randomize(build(zoo("torch")), seed)
    jm = build(zoo("jnn"))
    copy_weights(tm, jm)
    return tm, jm


def error_of(fn, *args):
    """The exception ``fn(*args)`` raises (fails the test when it raises none)."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - the oracle's error is the expected value
        return e
    pytest.fail(f"{fn} raised nothing")


def message(exc: BaseException) -> str:
    # KeyError's str() adds quotes; its first argument is the message torch wrote.
    return exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)


def assert_same_error_in_zoos(fn) -> None:
    """``fn(zoo)`` raises the same exception type and message under jnn as under torch
    (``tests/nn/_same_error.assert_same_error`` takes the two calls instead)."""
    expected = error_of(fn, zoo("torch"))
    with pytest.raises(type(expected)) as info:
        fn(zoo("jnn"))
    assert message(info.value) == message(expected)


def torch_regex(text: str) -> str:
    """``text`` as a regex where torch's tensor type names match any type name."""
    return re.sub(r"'torch\\\.[\w\\.]+'", "'[^']+'", re.escape(text))


def leaf_names(torch_model: torch.nn.Module) -> list[str]:
    """The pytree leaves jnn should have, named from torch: per module in ``named_modules``
    order its parameters (a tied one only at its first name), then its non-None buffers
    (non-persistent ones too)."""
    seen: set[int] = set()
    out = []
    for prefix, m in torch_model.named_modules():
        dot = prefix + "." if prefix else ""
        for name, p in m._parameters.items():
            if p is not None and id(p) not in seen:
                seen.add(id(p))
                out.append(dot + name)
        out.extend(dot + name for name, b in m._buffers.items() if b is not None)
    return out


def keystrs(tree) -> list[str]:
    """The key paths of ``tree``'s leaves as ``a.b.c`` strings."""
    return [jax.tree_util.keystr(path, simple=True, separator=".")
            for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
