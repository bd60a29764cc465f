"""``state_dict`` / ``load_state_dict`` against torch: keys, order, ``_metadata``, loading
from torch / numpy / jax values, copies, ``_IncompatibleKeys`` and strict-mode errors whose
text is torch's own for the same situation."""

from __future__ import annotations

from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn.nn as nn
from tests.nn._mirror import nested, pair, zoo


def both(build):
    return build(zoo("torch")), build(zoo("jnn"))


def as_numpy(sd):
    return {k: v.detach().numpy().copy() for k, v in sd.items()}


def assert_state_equal(jnn_model, torch_model):
    jsd, tsd = jnn_model.state_dict(), torch_model.state_dict()
    assert list(jsd) == list(tsd)
    for (name, tv), jv in zip(tsd.items(), jsd.values()):
        assert isinstance(jv, jax.Array), name
        assert jv.shape == tuple(tv.shape) and str(jv.dtype) == str(tv.dtype)[6:], name
        np.testing.assert_array_equal(np.asarray(jv), tv.detach().numpy(), err_msg=name)


ARCHITECTURES = {
    "linear": lambda z: z.MyLinear(2, 3),
    "linear_no_bias": lambda z: z.MyLinear(2, 3, bias=False),
    "norm": lambda z: z.Norm(3),
    "mlp": lambda z: z.MLP(),
    "tied": lambda z: z.Tied(),
    "shared": lambda z: z.Shared(),
    "nested": nested,
    "sequential_of_containers": lambda z: z.nn.Sequential(
        z.nn.ModuleList([z.MLP(), z.nn.ModuleDict({"n": z.Norm(2)})]),
        z.nn.ParameterList([z.nn.Parameter(z.tensor(2))]),
        z.nn.ParameterDict({"p": z.nn.Parameter(z.tensor(1))})),
}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_keys_order_and_metadata_match_torch(arch):
    t, j = both(ARCHITECTURES[arch])
    tsd, jsd = t.state_dict(), j.state_dict()
    assert list(jsd) == list(tsd)
    assert isinstance(jsd, OrderedDict)
    assert jsd._metadata == tsd._metadata
    assert list(jsd._metadata) == list(tsd._metadata)
    assert list(j.state_dict(prefix="model.")) == list(t.state_dict(prefix="model."))
    assert list(j.state_dict(keep_vars=True)) == list(t.state_dict(keep_vars=True))


def test_state_dict_values_are_arrays_or_the_parameters():
    j = nested(zoo("jnn"))
    sd = j.state_dict()
    assert all(isinstance(v, jax.Array) for v in sd.values())
    assert sd["fc2.weight"] is sd["extra.weight"] is j.fc2.weight.data
    kept = j.state_dict(keep_vars=True)
    assert kept["fc2.weight"] is j.fc2.weight is kept["extra.weight"]
    assert kept["norm.running_mean"] is j.norm.running_mean
    assert "tmp" not in sd and "norm.scratch" not in sd  # non-persistent buffers


def test_destination_argument_matches_torch():
    t, j = both(lambda z: z.MLP())
    tdest, jdest = OrderedDict(first=0), OrderedDict(first=0)
    assert t.state_dict(destination=tdest, prefix="p.") is tdest
    assert j.state_dict(destination=jdest, prefix="p.") is jdest
    assert list(jdest) == list(tdest)
    assert hasattr(jdest, "_metadata") == hasattr(tdest, "_metadata")


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_load_from_torch_numpy_matches_torch(arch):
    t, j = pair(ARCHITECTURES[arch])  # loads {k: v.numpy()} from the torch model
    assert_state_equal(j, t)


SOURCES = {
    "torch_tensors": lambda t: t.state_dict(),
    "torch_keep_vars": lambda t: t.state_dict(keep_vars=True),
    "numpy": lambda t: as_numpy(t.state_dict()),
    "jax": lambda t: {k: jnp.asarray(v) for k, v in as_numpy(t.state_dict()).items()},
    "plain_dict_of_jnn_parameters": lambda t: {
        k: nn.Parameter(v) for k, v in as_numpy(t.state_dict()).items()},
}


@pytest.mark.parametrize("source", SOURCES)
def test_load_from_every_array_kind(source):
    t = pair(lambda z: z.MLP())[0]
    j = zoo("jnn").MLP()
    params_before = list(j.parameters())
    result = j.load_state_dict(SOURCES[source](t))
    assert_state_equal(j, t)
    assert repr(result) == "<All keys matched successfully>"
    # torch copies into the existing Parameters: the objects (and an optimizer's view) stay
    assert all(a is b for a, b in zip(j.parameters(), params_before))
    assert all(isinstance(p.data, jax.Array) for p in j.parameters())


def test_load_from_another_jnn_model():
    t, j = pair(lambda z: z.MLP())
    k = zoo("jnn").MLP()
    k.load_state_dict(j.state_dict())
    assert_state_equal(k, t)
    k2 = zoo("jnn").MLP()
    k2.load_state_dict(j.state_dict(keep_vars=True))
    assert_state_equal(k2, t)


def test_result_matches_torch_when_all_keys_match():
    t, j = pair(lambda z: z.MLP())
    tres = t.load_state_dict(t.state_dict())
    jres = j.load_state_dict(as_numpy(t.state_dict()))
    assert repr(jres) == repr(tres) == "<All keys matched successfully>"
    assert str(jres) == str(tres)
    assert jres.missing_keys == [] and jres.unexpected_keys == []
    assert tuple(jres) == tuple(tres) == ([], [])


def test_loading_copies_the_source():
    t = pair(lambda z: z.MLP())[0]
    j = zoo("jnn").MLP()
    src = as_numpy(t.state_dict())
    j.load_state_dict(src)
    for v in src.values():
        v += 100.0  # in-place change of the caller's arrays
    assert_state_equal(j, t)
    k = zoo("jnn").MLP()
    tsd = t.state_dict()
    k.load_state_dict(tsd)
    with torch.no_grad():
        for v in tsd.values():
            v.add_(100.0)  # torch tensors share memory with the torch model
    for (name, tv), jv in zip(tsd.items(), k.state_dict().values()):
        np.testing.assert_array_equal(np.asarray(jv) + 100.0, tv.numpy(), err_msg=name)


def test_load_casts_to_the_parameter_dtype_like_torch():
    t, j = both(lambda z: z.MyLinear(2, 3))
    src = {"weight": np.ones((3, 2), np.float16), "bias": np.arange(3, dtype=np.int32)}
    t.load_state_dict({k: torch.from_numpy(v) for k, v in src.items()})
    j.load_state_dict(src)
    assert_state_equal(j, t)


def test_load_bfloat16_torch_tensors():
    t, j = both(lambda z: z.MyLinear(2, 3))
    t.bfloat16()
    j.bfloat16()
    src = pair(lambda z: z.MyLinear(2, 3))[0].bfloat16()  # torch bfloat16 tensors
    t.load_state_dict(src.state_dict())
    j.load_state_dict(src.state_dict())
    jw, tw = j.weight.data, t.weight.detach()
    assert jw.dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(jw.astype(jnp.float32)), tw.float().numpy())


def test_load_zero_dim_parameter_from_one_element_like_torch():
    def build(z):
        m = z.nn.Module()
        m.scale = z.nn.Parameter(z.tensor())
        return m

    t, j = both(build)
    t.load_state_dict({"scale": torch.tensor([2.5])})
    j.load_state_dict({"scale": np.array([2.5], np.float32)})
    assert j.scale.shape == () and float(j.scale) == float(t.scale.detach()) == 2.5


def test_assign_matches_torch():
    t, j = both(lambda z: z.MyLinear(2, 3))
    t.weight.requires_grad_(False)
    j.weight.requires_grad_(False)
    src = {"weight": np.ones((3, 2), np.float16), "bias": np.full(3, 2.0, np.float16)}
    t.load_state_dict({k: torch.from_numpy(v) for k, v in src.items()}, assign=True)
    j.load_state_dict(src, assign=True)
    assert_state_equal(j, t)  # the checkpoint's dtype is kept, not cast
    assert [p.requires_grad for p in j.parameters()] == [p.requires_grad for p in t.parameters()]
    assert isinstance(j.weight, nn.Parameter)


def test_tied_and_shared_names_both_load_like_torch():
    for build in (lambda z: z.Tied(), lambda z: z.Shared()):
        t, j = pair(build)
        src = as_numpy(t.state_dict())
        for i, k in enumerate(src):
            src[k] = np.full_like(src[k], float(i))  # each name gets a different value
        t.load_state_dict({k: torch.from_numpy(v) for k, v in src.items()})
        j.load_state_dict(src)
        assert_state_equal(j, t)
    assert j.block is j.again


# -- mismatches -----------------------------------------------------------------------------

def _drop(*keys):
    return lambda sd: {k: v for k, v in sd.items() if k not in keys}


def _add(**extra):
    return lambda sd: {**sd, **{k.replace("__", "."): v for k, v in extra.items()}}


def _set(key, value):
    return lambda sd: {**sd, key: value}


def _chain(*fns):
    def run(sd):
        for fn in fns:
            sd = fn(sd)
        return sd

    return run


MISMATCHES = {
    "missing_one": _drop("fc1.bias"),
    "missing_several": _drop("fc1.bias", "norm.running_mean", "tied.dec.weight", "alpha"),
    "missing_tied_alias": _drop("extra.weight"),
    "missing_shared_alias": _drop("head.share.weight"),
    "unexpected_param": _add(fc1__extra=np.zeros(1, np.float32)),
    "unexpected_module": _add(nothere__weight=np.zeros(1, np.float32)),
    "unexpected_nonpersistent": _add(norm__scratch=np.zeros(8, np.float32)),
    "unexpected_top_level": _add(gamma=np.zeros(1, np.float32)),
    "unexpected_list_index": _add(blocks__7__weight=np.zeros(1, np.float32)),
    "unexpected_none_child": _add(nothing__weight=np.zeros(1, np.float32)),
    "missing_and_unexpected": _chain(_drop("fc2.weight", "steps"),
                                     _add(fc2__w=np.zeros(1, np.float32))),
    "size_mismatch": _set("fc1.weight", np.zeros((8, 5), np.float32)),
    "size_mismatch_buffer": _set("steps", np.zeros((), np.float32)),
    "size_mismatch_several": _chain(_set("fc1.weight", np.zeros((4, 8), np.float32)),
                                    _set("blocks.3.running_mean", np.zeros(5, np.float32))),
    "everything": _chain(_drop("fc2.bias"), _add(zzz=np.zeros(1, np.float32)),
                         _set("alpha", np.zeros((1, 1), np.float32))),
    "not_an_array": _set("fc1.bias", "hello"),
    "not_an_array_and_missing": _chain(_set("alpha", 3.0), _drop("tied.enc.bias")),
}


def _run_load(model, sd, framework, strict):
    if framework == "torch":
        sd = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in sd.items()}
    return model.load_state_dict(sd, strict=strict)


def _outcome(model, sd, framework, strict):
    try:
        return "ok", _run_load(model, sd, framework, strict)
    except Exception as e:  # noqa: BLE001 - the oracle's error is the expected value
        return type(e), str(e)


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("case", MISMATCHES)
def test_mismatch_result_or_error_matches_torch(case, strict):
    t, j = pair(nested)
    sd = MISMATCHES[case](as_numpy(t.state_dict()))
    expected = _outcome(t, sd, "torch", strict)
    got = _outcome(j, sd, "jnn", strict)
    if expected[0] == "ok":
        assert got[0] == "ok", got
        assert tuple(got[1]) == tuple(expected[1])
        assert repr(got[1]) == repr(expected[1])
    else:
        assert got == expected  # same exception type and the same full message


def test_strict_error_is_raised_before_any_partial_state_matters():
    t, j = pair(lambda z: z.MLP())
    sd = as_numpy(t.state_dict())
    del sd["fc1.bias"]
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "fc1.bias"\. '):
        j.load_state_dict(sd)


def test_non_mapping_error_matches_torch():
    t, j = both(lambda z: z.MyLinear(1, 1))
    with pytest.raises(TypeError) as expected:
        t.load_state_dict([("weight", torch.zeros(1, 1))])
    with pytest.raises(TypeError) as got:
        j.load_state_dict([("weight", np.zeros((1, 1), np.float32))])
    assert str(got.value) == str(expected.value)


def test_non_strict_partial_load_matches_torch():
    t, j = pair(lambda z: z.MLP())
    src = pair(lambda z: z.MLP(), seed=1)[0]
    sd = {k: v for k, v in src.state_dict().items() if k.startswith("fc1.")}
    sd["unused"] = torch.zeros(1)
    tres = t.load_state_dict(sd, strict=False)
    jres = j.load_state_dict({k: v.numpy() for k, v in sd.items()}, strict=False)
    assert repr(jres) == repr(tres)
    assert jres.missing_keys == tres.missing_keys and jres.unexpected_keys == ["unused"]
    assert_state_equal(j, t)
