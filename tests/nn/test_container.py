"""Containers against torch: ``Sequential``, ``ModuleList``, ``ModuleDict``,
``ParameterList`` and ``ParameterDict`` — member names, state_dict keys, indexing, mutation
and errors are compared with the same construction under torch."""

from __future__ import annotations

import re
from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn.nn as nn
from tests.nn._mirror import assert_same_error_in_zoos, error_of, keystrs, leaf_names, pair, zoo


def both(build):
    return build(zoo("torch")), build(zoo("jnn"))


def layout(m):
    """Everything name-shaped about a container: members, state_dict keys, repr."""
    return (list(m._modules), list(m._parameters), list(m.state_dict()), repr(m), len(m))


def check(build):
    t, j = both(build)
    assert layout(j) == layout(t)
    return t, j


# -- Sequential ----------------------------------------------------------------------------

def seq(z):
    return z.nn.Sequential(z.MyLinear(4, 8), z.ReLU(), z.Norm(8), z.MyLinear(8, 3))


def named_seq(z):
    return z.nn.Sequential(OrderedDict(fc=z.MyLinear(4, 8), act=z.ReLU(), norm=z.Norm(8),
                                       out=z.MyLinear(8, 3)))


SEQUENTIAL = {
    "positional": seq,
    "ordered_dict": named_seq,
    "empty": lambda z: z.nn.Sequential(),
    "append": lambda z: seq(z).append(z.Scale(2.0)),
    "append_to_named": lambda z: named_seq(z).append(z.Scale(2.0)),
    "insert_front": lambda z: seq(z).insert(0, z.Scale(2.0)),
    "insert_middle": lambda z: seq(z).insert(2, z.Scale(2.0)),
    "insert_end": lambda z: seq(z).insert(4, z.Scale(2.0)),
    "insert_negative": lambda z: seq(z).insert(-1, z.Scale(2.0)),
    "extend": lambda z: seq(z).extend([z.Scale(2.0), z.ReLU()]),
    "extend_sequential": lambda z: seq(z).extend(z.nn.Sequential(z.Scale(2.0))),
    "add": lambda z: seq(z) + named_seq(z),
    "iadd": lambda z: _iadd(seq(z), z.nn.Sequential(z.Scale(2.0))),
    "mul": lambda z: z.nn.Sequential(z.ReLU(), z.Scale(2.0)) * 3,
    "rmul": lambda z: 2 * z.nn.Sequential(z.Scale(2.0)),
    "imul": lambda z: _imul(z.nn.Sequential(z.Scale(2.0), z.ReLU()), 2),
    "del_int": lambda z: _del(seq(z), 1),
    "del_negative": lambda z: _del(seq(z), -1),
    "del_slice": lambda z: _del(seq(z), slice(1, 3)),
    "del_named": lambda z: _del(named_seq(z), 0),
    "del_step_slice": lambda z: _del(seq(z), slice(None, None, 2)),
    "pop": lambda z: _pop(seq(z), 1),
    "pop_negative": lambda z: _pop(seq(z), -1),
    "setitem": lambda z: _setitem(seq(z), 1, z.Scale(3.0)),
    "setitem_negative": lambda z: _setitem(seq(z), -1, z.Scale(3.0)),
    "setitem_named": lambda z: _setitem(named_seq(z), 2, z.Scale(3.0)),
    "slice": lambda z: seq(z)[1:3],
    "slice_named": lambda z: named_seq(z)[1:],
    "slice_step": lambda z: seq(z)[::2],
    "slice_negative": lambda z: named_seq(z)[-2:],
    "nested": lambda z: z.nn.Sequential(seq(z), z.nn.Sequential(named_seq(z), z.ReLU())),
    "same_module_twice": lambda z: _twice(z),
}


def _iadd(a, b):
    a += b
    return a


def _imul(a, n):
    a *= n
    return a


def _del(s, idx):
    del s[idx]
    return s


def _pop(s, idx):
    popped = s.pop(idx)
    s.add_module("popped", popped)
    return s


def _setitem(s, idx, value):
    s[idx] = value
    return s


def _twice(z):
    lin = z.MyLinear(2, 2)
    return z.nn.Sequential(lin, z.ReLU(), lin)


@pytest.mark.parametrize("case", SEQUENTIAL)
def test_sequential_matches_torch(case):
    check(SEQUENTIAL[case])


@pytest.mark.parametrize("idx", [0, 1, 3, -1, -4])
def test_sequential_int_index_matches_torch(idx):
    t, j = both(named_seq)
    assert repr(j[idx]) == repr(t[idx])
    assert j[idx] is list(j.children())[idx]


def test_sequential_slice_shares_members():
    j = seq(zoo("jnn"))
    part = j[1:3]
    assert type(part) is nn.Sequential
    assert part[0] is j[1] and part[1] is j[2]


def test_sequential_iter_len_and_members_are_the_objects():
    j = seq(zoo("jnn"))
    assert len(j) == 4
    assert list(j) == [j[0], j[1], j[2], j[3]]
    assert list(j) == list(j.children())


SEQUENTIAL_ERRORS = {
    "index_too_large": lambda z: seq(z)[4],
    "index_too_small": lambda z: seq(z)[-5],
    "setitem_out_of_range": lambda z: _setitem(seq(z), 9, z.ReLU()),
    "del_out_of_range": lambda z: _del(seq(z), 9),
    "add_non_sequential": lambda z: seq(z) + z.nn.ModuleList(),
    "iadd_non_sequential": lambda z: _iadd(seq(z), [z.ReLU()]),
    "insert_out_of_range": lambda z: seq(z).insert(9, z.ReLU()),
    "insert_non_module": lambda z: seq(z).insert(0, 3),
    "mul_non_int": lambda z: seq(z) * 1.5,
    "mul_zero": lambda z: seq(z) * 0,
    "imul_negative": lambda z: _imul(seq(z), -1),
    "append_non_module": lambda z: seq(z).append(3),
    "constructor_non_module": lambda z: z.nn.Sequential(z.ReLU(), 3),
}


@pytest.mark.parametrize("case", SEQUENTIAL_ERRORS)
def test_sequential_errors_match_torch(case):
    expected = error_of(SEQUENTIAL_ERRORS[case], zoo("torch"))
    # torch's messages name its own classes (<class 'torch.nn...Sequential'>)
    pattern = re.escape(str(expected).replace("torch.nn.", "@@")).replace("@@", r"jnn\.nn\.")
    with pytest.raises(type(expected), match=pattern):
        SEQUENTIAL_ERRORS[case](zoo("jnn"))


def test_sequential_forward_matches_torch():
    t, j = pair(seq)
    x = np.random.default_rng(0).standard_normal((2, 4), np.float32)
    expected = t(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(np.asarray(j(jnp.asarray(x))), expected, rtol=1e-5, atol=1e-5)
    # a slice is a Sequential that runs its members
    np.testing.assert_allclose(np.asarray(j[:2](jnp.asarray(x))),
                               t[:2](torch.from_numpy(x)).detach().numpy(), rtol=1e-5,
                               atol=1e-5)


# -- ModuleList ----------------------------------------------------------------------------

def mlist(z):
    return z.nn.ModuleList([z.MyLinear(2, 3), z.ReLU(), z.Norm(3)])


MODULE_LIST = {
    "constructor": mlist,
    "empty": lambda z: z.nn.ModuleList(),
    "from_generator": lambda z: z.nn.ModuleList(z.MyLinear(1, i + 1) for i in range(3)),
    "append": lambda z: mlist(z).append(z.Scale(2.0)),
    "extend": lambda z: mlist(z).extend([z.Scale(2.0), z.ReLU()]),
    "iadd": lambda z: _iadd(mlist(z), [z.Scale(2.0)]),
    "add": lambda z: mlist(z) + z.nn.ModuleList([z.Scale(2.0)]),
    "insert_front": lambda z: _insert(mlist(z), 0, z.Scale(2.0)),
    "insert_middle": lambda z: _insert(mlist(z), 2, z.Scale(2.0)),
    "insert_end": lambda z: _insert(mlist(z), 3, z.Scale(2.0)),
    "del_int": lambda z: _del(mlist(z), 0),
    "del_negative": lambda z: _del(mlist(z), -2),
    "del_slice": lambda z: _del(mlist(z), slice(0, 2)),
    "del_step_slice": lambda z: _del(mlist(z), slice(None, None, 2)),
    "pop": lambda z: _pop(mlist(z), 1),
    "pop_negative": lambda z: _pop(mlist(z), -1),
    "setitem": lambda z: _setitem(mlist(z), 0, z.Scale(3.0)),
    "setitem_negative": lambda z: _setitem(mlist(z), -1, z.Scale(3.0)),
    "slice": lambda z: mlist(z)[1:],
    "slice_step": lambda z: mlist(z)[::-1],
    "same_module_twice": lambda z: _list_twice(z),
}


def _insert(m, idx, value):
    m.insert(idx, value)
    return m


def _list_twice(z):
    lin = z.MyLinear(2, 2)
    return z.nn.ModuleList([lin, lin, z.ReLU()])


@pytest.mark.parametrize("case", MODULE_LIST)
def test_module_list_matches_torch(case):
    check(MODULE_LIST[case])


@pytest.mark.parametrize("idx", [0, 2, -1, -3])
def test_module_list_index_matches_torch(idx):
    t, j = both(mlist)
    assert repr(j[idx]) == repr(t[idx])
    assert j[idx] is list(j)[idx]


MODULE_LIST_ERRORS = {
    "index_too_large": lambda z: mlist(z)[3],
    "index_too_small": lambda z: mlist(z)[-4],
    "extend_non_iterable": lambda z: mlist(z).extend(3),
    "append_non_module": lambda z: mlist(z).append(3),
    "call": lambda z: mlist(z)(1),
}


@pytest.mark.parametrize("case", MODULE_LIST_ERRORS)
def test_module_list_errors_match_torch(case):
    assert_same_error_in_zoos(MODULE_LIST_ERRORS[case])


# -- ModuleDict ----------------------------------------------------------------------------

def mdict(z):
    return z.nn.ModuleDict({"z": z.MyLinear(2, 3), "a": z.ReLU(), "m": z.Norm(3)})


def _mdict_ops(z):
    d = mdict(z)
    d["b"] = z.Scale(2.0)
    d.update([("c", z.ReLU()), ("a", z.MyLinear(1, 1))])
    d.update(OrderedDict(y=z.Norm(1)))
    del d["z"]
    d.pop("m")
    return d


MODULE_DICT = {
    "constructor": mdict,  # a plain dict keeps insertion order
    "ordered_dict": lambda z: z.nn.ModuleDict(OrderedDict(b=z.ReLU(), a=z.MyLinear(1, 1))),
    "pairs": lambda z: z.nn.ModuleDict([("b", z.ReLU()), ("a", z.MyLinear(1, 1))]),
    "empty": lambda z: z.nn.ModuleDict(),
    "mutations": _mdict_ops,
    "update_from_module_dict": lambda z: _update(mdict(z), z.nn.ModuleDict({"q": z.ReLU()})),
    "clear": lambda z: _clear(mdict(z)),
}


def _update(d, other):
    d.update(other)
    return d


def _clear(d):
    d.clear()
    return d


@pytest.mark.parametrize("case", MODULE_DICT)
def test_module_dict_matches_torch(case):
    t, j = check(MODULE_DICT[case])
    assert list(j.keys()) == list(t.keys())
    assert list(j) == list(t)
    assert [type(v).__name__ for v in j.values()] == [type(v).__name__ for v in t.values()]
    assert [k for k, _ in j.items()] == [k for k, _ in t.items()]
    assert all(k in j for k in t.keys())
    assert "missing" not in j


MODULE_DICT_ERRORS = {
    "missing_key": lambda z: mdict(z)["nope"],
    "pop_missing": lambda z: mdict(z).pop("nope"),
    "update_non_iterable": lambda z: mdict(z).update(3),
    "update_element_not_iterable": lambda z: mdict(z).update([3]),
    "update_element_wrong_length": lambda z: mdict(z).update([("a", z.ReLU(), 3)]),
    "bad_key": lambda z: mdict(z).update({"a.b": z.ReLU()}),
    "non_module_value": lambda z: mdict(z).update({"a": 3}),
    "call": lambda z: mdict(z)(1),
    "del_missing": lambda z: mdict(z).__delitem__("nope"),
}


@pytest.mark.parametrize("case", MODULE_DICT_ERRORS)
def test_module_dict_errors_match_torch(case):
    assert_same_error_in_zoos(MODULE_DICT_ERRORS[case])


# -- ParameterList -------------------------------------------------------------------------

def plist(z):
    return z.nn.ParameterList([z.nn.Parameter(z.tensor(2, 3)), z.nn.Parameter(z.tensor(3))])


def _plist_ops(z):
    p = plist(z)
    p.append(z.nn.Parameter(z.tensor(1)))
    p.extend([z.nn.Parameter(z.tensor(4)), z.tensor(5)])  # a plain array becomes a Parameter
    p += [z.nn.Parameter(z.tensor(1, 1))]
    p[0] = z.nn.Parameter(z.tensor(7))
    p[-1] = z.tensor(2, 2)
    return p


PARAMETER_LIST = {
    "constructor": plist,
    "empty": lambda z: z.nn.ParameterList(),
    "wraps_arrays": lambda z: z.nn.ParameterList([z.tensor(2), z.tensor(1, 2)]),
    "mutations": _plist_ops,
    "in_a_module": lambda z: z.nn.Sequential(plist(z), z.nn.ParameterList()),
}


@pytest.mark.parametrize("case", PARAMETER_LIST)
def test_parameter_list_matches_torch(case):
    t, j = check(PARAMETER_LIST[case])
    assert [type(p).__name__ for p in j.parameters()] == ["Parameter"] * len(list(t.parameters()))
    assert [tuple(p.shape) for p in j.parameters()] == [tuple(p.shape) for p in t.parameters()]


def test_parameter_list_indexing_matches_torch():
    t, j = both(_plist_ops)
    for idx in [0, 2, -1, -len(t)]:
        assert j[idx].shape == tuple(t[idx].shape)
        assert isinstance(j[idx], nn.Parameter)
    assert [p.shape for p in j[1:4]] == [tuple(p.shape) for p in t[1:4]]
    assert type(j[1:4]) is nn.ParameterList
    assert [p.shape for p in j] == [tuple(p.shape) for p in t]
    assert j[1] is j[1:3][0] is getattr(j, "1")


def test_parameter_list_keeps_the_parameter_objects():
    p = nn.Parameter(np.zeros(2, np.float32), requires_grad=False)
    pl = nn.ParameterList([p])
    assert pl[0] is p and not pl[0].requires_grad


PARAMETER_LIST_ERRORS = {
    "index_too_large": lambda z: plist(z)[2],
    "index_too_small": lambda z: plist(z)[-3],
    "extend_non_iterable": lambda z: plist(z).extend(3),
    "extend_with_a_parameter": lambda z: plist(z).extend(z.nn.Parameter(z.tensor(3))),
    "call": lambda z: plist(z)(1),
}


def _holding_objects(z):
    """torch keeps a non-tensor member as it is (only tensors become Parameters)."""
    p = z.nn.ParameterList([z.nn.Parameter(z.tensor(2)), "note"])
    p.append(3)
    p.extend([[1.0, 2.0], z.tensor(1)])
    return p


def _dict_holding_objects(z):
    p = pdict(z)
    p["note"] = "text"
    p.update({"count": 3, "m": z.tensor(1)})
    return p


@pytest.mark.parametrize("build", [_holding_objects, lambda z: _dict_holding_objects(z)])
def test_parameter_containers_hold_other_objects_as_torch(build):
    t, j = check(build)
    assert [type(v).__name__ for v in (j.values() if hasattr(j, "values") else j)] == [
        type(v).__name__.replace("Tensor", "ndarray")
        for v in (t.values() if hasattr(t, "values") else t)]


def test_parameter_dict_dict_methods_match_torch():
    def run(z):
        p = pdict(z)
        out = [p.setdefault("w", None) is p["w"], p.setdefault("n", z.tensor(4)).shape]
        out.append(p.popitem()[0])
        merged = p | {"z": z.nn.Parameter(z.tensor(1))}
        out += [list(merged), list(p), merged["w"] is p["w"], list(reversed(p))]
        p |= [("y", z.nn.Parameter(z.tensor(1)))]
        out += [list(p), list(p.copy()), p.copy()["w"] is p["w"]]
        out.append(list(p.fromkeys(["a", "b"])))
        return [tuple(o) if hasattr(o, "__len__") and not isinstance(o, list) else o
                for o in out]

    assert run(zoo("jnn")) == run(zoo("torch"))


@pytest.mark.parametrize("case", PARAMETER_LIST_ERRORS)
def test_parameter_list_errors_match_torch(case):
    assert_same_error_in_zoos(PARAMETER_LIST_ERRORS[case])


# -- ParameterDict -------------------------------------------------------------------------

def pdict(z):
    return z.nn.ParameterDict({"w": z.nn.Parameter(z.tensor(2, 3)),
                               "b": z.nn.Parameter(z.tensor(3))})


def _pdict_ops(z):
    p = pdict(z)
    p["m"] = z.tensor(1)  # a plain array becomes a Parameter
    p.update(OrderedDict(q=z.nn.Parameter(z.tensor(1)), a=z.nn.Parameter(z.tensor(2))))
    p.update([("k", z.nn.Parameter(z.tensor(3))), ("b", z.nn.Parameter(z.tensor(4)))])
    del p["w"]
    p.pop("q")
    return p


PARAMETER_DICT = {
    "constructor": pdict,
    "ordered_dict": lambda z: z.nn.ParameterDict(OrderedDict(
        w=z.nn.Parameter(z.tensor(2, 3)), b=z.nn.Parameter(z.tensor(3)))),
    "pairs": lambda z: z.nn.ParameterDict([("w", z.nn.Parameter(z.tensor(2))),
                                           ("b", z.nn.Parameter(z.tensor(3)))]),
    "empty": lambda z: z.nn.ParameterDict(),
    "mutations": _pdict_ops,
    "update_from_parameter_dict": lambda z: _update(pdict(z), z.nn.ParameterDict(
        OrderedDict(z=z.nn.Parameter(z.tensor(1)), c=z.nn.Parameter(z.tensor(2))))),
    "clear": lambda z: _clear(pdict(z)),
    "in_a_module": lambda z: z.nn.ModuleDict({"p": pdict(z), "l": plist(z)}),
}


@pytest.mark.parametrize("case", PARAMETER_DICT)
def test_parameter_dict_matches_torch(case):
    t, j = check(PARAMETER_DICT[case])
    if isinstance(t, torch.nn.ParameterDict):
        assert list(j.keys()) == list(t.keys())
        assert list(j) == list(t)
        assert [k for k, _ in j.items()] == [k for k, _ in t.items()]
        assert [v.shape for v in j.values()] == [tuple(v.shape) for v in t.values()]
        assert all(isinstance(v, nn.Parameter) for v in j.values())
        assert all(k in j for k in t.keys())


def test_parameter_dict_get_matches_torch():
    t, j = both(pdict)
    assert j.get("w").shape == tuple(t.get("w").shape)
    assert j.get("nope") is None and t.get("nope") is None
    assert j.get("nope", 3) == t.get("nope", 3) == 3
    assert j["w"] is j.w


PARAMETER_DICT_ERRORS = {
    "missing_key": lambda z: pdict(z)["nope"],
    "pop_missing": lambda z: pdict(z).pop("nope"),
    "update_non_iterable": lambda z: pdict(z).update(3),
    "update_element_not_a_pair": lambda z: pdict(z).update([1, 2]),
    "update_element_of_three": lambda z: pdict(z).update([("a", z.tensor(1), 3)]),
    "or_non_iterable": lambda z: pdict(z) | 3,
    "popitem_of_empty": lambda z: z.nn.ParameterDict().popitem(),
    "call": lambda z: pdict(z)(1),
    "int_key": lambda z: z.nn.ParameterDict({1: z.nn.Parameter(z.tensor(2))}),
    "int_key_get": lambda z: pdict(z)[0],
}


@pytest.mark.parametrize("case", PARAMETER_DICT_ERRORS)
def test_parameter_dict_errors_match_torch(case):
    assert_same_error_in_zoos(PARAMETER_DICT_ERRORS[case])


def test_containers_are_pytrees_with_torch_names():
    t, j = both(lambda z: z.nn.ModuleDict({"seq": seq(z), "pl": plist(z), "pd": pdict(z)}))
    assert keystrs(j) == leaf_names(t)
    treedef = jax.tree_util.tree_structure(j)
    back = jax.tree_util.tree_unflatten(treedef, jax.tree_util.tree_leaves(j))
    assert layout(back) == layout(j)
    assert len(back["pl"]) == 2 and list(back["pd"].keys()) == list(t["pd"].keys())
    assert [p.shape for p in back["pl"]] == [(2, 3), (3,)]


@pytest.mark.parametrize("index, value", [(0, 5), (1, "x"), (2, 3.0), (1, None)])
def test_modulelist_insert_of_a_non_module_is_torchs_and_keeps_the_list(index, value):
    """torch's insert has no type check: the object is stored as given.  jnn raised
    half-way through renumbering and left the list cut short (``len == 1``)."""
    t = torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.Linear(2, 2)])
    j = nn.ModuleList([nn.ReLU(), nn.Linear(2, 2)])
    t.insert(index, value)
    j.insert(index, value)
    assert list(j._modules) == list(t._modules)
    for tv, jv in zip(t._modules.values(), j._modules.values()):
        assert type(jv).__name__ == type(tv).__name__ and (
            isinstance(tv, torch.nn.Module) or jv == tv)
