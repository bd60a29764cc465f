"""Lazy modules against torch: placeholders, materialisation at the first call, class switch,
state_dict before and after, and loading checkpoints into uninitialised modules."""

import copy
import math
import pickle
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
import jnn.nn as nn
from jnn.nn.modules.lazy import LazyModuleMixin, UninitializedBuffer, UninitializedParameter
from tests.nn.registry import err
from tests.oracle import check_error, check_modules, make_inputs

try:
    from scipy.stats import ks_2samp
except ImportError:  # pragma: no cover - scipy is optional
    ks_2samp = None

# the shapes of tests/nn/test_conv.py, so a whole-suite run reuses its compiled programs
X1, X2, X3 = (2, 4, 9), (2, 4, 7, 6), (2, 2, 4, 5, 4)

LAZY = [
    ("LazyLinear", (5,), {}, (4, 3)),
    ("LazyLinear", (5,), {"bias": False}, (2, 4, 3)),
    ("LazyConv1d", (6, 3), {"stride": 2, "padding": 1, "groups": 2}, X1),
    ("LazyConv2d", (6, 3), {"padding": "same", "padding_mode": "reflect"}, X2[1:]),
    ("LazyConv3d", (4, 2), {"bias": False}, X3),
    ("LazyConvTranspose1d", (6, 3), {"stride": 2, "output_padding": 1}, X1[1:]),
    ("LazyConvTranspose2d", (6, (3, 2)), {"groups": 2, "dilation": 2}, X2),
    ("LazyConvTranspose3d", (4, 2), {"stride": 2}, X3),
]


def _build(name, args, kwargs):
    torch.manual_seed(0)
    return getattr(torch.nn, name)(*args, **kwargs), getattr(nn, name)(*args, **kwargs)


def _state_summary(module):
    return [(k, repr(v)) if "Uninitialized" in type(v).__name__ else (k, tuple(v.shape))
            for k, v in module.state_dict().items()]


@pytest.mark.parametrize("name, args, kwargs, shape", LAZY)
def test_lazy_module_matches_torch(name, args, kwargs, shape):
    reference, module = _build(name, args, kwargs)
    # before the first call: placeholders, torch's repr and state_dict
    assert repr(module) == repr(reference)
    assert module.has_uninitialized_params() and reference.has_uninitialized_params()
    assert _state_summary(module) == _state_summary(reference)
    assert all(repr(v) == "<UninitializedParameter>" for v in module.state_dict().values())
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        _ = reference.weight.shape
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        _ = module.weight.shape
    # the first call materialises and switches the class
    x = make_inputs([shape])[0]
    reference(torch.from_numpy(x))
    out = module(jnp.asarray(x))
    assert type(module).__name__ == type(reference).__name__ == name.removeprefix("Lazy")
    assert type(module) is getattr(nn, name.removeprefix("Lazy"))
    assert not module._forward_pre_hooks and not hasattr(module, "_initialize_hook")
    assert repr(module) == repr(reference)
    assert type(module.weight) is nn.Parameter
    assert out.shape == tuple(reference(torch.from_numpy(x)).shape)
    # from here on it is the ordinary layer: outputs and gradients against torch
    check_modules(reference, module, [shape], modes=("train",),
                  grad=name == "LazyLinear" or "Transpose1d" in name)


def test_lazy_init_matches_torch_distribution():
    jnn.manual_seed(0)
    module = nn.LazyConv2d(32, 3)
    module(jnp.zeros((1, 16, 5, 5)))
    torch.manual_seed(0)
    reference = torch.nn.LazyConv2d(32, 3)
    reference(torch.zeros((1, 16, 5, 5)))
    bound = 1 / math.sqrt(16 * 9)  # kaiming_uniform(a=sqrt(5)) over the inferred fan-in
    for pname in ("weight", "bias"):
        ours = np.asarray(getattr(module, pname), np.float64).ravel()
        theirs = getattr(reference, pname).detach().numpy().ravel()
        assert ours.shape == theirs.shape
        assert ours.min() >= -bound and ours.max() <= bound
        assert abs(ours.std() / (bound / math.sqrt(3)) - 1) < 5 / math.sqrt(ours.size)
        if ks_2samp is not None and ours.size > 1000:
            assert ks_2samp(ours, theirs).pvalue > 1e-3


def test_lazy_modules_in_a_sequential():
    torch.manual_seed(0)
    reference = torch.nn.Sequential(torch.nn.LazyLinear(5), torch.nn.ReLU(),
                                    torch.nn.LazyLinear(2))
    model = nn.Sequential(nn.LazyLinear(5), nn.ReLU(), nn.LazyLinear(2))
    assert repr(model) == repr(reference)
    x = make_inputs([(4, 3)])[0]
    reference(torch.from_numpy(x))
    model(jnp.asarray(x))
    assert repr(model) == repr(reference)  # Linear(in_features=3, ...), Linear(5, 2)
    check_modules(reference, model, [(4, 3)], modes=("train",))


# -- load_state_dict before the first call ---------------------------------------------
@pytest.mark.parametrize("name, args, source_args, shape", [
    ("LazyLinear", (3,), (4, 3), (2, 4)),
    ("LazyConv2d", (3, 2), (4, 3, 2), (1, 4, 5, 5)),
    ("LazyConvTranspose1d", (3, 2), (4, 3, 2), (1, 4, 5)),
])
def test_load_state_dict_materialises_like_torch(name, args, source_args, shape):
    reference, module = _build(name, args, {})
    source = getattr(torch.nn, name.removeprefix("Lazy"))(*source_args)
    checkpoint = source.state_dict()
    result = reference.load_state_dict(checkpoint)
    ours = module.load_state_dict({k: v.numpy() for k, v in checkpoint.items()})
    assert repr(ours) == repr(result) == "<All keys matched successfully>"
    # materialised with the checkpoint's values, still the lazy class until called
    assert type(module).__name__ == type(reference).__name__ == name
    assert not module.has_uninitialized_params()
    assert repr(module) == repr(reference)  # in_features / in_channels still 0, as torch
    for key, value in checkpoint.items():
        np.testing.assert_array_equal(np.asarray(module.state_dict()[key]), value.numpy())
    x = make_inputs([shape])[0]
    expected = reference(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(module(jnp.asarray(x)), expected, rtol=1e-5, atol=1e-6)
    assert repr(module) == repr(reference)  # Linear learns in_features; a conv keeps 0


def test_load_uninitialised_into_uninitialised_keeps_placeholders():
    reference = torch.nn.LazyLinear(3)
    module = nn.LazyLinear(3)
    assert repr(reference.load_state_dict(torch.nn.LazyLinear(3).state_dict())) == repr(
        module.load_state_dict(nn.LazyLinear(3).state_dict()))
    assert module.has_uninitialized_params() and reference.has_uninitialized_params()
    assert list(module.state_dict()) == ["weight", "bias"]  # order kept
    module(jnp.ones((2, 4)))
    assert module.weight.shape == (3, 4)


def test_load_uninitialised_into_initialised_raises_like_torch():
    match = "Can't access the shape of an uninitialized parameter or buffer"
    with pytest.raises(RuntimeError, match=match):
        torch.nn.Linear(4, 3).load_state_dict(torch.nn.LazyLinear(3).state_dict())
    with pytest.raises(RuntimeError, match=match):
        nn.Linear(4, 3).load_state_dict(nn.LazyLinear(3).state_dict())


def test_load_state_dict_through_a_parent_materialises_like_torch():
    def build(m):
        return m.Sequential(m.LazyConv2d(4, 3), m.LazyBatchNorm2d(), m.ReLU(),
                            m.Sequential(m.LazyLinear(2)))

    torch.manual_seed(0)
    source = build(torch.nn)
    source(torch.randn(X2))  # materialised, running statistics moved
    checkpoint = source.state_dict()
    reference, model = build(torch.nn), build(nn)
    result = reference.load_state_dict(checkpoint)
    ours = model.load_state_dict(checkpoint)
    assert repr(ours) == repr(result) == "<All keys matched successfully>"
    assert repr(model) == repr(reference)  # still the Lazy classes, sizes still 0
    assert not any(m.has_uninitialized_params() for m in model.modules()
                   if isinstance(m, LazyModuleMixin))
    for key, value in checkpoint.items():
        np.testing.assert_array_equal(np.asarray(model.state_dict()[key]), value.numpy(),
                                      err_msg=key)
    x = make_inputs([X2])[0]
    reference.eval(), model.eval()
    expected = reference(torch.from_numpy(x)).detach().numpy()
    # three reductions stacked: conv (36 terms), batch statistics, linear (80 terms)
    np.testing.assert_allclose(model(jnp.asarray(x)), expected, rtol=1e-5, atol=1e-5)
    assert repr(model) == repr(reference)  # the ordinary classes now


def test_failed_load_puts_the_placeholders_back():
    """jnn's failure rule: torch keeps the placeholders it materialised before the error."""
    checkpoint = {"0.weight": np.ones((3, 4), np.float32), "1.weight": np.ones(3, np.float32)}
    reference = torch.nn.Sequential(torch.nn.LazyLinear(3), torch.nn.LazyBatchNorm1d())
    model = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d())
    with pytest.raises(RuntimeError) as expected:
        reference.load_state_dict({k: torch.from_numpy(v) for k, v in checkpoint.items()})
    with pytest.raises(RuntimeError) as got:
        model.load_state_dict(checkpoint)
    assert str(got.value) == str(expected.value)  # 0.bias, 1.bias, running stats missing
    assert type(reference[0].weight) is torch.nn.Parameter  # torch: half-loaded
    assert model[0].has_uninitialized_params() and model[1].has_uninitialized_params()
    assert type(model[0].weight) is UninitializedParameter
    assert type(model[1].running_mean) is UninitializedBuffer
    model(jnp.ones((2, 4)))  # and the first call still initialises everything
    assert model[0].weight.shape == (3, 4) and model[1].running_mean.shape == (3,)


# -- errors at the first call ----------------------------------------------------------
ERRORS = [
    err("LazyConv2d", (3, 2), {}, RuntimeError,
        r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d, but got input of "
        r"size: torch\.Size\(\[4, 5\]\)", [(4, 5)]),
    err("LazyConvTranspose1d", (3, 2), {}, RuntimeError,
        r"Expected 2D \(unbatched\) or 3D \(batched\) input to LazyConvTranspose1d", [(4,)]),
    err("LazyConv2d", (3, 2), {"groups": 3}, ValueError, "in_channels must be divisible by "
        "groups", [(1, 4, 5, 5)]),
    err("LazyLinear", (3,), {}, IndexError, "tuple index out of range", [()]),
    err("LazyConv1d", (3, 2), {"padding_mode": "foo"}, ValueError,
        r"padding_mode must be one of \{.*\}, but got padding_mode='foo'"),
    err("LazyConvTranspose2d", (3, 2), {"padding_mode": "circular"}, ValueError,
        'Only "zeros" padding mode is supported for LazyConvTranspose2d'),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match, inputs", ERRORS)
def test_lazy_error_matches_torch(name, args, kwargs, exc, match, inputs):
    check_error(name, args, kwargs, exc, match, inputs=inputs)


def test_failed_first_call_leaves_the_module_lazy_as_torch():
    reference, module = _build("LazyConv2d", (3, 2), {"groups": 3})
    for m, x in [(reference, torch.zeros(1, 4, 5, 5)), (module, jnp.zeros((1, 4, 5, 5)))]:
        with pytest.raises(ValueError):
            m(x)
    assert repr(module) == repr(reference)  # torch has already set in_channels=4
    assert module.has_uninitialized_params() and type(module) is nn.LazyConv2d


# -- jnn specifics: transformations, casts, the placeholder itself ---------------------
def test_uninitialised_module_refuses_transformations_clearly():
    module = nn.LazyLinear(3)
    with pytest.raises(RuntimeError, match="call `forward` with a dummy batch"):
        jax.jit(lambda m, x: m(x))(module, jnp.ones((2, 4)))  # flattening a placeholder
    model = nn.Sequential(module)
    step = jnn.compile(lambda x: model(x).sum())
    with pytest.raises(RuntimeError, match=r"LazyLinear infers its parameters from its first "
                       r"input, which is traced here .* \(a dry run\)"):
        step(jnp.ones((2, 4)))
    assert module.has_uninitialized_params() and type(module) is nn.LazyLinear
    module(jnp.ones((2, 4)))  # a dry run, then it is an ordinary pytree
    out = jax.jit(lambda m, x: m(x))(module, jnp.ones((2, 4)))
    np.testing.assert_allclose(out, module(jnp.ones((2, 4))), rtol=1e-6)
    np.testing.assert_allclose(step(jnp.ones((2, 4))), out.sum(), rtol=1e-6)


def test_failed_initialisation_restores_the_placeholders():
    class Failing(nn.LazyLinear):
        def reset_parameters(self):
            if not self.has_uninitialized_params() and self.in_features:
                raise RuntimeError("initialisation failed")
            super().reset_parameters()

    module = Failing(3)
    with pytest.raises(RuntimeError, match="initialisation failed"):
        module(jnp.ones((2, 4)))
    assert module.has_uninitialized_params() and type(module) is Failing
    assert all(type(p) is UninitializedParameter for p in module.parameters())
    assert module._forward_pre_hooks  # the next call tries again


def test_cast_before_materialisation_like_torch():
    reference, module = _build("LazyLinear", (3,), {})
    reference.to(torch.float16)
    module.to(jnp.float16)
    assert module.weight.dtype == jnp.float16 and reference.weight.dtype == torch.float16
    reference(torch.ones(2, 4, dtype=torch.float16))
    module(jnp.ones((2, 4), jnp.float16))
    assert module.weight.dtype == jnp.float16 and module.weight.shape == (3, 4)


def test_uninitialized_parameter_materialize():
    p = UninitializedParameter(dtype=jnp.bfloat16)
    reference = torch.nn.UninitializedParameter(dtype=torch.bfloat16)
    assert repr(p) == repr(reference) == "<UninitializedParameter>"
    assert p.dtype == jnp.bfloat16 and p.requires_grad
    p.materialize((2, 3))
    reference.materialize((2, 3))
    assert type(p) is nn.Parameter and type(reference) is torch.nn.Parameter
    assert p.shape == (2, 3) and p.dtype == jnp.bfloat16


def test_mixin_without_initialize_parameters():
    class Half(LazyModuleMixin, nn.Module):
        def forward(self, x):
            return x / 2

    class TorchHalf(torch.nn.modules.lazy.LazyModuleMixin, torch.nn.Module):
        def forward(self, x):
            return x / 2

    match = "initialize_parameters is not implemented for Half"
    with pytest.raises(NotImplementedError, match=match):
        Half()(jnp.ones(2))
    with pytest.raises(NotImplementedError, match=match.replace("Half", "TorchHalf")):
        TorchHalf()(torch.ones(2))


# -- lazy normalization layers ---------------------------------------------------------
# the shapes of tests/nn/test_normalization.py
N2, N3, N4, N5 = (4, 3), (2, 3, 5), (2, 3, 4, 4), (2, 3, 2, 2, 3)

LAZY_NORM = [
    ("LazyBatchNorm1d", {}, N2),
    ("LazyBatchNorm1d", {"momentum": None, "affine": False}, N3),
    ("LazyBatchNorm2d", {"bias": False}, N4),
    ("LazyBatchNorm2d", {"track_running_stats": False}, N4),
    ("LazyBatchNorm3d", {"eps": 1e-3}, N5),
    ("LazyInstanceNorm1d", {}, N3),
    ("LazyInstanceNorm2d", {"affine": False, "track_running_stats": False}, N4),
    ("LazyInstanceNorm3d", {"momentum": 0.3, "bias": False}, N5),
]


@pytest.mark.parametrize("name, kwargs, shape", LAZY_NORM)
def test_lazy_norm_matches_torch(name, kwargs, shape):
    reference, module = _build(name, (), kwargs)
    assert repr(module) == repr(reference)  # num_features 0, torch's lazy defaults
    assert _state_summary(module) == _state_summary(reference)
    assert module.state_dict()._metadata == reference.state_dict()._metadata
    assert module.has_uninitialized_params() == reference.has_uninitialized_params()
    x = make_inputs([shape])[0]
    with warnings.catch_warnings(record=True) as t_warned:
        warnings.simplefilter("always")
        t_out = reference(torch.from_numpy(x)).detach().numpy()
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        out = module(jnp.asarray(x))
    # nothing to infer without placeholders: num_features stays 0, and both warn of it
    assert [str(w.message) for w in warned] == [str(w.message) for w in t_warned]
    assert type(module) is getattr(nn, name.removeprefix("Lazy"))
    assert type(module).__name__ == type(reference).__name__
    assert not module._forward_pre_hooks and not module.__dict__.get(
        "_load_state_dict_pre_hooks")
    assert repr(module) == repr(reference)
    # normalised outputs of order 1 from statistics over up to 36 terms per channel
    np.testing.assert_allclose(out, t_out, rtol=1e-5, atol=1e-5)
    _assert_state_matches(module, reference, "after the first call")
    # from here on the ordinary layer (tested by tests/nn/test_normalization.py): one more
    # training step and an eval pass, on new data
    x2 = make_inputs([shape], seed=1)[0] * 2 + 1
    for mode in ("train", "eval"):
        reference.train(mode == "train")
        module.train(mode == "train")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # compared above
            expected = reference(torch.from_numpy(x2)).detach().numpy()
            out = module(jnp.asarray(x2))
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5, err_msg=mode)
        _assert_state_matches(module, reference, mode)


def _assert_state_matches(module, reference, what):
    jsd, tsd = module.state_dict(), reference.state_dict()
    assert list(jsd) == list(tsd), what
    for key, value in tsd.items():
        np.testing.assert_allclose(np.asarray(jsd[key]), value.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{what}: {key}")


def test_lazy_norm_load_before_the_first_call_like_torch():
    torch.manual_seed(0)
    source = torch.nn.BatchNorm2d(3)
    source(torch.randn(2, 3, 4, 4) * 2 + 1)
    reference, module = _build("LazyBatchNorm2d", (), {})
    result = reference.load_state_dict(source.state_dict())
    ours = module.load_state_dict({k: v.numpy() for k, v in source.state_dict().items()})
    assert repr(ours) == repr(result)
    assert repr(module) == repr(reference) and type(module) is nn.LazyBatchNorm2d
    assert not module.has_uninitialized_params()
    x = make_inputs([N4])[0]
    expected = reference(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(module(jnp.asarray(x)), expected, rtol=1e-5, atol=1e-5)
    assert repr(module) == repr(reference)  # BatchNorm2d(0, ...): torch keeps the 0
    assert int(module.num_batches_tracked) == int(reference.num_batches_tracked) == 2


def test_lazy_norm_cast_before_materialisation_like_torch():
    reference, module = _build("LazyBatchNorm1d", (), {})
    reference.to(torch.float16)
    module.to(jnp.float16)
    for name in ("weight", "running_mean", "num_batches_tracked"):
        assert str(getattr(module, name).dtype) == str(getattr(reference, name).dtype)[6:] or (
            name == "num_batches_tracked")  # int64 is int32 without jax_enable_x64
    assert module.num_batches_tracked.dtype == jnp.int32
    reference(torch.ones(4, 3, dtype=torch.float16))
    module(jnp.ones((4, 3), jnp.float16))
    assert module.running_var.dtype == jnp.float16 and module.running_var.shape == (3,)


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_lazy_copies_materialise_alone_like_torch(how):
    """A copy's hooks and placeholders are its own. torch pickles a lazy norm layer but
    cannot deepcopy one (its UninitializedBuffer refuses __deepcopy__); jnn does both."""
    reference = torch.nn.LazyBatchNorm1d(dtype=torch.float16)
    module = nn.LazyBatchNorm1d(dtype=jnp.float16)
    t_clone = pickle.loads(pickle.dumps(reference))
    clone = copy.deepcopy(module) if how == "deepcopy" else pickle.loads(pickle.dumps(module))
    assert _state_summary(clone) == _state_summary(t_clone)
    assert clone.running_var.dtype == jnp.float16  # torch's pickle drops it; jnn keeps it
    checkpoint = torch.nn.Sequential(torch.nn.BatchNorm1d(5)).state_dict()
    torch.nn.Sequential(t_clone).load_state_dict(checkpoint)
    nn.Sequential(clone).load_state_dict(checkpoint)
    assert clone.running_mean.shape == tuple(t_clone.running_mean.shape) == (5,)
    assert clone.weight.shape == (5,) and module.has_uninitialized_params()
    module(jnp.ones((4, 3), jnp.float16))
    assert module.running_mean.shape == (3,) and clone.running_mean.shape == (5,)
    clone(jnp.ones((4, 5), jnp.float16))
    assert type(clone) is nn.BatchNorm1d and not clone._forward_pre_hooks


def test_lazy_norm_refuses_traced_first_input():
    module = nn.LazyBatchNorm1d(affine=False)  # buffers are its only placeholders
    with pytest.raises(RuntimeError, match="infers its parameters from its first input"):
        jax.jit(lambda m, x: m(x))(module, jnp.ones((4, 3)))
    assert module.has_uninitialized_params()
    module(jnp.ones((4, 3)))
    out = jax.jit(lambda m, x: m(x))(module.eval(), jnp.ones((4, 3)))
    np.testing.assert_allclose(out, module(jnp.ones((4, 3))), rtol=1e-6)


LAZY_NORM_ERRORS = [
    err("LazyBatchNorm1d", (), {}, IndexError, "tuple index out of range", [(3,)]),
    err("LazyBatchNorm2d", (), {}, ValueError, r"expected 4D input \(got 3D input\)", [N3]),
    err("LazyBatchNorm3d", (), {}, ValueError, r"expected 5D input \(got 4D input\)", [N4]),
    # torch reads num_features from dim 1 even for an unbatched input
    err("LazyInstanceNorm1d", (), {}, ValueError,
        r"expected input's size at dim=0 to match num_features \(5\), but got: 3\.", [(3, 5)]),
    err("LazyInstanceNorm2d", (), {}, ValueError, r"expected 3D or 4D input \(got 2D input\)",
        [N2]),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match, inputs", LAZY_NORM_ERRORS)
def test_lazy_norm_error_matches_torch(name, args, kwargs, exc, match, inputs):
    check_error(name, args, kwargs, exc, match, inputs=inputs)


def test_uninitialized_buffer_like_torch():
    b = UninitializedBuffer(dtype=jnp.float16, persistent=False)
    reference = torch.nn.UninitializedBuffer(dtype=torch.float16, persistent=False)
    assert repr(b) == repr(reference) == "<UninitializedBuffer>"
    assert b.dtype == jnp.float16 and not b.requires_grad and not b.persistent
    for obj in (b, reference):
        with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
            _ = obj.shape
    value = b.materialize((2, 3))
    reference.materialize((2, 3))
    assert value.shape == tuple(reference.shape) and value.dtype == jnp.float16
    assert type(reference) is torch.Tensor and isinstance(value, jax.Array)


def test_lazy_names_are_exported_like_torch():
    wanted = {n for n in dir(torch.nn) if n.startswith(("Lazy", "Uninitialized"))}
    assert wanted <= set(nn.__all__) and wanted <= set(dir(nn))
    assert nn.UninitializedParameter is UninitializedParameter
    assert nn.UninitializedBuffer is UninitializedBuffer


def test_register_buffer_accepts_an_uninitialized_buffer_as_torch():
    """A user-written lazy module registers its placeholder with ``register_buffer``."""
    from jnn.nn.modules.lazy import LazyModuleMixin, UninitializedBuffer

    def build(lib, mixin, placeholder, init):
        class LazyScale(mixin, lib.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("scale", placeholder(), persistent=False)
                self.register_buffer("offset", placeholder())

            def initialize_parameters(self, x):
                init(self, x)

            def forward(self, x):
                return x * self.scale + self.offset

        return LazyScale()

    def torch_init(m, x):
        m.scale.materialize(x.shape[-1:])
        m.offset.materialize(x.shape[-1:])
        with torch.no_grad():
            m.scale.fill_(2.0)
            m.offset.fill_(1.0)

    def jnn_init(m, x):
        m.scale = jnp.full(x.shape[-1:], 2.0)
        m.offset = jnp.ones(x.shape[-1:])

    theirs = build(torch.nn, torch.nn.modules.lazy.LazyModuleMixin,
                   torch.nn.UninitializedBuffer, torch_init)
    ours = build(nn, LazyModuleMixin, UninitializedBuffer, jnn_init)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(ours(jnp.asarray(x)), theirs(torch.tensor(x)).numpy())
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["offset"]
