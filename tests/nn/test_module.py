"""``jnn.nn.Module`` against ``torch.nn.Module``: registration, attribute protocol,
traversal order and de-duplication, modes, ``apply``, ``repr``, errors and dtype moves.

Every expected value comes from running the same construction under torch (see
``_mirror.py``).
"""

from __future__ import annotations

import copy
import pickle
import re
from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import given

import jnn
import jnn.nn as nn
from tests.nn._mirror import (
    ARCH,
    FRAMEWORKS,
    assert_same_error_in_zoos,
    build_arch,
    error_of,
    nested,
    pair,
    torch_regex,
    zoo,
)


def both(build):
    return build(zoo("torch")), build(zoo("jnn"))


def names(items):
    return [name for name, _ in items]


def typed(items):
    return [(name, type(v).__name__) for name, v in items]


TRAVERSALS = {
    "named_parameters": lambda m: names(m.named_parameters()),
    "named_parameters_prefix": lambda m: names(m.named_parameters(prefix="model")),
    "named_parameters_no_recurse": lambda m: names(m.named_parameters(recurse=False)),
    "named_parameters_keep_dup": lambda m: names(m.named_parameters(remove_duplicate=False)),
    "parameters_shapes": lambda m: [tuple(p.shape) for p in m.parameters()],
    "parameters_no_recurse": lambda m: [tuple(p.shape) for p in m.parameters(recurse=False)],
    "named_buffers": lambda m: names(m.named_buffers()),
    "named_buffers_prefix": lambda m: names(m.named_buffers(prefix="model")),
    "named_buffers_no_recurse": lambda m: names(m.named_buffers(recurse=False)),
    "named_buffers_keep_dup": lambda m: names(m.named_buffers(remove_duplicate=False)),
    "buffers_shapes": lambda m: [tuple(b.shape) for b in m.buffers()],
    "named_children": lambda m: typed(m.named_children()),
    "children": lambda m: [type(c).__name__ for c in m.children()],
    "named_modules": lambda m: typed(m.named_modules()),
    "named_modules_prefix": lambda m: typed(m.named_modules(prefix="model")),
    "named_modules_keep_dup": lambda m: typed(m.named_modules(remove_duplicate=False)),
    "named_modules_memo": lambda m: typed(m.named_modules(memo={m.blocks[0], m.tied})),
    "modules": lambda m: [type(c).__name__ for c in m.modules()],
    "state_dict": lambda m: list(m.state_dict()),
    "state_dict_keep_vars_types": lambda m: [
        isinstance(v, type(m.alpha)) for v in m.state_dict(keep_vars=True).values()],
}


@pytest.mark.parametrize("traversal", TRAVERSALS)
def test_traversal_matches_torch(traversal):
    fn = TRAVERSALS[traversal]
    t, j = both(nested)
    assert fn(j) == fn(t)


def test_traversal_yields_the_registered_objects():
    j = nested(zoo("jnn"))
    params = dict(j.named_parameters())
    assert params["fc2.weight"] is j.extra.weight is j.fc2.weight
    assert params["blocks.0.weight"] is j.head.share.weight
    assert all(isinstance(p, nn.Parameter) for p in j.parameters())
    assert all(isinstance(b, jax.Array) for b in j.buffers())
    assert j.get_submodule("blocks.2") is j.blocks[0]
    assert dict(j.named_modules())["blocks.0"] is j.head.share


# -- random architectures (hypothesis) ---------------------------------------------------

@given(ARCH)
def test_random_architecture_matches_torch(spec):
    t = build_arch(zoo("torch"), ("seq", [spec, ("lin", 1, 1, True)]))
    j = build_arch(zoo("jnn"), ("seq", [spec, ("lin", 1, 1, True)]))
    assert list(j.state_dict()) == list(t.state_dict())
    assert names(j.named_parameters()) == names(t.named_parameters())
    assert (names(j.named_parameters(remove_duplicate=False))
            == names(t.named_parameters(remove_duplicate=False)))
    assert names(j.named_buffers()) == names(t.named_buffers())
    assert typed(j.named_modules()) == typed(t.named_modules())
    assert (typed(j.named_modules(remove_duplicate=False))
            == typed(t.named_modules(remove_duplicate=False)))
    assert repr(j) == repr(t)
    assert [tuple(p.shape) for p in j.parameters()] == [tuple(p.shape) for p in t.parameters()]


# -- registration and the attribute protocol ------------------------------------------------

def registries(m):
    return (list(m._parameters), list(m._buffers), sorted(m._non_persistent_buffers_set),
            list(m._modules), sorted(k for k in m.__dict__ if not k.startswith("_")))


REASSIGNMENTS = {
    # rebinding an existing name keeps its place (state_dict order) as in torch
    "param_replaced": lambda z, m: setattr(m, "weight", z.nn.Parameter(z.tensor(3, 2))),
    "param_to_none": lambda z, m: setattr(m, "bias", None),
    "param_none_then_back": lambda z, m: (setattr(m, "bias", None),
                                          setattr(m, "bias", z.nn.Parameter(z.tensor(3)))),
    "module_replaced": lambda z, m: setattr(m, "child", z.ReLU()),
    "module_to_none": lambda z, m: setattr(m, "child", None),
    "buffer_replaced": lambda z, m: setattr(m, "rm", z.tensor(3, fill=2.0)),
    "buffer_to_none": lambda z, m: setattr(m, "rm", None),
    "nonpersistent_buffer_replaced": lambda z, m: setattr(m, "np_buf", z.tensor(1)),
    "plain_to_param": lambda z, m: setattr(m, "plain", z.nn.Parameter(z.tensor(1))),
    "plain_to_module": lambda z, m: setattr(m, "plain", z.ReLU()),
    "buffer_to_param": lambda z, m: setattr(m, "rm", z.nn.Parameter(z.tensor(1))),
    "buffer_to_module": lambda z, m: setattr(m, "np_buf", z.ReLU()),
    "module_to_param": lambda z, m: setattr(m, "child", z.nn.Parameter(z.tensor(1))),
    "del_param": lambda z, m: delattr(m, "weight"),
    "del_buffer": lambda z, m: delattr(m, "np_buf"),
    "del_module": lambda z, m: delattr(m, "child"),
    "del_plain": lambda z, m: delattr(m, "plain"),
    "del_then_register_persistent": lambda z, m: (delattr(m, "np_buf"),
                                                  m.register_buffer("np_buf", z.tensor(1))),
    "register_persistent_over_nonpersistent": lambda z, m: m.register_buffer("np_buf",
                                                                             z.tensor(2)),
    "register_nonpersistent_over_persistent": lambda z, m: m.register_buffer(
        "rm", z.tensor(2), persistent=False),
    "nn_buffer": lambda z, m: setattr(m, "new_buf", z.nn.Buffer(z.tensor(2))),
    "nn_buffer_nonpersistent": lambda z, m: setattr(m, "new_buf",
                                                    z.nn.Buffer(z.tensor(2), persistent=False)),
    "nn_buffer_over_buffer": lambda z, m: setattr(m, "rm", z.nn.Buffer(z.tensor(2),
                                                                       persistent=False)),
    "register_module_none": lambda z, m: m.register_module("later", None),
    "register_parameter_as_buffer": lambda z, m: m.register_buffer(
        "pbuf", z.nn.Parameter(z.tensor(2))),
    "add_module_over_module": lambda z, m: m.add_module("child", z.Norm(1)),
}


def small(z):
    m = z.nn.Module()
    m.weight = z.nn.Parameter(z.tensor(3, 2))
    m.bias = z.nn.Parameter(z.tensor(3))
    m.register_buffer("rm", z.tensor(3))
    m.register_buffer("np_buf", z.tensor(3), persistent=False)
    m.child = z.MyLinear(2, 2)
    m.plain = 3
    m.tail = z.nn.Parameter(z.tensor(1))
    return m


@pytest.mark.parametrize("case", REASSIGNMENTS)
def test_reassignment_matches_torch(case):
    def run(z):
        m = small(z)
        REASSIGNMENTS[case](z, m)
        return m

    t, j = both(run)
    assert registries(j) == registries(t)
    assert list(j.state_dict()) == list(t.state_dict())
    assert names(j.named_parameters()) == names(t.named_parameters())
    assert names(j.named_buffers()) == names(t.named_buffers())
    assert typed(j.named_children()) == typed(t.named_children())
    assert repr(j) == repr(t)


def test_parameter_reads_raw_array_inside_forward_and_box_outside():
    seen = {}

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.ones(2, np.float32))
            self.register_buffer("b", np.ones(2, np.float32))
            self.inner = zoo("jnn").ReLU()

        def forward(self, x):
            seen["w"], seen["b"] = self.w, self.b
            seen["inner_w"] = self.__getattr__("w")
            return x

    m = Probe()
    m(jnp.ones(2))
    assert type(seen["w"]) is not nn.Parameter and isinstance(seen["w"], jax.Array)
    assert isinstance(seen["inner_w"], jax.Array)
    assert isinstance(m.w, nn.Parameter) and m.w.data is seen["w"]
    assert isinstance(m.b, jax.Array)
    assert m.inner is m._modules["inner"]


def test_same_parameter_assigned_again_is_a_no_op():
    m = small(zoo("jnn"))
    w = m.weight
    m.weight = w
    assert m.weight is w and list(m._parameters) == ["weight", "bias", "tail"]


def test_buffer_assignment_converts_and_copies():
    m = small(zoo("jnn"))
    src = np.arange(3, dtype=np.float32)
    m.rm = src
    src[0] = 100.0
    assert isinstance(m.rm, jax.Array)
    np.testing.assert_array_equal(m.rm, [0.0, 1.0, 2.0])
    assert "rm" in m.state_dict()


def test_register_returns_and_get_helpers():
    t, j = both(nested)
    for target in ["fc1.weight", "blocks.0.bias", "head.share.weight", "tied.dec.weight", "alpha"]:
        assert j.get_parameter(target) is dict(j.named_parameters(remove_duplicate=False))[
            target]
        assert j.get_parameter(target).shape == tuple(t.get_parameter(target).shape)
    for target in ["norm.running_mean", "blocks.3.scratch", "steps", "tmp"]:
        assert j.get_buffer(target).shape == tuple(t.get_buffer(target).shape)
    for target in ["", "blocks", "blocks.3", "head.first", "tied.dec"]:
        assert type(j.get_submodule(target)).__name__ == type(t.get_submodule(target)).__name__
    assert j.get_submodule("") is j


GETTER_ERRORS = {
    "get_submodule_missing": lambda m: m.get_submodule("blocks.9"),
    "get_submodule_missing_deep": lambda m: m.get_submodule("head.first.nope"),
    "get_submodule_not_module": lambda m: m.get_submodule("fc1.weight"),
    "get_submodule_plain_attr": lambda m: m.get_submodule("fc1.in_features"),
    "get_parameter_missing": lambda m: m.get_parameter("fc1.nope"),
    "get_parameter_is_buffer": lambda m: m.get_parameter("norm.running_mean"),
    "get_parameter_is_none": lambda m: m.get_parameter("beta"),
    "get_parameter_bad_path": lambda m: m.get_parameter("nope.weight"),
    "get_buffer_missing": lambda m: m.get_buffer("norm.nope"),
    "get_buffer_is_param": lambda m: m.get_buffer("norm.weight"),
    "get_buffer_bad_path": lambda m: m.get_buffer("fc1.weight.x"),
}


@pytest.mark.parametrize("case", GETTER_ERRORS)
def test_getter_errors_match_torch(case):
    assert_same_error_in_zoos(lambda z: GETTER_ERRORS[case](nested(z)))


def test_get_buffer_of_none_buffer_is_none():
    t, j = both(lambda z: z.Norm(2))
    assert t.get_buffer("num_batches_tracked") is None
    assert j.get_buffer("num_batches_tracked") is None


def _before_init(kind):
    def build(z):
        class Early(z.nn.Module):
            def __init__(self):
                if kind == "param":
                    self.w = z.nn.Parameter(z.tensor(1))
                elif kind == "module":
                    self.m = z.ReLU()
                else:
                    self.register_buffer("b", z.tensor(1))
                super().__init__()

        return Early()

    return build


def _pre_hook_returning(value):
    """A forward pre-hook whose result replaces the input: not a tensor for torch's linear."""
    def case(z):
        m = z.nn.Linear(2, 3)
        m.register_forward_pre_hook(lambda module, args: value)
        return m(z.tensor(1, 2))
    return case


REGISTRATION_ERRORS = {
    "param_name_not_str": lambda z: z.nn.Module().register_parameter(1, None),
    "param_name_dot": lambda z: z.nn.Module().register_parameter("a.b", None),
    "param_name_empty": lambda z: z.nn.Module().register_parameter("", None),
    "param_name_taken_by_attr": lambda z: small(z).register_parameter("plain", None),
    "param_name_taken_by_buffer": lambda z: small(z).register_parameter("rm", None),
    "param_name_taken_by_module": lambda z: small(z).register_parameter("child", None),
    "param_name_taken_by_method": lambda z: small(z).register_parameter("forward", None),
    "buffer_name_not_str": lambda z: z.nn.Module().register_buffer(1, None),
    "buffer_name_dot": lambda z: z.nn.Module().register_buffer("a.b", None),
    "buffer_name_empty": lambda z: z.nn.Module().register_buffer("", None),
    "buffer_not_array": lambda z: z.nn.Module().register_buffer("b", 3),
    "buffer_name_taken_by_param": lambda z: small(z).register_buffer("weight", None),
    "buffer_name_taken_by_attr": lambda z: small(z).register_buffer("plain", None),
    "module_not_module": lambda z: z.nn.Module().add_module("m", 3),
    "module_a_function": lambda z: z.nn.Module().add_module("m", len),
    "module_name_not_str": lambda z: z.nn.Module().add_module(1, None),
    "module_name_dot": lambda z: z.nn.Module().add_module("a.b", None),
    "module_name_empty": lambda z: z.nn.Module().add_module("", None),
    "module_name_taken": lambda z: small(z).add_module("weight", None),
    "register_module_alias": lambda z: small(z).register_module("plain", z.ReLU()),
    "assign_int_to_param": lambda z: setattr(small(z), "weight", 3),
    "assign_int_to_module": lambda z: setattr(small(z), "child", 3),
    "assign_int_to_buffer": lambda z: setattr(small(z), "rm", 3),
    "nn_buffer_over_plain_attr": lambda z: setattr(small(z), "plain", z.nn.Buffer(z.tensor(1))),
    "param_before_init": _before_init("param"),
    "module_before_init": _before_init("module"),
    "buffer_before_init": _before_init("buffer"),
    "getattr_missing": lambda z: small(z).nope,
    "delattr_missing": lambda z: delattr(small(z), "nope"),
    "forward_missing": lambda z: z.nn.Module()(z.tensor(1)),
    "init_positional": lambda z: z.nn.Module(3),
    "init_keyword": lambda z: z.nn.Module(size=3),
    "train_not_bool": lambda z: z.nn.Module().train(1),
    "train_none": lambda z: z.nn.Module().train(None),
    "requires_grad_not_bool": lambda z: small(z).requires_grad_("x"),
    "pre_hook_returns_a_number": _pre_hook_returning(3),
}


@pytest.mark.parametrize("case", REGISTRATION_ERRORS)
def test_registration_errors_match_torch(case):
    assert_same_error_in_zoos(REGISTRATION_ERRORS[case])


ARRAY_TYPE_ERRORS = {
    # torch names the offending value's type ('torch.FloatTensor'); jnn names its own
    "register_array_as_param": lambda z: z.nn.Module().register_parameter("w", z.tensor(1)),
    "assign_array_to_param": lambda z: setattr(small(z), "weight", z.tensor(1)),
    "assign_array_to_module": lambda z: setattr(small(z), "child", z.tensor(1)),
    "assign_module_to_param": lambda z: setattr(small(z), "weight", z.ReLU()),
    "assign_buffer_to_module": lambda z: setattr(small(z), "child", z.nn.Buffer(z.tensor(1))),
    "assign_buffer_to_param": lambda z: setattr(small(z), "bias", z.nn.Buffer(z.tensor(1))),
}


@pytest.mark.parametrize("case", ARRAY_TYPE_ERRORS)
def test_array_type_errors_match_torch_wording(case):
    expected = error_of(ARRAY_TYPE_ERRORS[case], zoo("torch"))
    with pytest.raises(type(expected), match=torch_regex(str(expected))):
        ARRAY_TYPE_ERRORS[case](zoo("jnn"))


def test_dir_lists_registered_names_like_torch():
    t, j = both(nested)
    t.plain_attribute = 1
    j.plain_attribute = 1
    registered = {*t._parameters, *t._buffers, *t._modules, "plain_attribute", "training"}
    assert registered <= set(dir(j))
    assert {n for n in dir(t) if n in registered} == {n for n in dir(j) if n in registered}
    seq_t, seq_j = both(lambda z: z.nn.Sequential(z.ReLU(), z.ReLU()))
    assert not any(n[0].isdigit() for n in dir(seq_j))
    assert not any(n[0].isdigit() for n in dir(seq_t))
    assert {"forward", "state_dict", "named_modules"} <= set(dir(j))


# -- modes, gradients, apply -----------------------------------------------------------------

def flags(m):
    return [(name, mod.training) for name, mod in m.named_modules(remove_duplicate=False)]


def test_train_eval_match_torch():
    t, j = both(nested)
    assert flags(j) == flags(t) and all(f for _, f in flags(j))
    assert t.eval() is t and j.eval() is j
    assert flags(j) == flags(t) and not any(f for _, f in flags(j))
    t.blocks.train()
    j.blocks.train()
    assert flags(j) == flags(t)
    assert j.train(False) is j and flags(j) == flags(t.train(False))
    assert j.train() is j and flags(j) == flags(t.train())


def test_train_calls_overridden_train_and_setattr_of_children_as_torch():
    """train() sets the flag through a subclass's own ``__setattr__`` and calls each
    distinct child's (possibly overridden) ``train`` once: a frozen BatchNorm stays in
    eval mode, as torch's fine-tuning recipes rely on."""
    def make(lib):
        seen = []

        class FrozenBN(lib.nn.BatchNorm1d):
            def train(self, mode=True):
                return super().train(False)

        class Logged(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.bn = FrozenBN(3)
                shared = lib.nn.ReLU()
                self.a, self.b = shared, shared

            def __setattr__(self, name, value):
                if name == "training":
                    seen.append(value)
                super().__setattr__(name, value)

        return Logged(), seen

    (t, t_seen), (j, j_seen) = make(torch), make(jnn)
    for mode in (False, True, True, False):
        t.train(mode)
        j.train(mode)
        assert flags(j) == flags(t)
    assert j_seen == t_seen and not j.bn.training



def test_train_of_a_plain_tree_keeps_torchs_flags_after_its_structure_changes():
    """train()/eval() of a tree of plain modules sets the flags directly (one cached list
    per tree): a child replaced, added or given its own train() afterwards is honoured,
    and copies and pickles carry no list of the original's modules."""
    def frozen(lib):
        class FrozenBN(lib.nn.BatchNorm1d):
            def train(self, mode=True):
                return super().train(False)
        return FrozenBN(2)

    t, j = (lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Sequential(lib.nn.ReLU()))
            for lib in (torch, jnn))
    for m in (t, j):
        m.eval(), m.train(), m.eval()  # the list is cached
    assert flags(j) == flags(t)
    for lib, m in ((torch, t), (jnn, j)):
        m[1].append(frozen(lib))  # a new grandchild with its own train()
        m.add_module("extra", lib.nn.Tanh())  # added while in eval mode: training=True
    assert flags(j) == flags(t)
    for mode in (True, False, True):
        t.train(mode)
        j.train(mode)
        assert flags(j) == flags(t) and not j[1][1].training
    state = j.__getstate__()  # what pickle and deepcopy take
    assert "_jnn_train" not in state
    twin = copy.deepcopy(j)
    twin.eval()
    assert j.training and not twin.training and flags(j) == flags(t)


def test_train_of_a_plain_tree_after_flips_elsewhere_matches_torch():
    """train()/eval() of a plain tree skips reading the flags while none has flipped since
    its last call: every other way a flag flips (a child's train(), an attribute write, a
    second tree sharing a module) must still be seen, as torch's flags are."""
    def make(lib):
        shared = lib.nn.ReLU()
        a = lib.nn.Sequential(lib.nn.Linear(2, 2), shared, lib.nn.Sequential(lib.nn.Tanh()))
        b = lib.nn.Sequential(shared, lib.nn.Dropout(0.5))
        return a, b

    (ta, tb), (ja, jb) = make(torch), make(jnn)
    moves = [
        lambda a, b: a.train(), lambda a, b: a.eval(), lambda a, b: a.eval(),
        lambda a, b: a[2].train(), lambda a, b: a.eval(),
        lambda a, b: setattr(a[0], "training", True), lambda a, b: a.eval(),
        lambda a, b: a.train(), lambda a, b: b.eval(), lambda a, b: a.train(),
        lambda a, b: a[2][0].eval(), lambda a, b: a.train(), lambda a, b: a.train(),
        lambda a, b: b.train(), lambda a, b: a.eval(), lambda a, b: b.train(),
        lambda a, b: a.eval(),
    ]
    for i, move in enumerate(moves):
        for a, b in ((ta, tb), (ja, jb)):
            move(a, b)
        assert flags(ja) == flags(ta) and flags(jb) == flags(tb), i


def test_requires_grad_matches_torch():
    t, j = both(nested)
    assert j.requires_grad_(False) is j
    t.requires_grad_(False)
    t.tied.requires_grad_()
    j.tied.requires_grad_()
    assert ([p.requires_grad for p in j.parameters()]
            == [p.requires_grad for p in t.parameters()])
    assert any(p.requires_grad for p in j.parameters())
    assert not all(p.requires_grad for p in j.parameters())


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad_matches_torch(set_to_none):
    t, j = pair(lambda z: z.MLP())
    for p in t.parameters():
        p.grad = torch.ones_like(p)
    for name, p in j.named_parameters():
        if name != "fc2.bias":  # one parameter without a gradient
            p.grad = jnp.ones(p.shape)
    t.fc2.bias.grad = None
    t.zero_grad(set_to_none=set_to_none)
    j.zero_grad(set_to_none=set_to_none)
    for (name, tp), jp in zip(t.named_parameters(), j.parameters()):
        if tp.grad is None:
            assert jp.grad is None, name
        else:
            np.testing.assert_array_equal(np.asarray(jp.grad), tp.grad.numpy())
            assert jp.grad.shape == tuple(tp.grad.shape)


def test_zero_grad_default_sets_none():
    _, j = pair(lambda z: z.MyLinear(2, 3))
    j.weight.grad = jnp.ones((3, 2))
    j.zero_grad()
    assert j.weight.grad is None


def test_apply_order_and_return_match_torch():
    t, j = both(nested)
    seen_t, seen_j = [], []
    assert t.apply(lambda m: seen_t.append(type(m).__name__)) is t
    assert j.apply(lambda m: seen_j.append(type(m).__name__)) is j
    assert seen_j == seen_t


def test_apply_can_modify_parameters():
    j = nested(zoo("jnn"))

    def fill(m):
        if isinstance(m, zoo("jnn").MyLinear):
            m.weight.data = jnp.full(m.weight.shape, 0.5)

    j.apply(fill)
    np.testing.assert_array_equal(np.asarray(j.tied.dec.weight), 0.5)


# -- repr ----------------------------------------------------------------------------------

REPRS = {
    "nested": nested,
    "mlp": lambda z: z.MLP(),
    "empty_module": lambda z: z.nn.Module(),
    "one_line_extra": lambda z: z.Scale(2.0),
    "multi_line_extra": lambda z: z.nn.Sequential(
        z.nn.ParameterList([z.nn.Parameter(z.tensor(2, 3)), z.nn.Parameter(z.tensor(1))])),
    "extra_and_children": lambda z: _with_child(z),
    "module_list_groups": lambda z: z.nn.ModuleList(
        [z.MyLinear(2, 2) for _ in range(3)] + [z.ReLU(), z.ReLU(), z.MyLinear(2, 2)]
        + [z.Scale(1.0), z.Scale(2.0), z.Scale(2.0)]),
    "module_list_nested_groups": lambda z: z.nn.Sequential(z.nn.ModuleList(
        [z.nn.Sequential(z.MyLinear(2, 2), z.ReLU()) for _ in range(4)])),
    "module_list_empty": lambda z: z.nn.ModuleList(),
    "module_list_single": lambda z: z.nn.ModuleList([z.Norm(1)]),
    "sequential_empty": lambda z: z.nn.Sequential(),
    "sequential_ordered": lambda z: z.nn.Sequential(OrderedDict(
        conv=z.MyLinear(1, 2), act=z.ReLU(), out=z.nn.Sequential(z.Scale(3.0)))),
    "module_dict": lambda z: z.nn.ModuleDict({"b": z.ReLU(), "a": z.MyLinear(1, 1, False)}),
    "parameter_list": lambda z: z.nn.ParameterList(
        [z.nn.Parameter(z.tensor(2, 3)), z.nn.Parameter(z.tensor(4))]),
    "parameter_list_empty": lambda z: z.nn.ParameterList(),
    "parameter_dict": lambda z: z.nn.ParameterDict(
        {"w": z.nn.Parameter(z.tensor(2, 3)), "b": z.nn.Parameter(z.tensor(4))}),
    "parameter_dict_ordered": lambda z: z.nn.ParameterDict(
        OrderedDict(w=z.nn.Parameter(z.tensor(2, 3)), b=z.nn.Parameter(z.tensor(1, 1, 2)))),
    "none_child": lambda z: _none_child(z),
}


def _with_child(z):
    s = z.Scale(0.5)
    s.inner = z.MyLinear(1, 2)
    return s


def _none_child(z):
    m = z.nn.Sequential(z.ReLU())
    m.add_module("gone", None)
    return m


@pytest.mark.parametrize("case", REPRS)
def test_repr_matches_torch(case):
    t, j = both(REPRS[case])
    assert repr(j) == repr(t)
    assert str(j) == str(t)


def builtin_layers(nn_):
    # one Linear shape (each new shape is an XLA compile of jnn's random init)
    return nn_.Sequential(nn_.Linear(4, 8), nn_.ReLU(),
                          nn_.ModuleList([nn_.Linear(4, 8) for _ in range(3)]),
                          nn_.Dropout(0.1), nn_.Flatten(), nn_.Identity())


def test_builtin_layers_structure_matches_torch():
    t, j = builtin_layers(torch.nn), builtin_layers(nn)
    assert repr(j) == repr(t)
    assert list(j.state_dict()) == list(t.state_dict())
    assert typed(j.named_modules()) == typed(t.named_modules())
    assert [tuple(p.shape) for p in j.parameters()] == [tuple(p.shape) for p in t.parameters()]


def test_repr_of_unusual_parameter_dtypes_matches_torch():
    def build(z):
        if z.nn is torch.nn:
            data = [torch.zeros(2, dtype=torch.float16), torch.zeros(1, dtype=torch.bfloat16)]
        else:
            data = [jnp.zeros(2, jnp.float16), jnp.zeros(1, jnp.bfloat16)]
        return z.nn.ModuleList([z.nn.ParameterList([z.nn.Parameter(d) for d in data]),
                                z.nn.ParameterDict({"h": z.nn.Parameter(data[0]),
                                                    "b": z.nn.Parameter(data[1])})])

    t, j = both(build)
    assert repr(j) == repr(t)


# -- dtype and device moves ---------------------------------------------------------------

def typed_model(z):
    m = z.MLP()
    if z.nn is torch.nn:
        m.register_buffer("count", torch.zeros(2, dtype=torch.int32))
    else:
        m.register_buffer("count", jnp.zeros(2, jnp.int32))
    return m


def dtypes(m):
    return [str(v.dtype).removeprefix("torch.") for v in [*m.parameters(), *m.buffers()]]


MOVES = {
    "half": (lambda m: m.half(), lambda m: m.half()),
    "bfloat16": (lambda m: m.bfloat16(), lambda m: m.bfloat16()),
    "float_after_half": (lambda m: m.half().float(), lambda m: m.half().float()),
    "to_dtype": (lambda m: m.to(torch.float16), lambda m: m.to(jnp.float16)),
    "to_torch_dtype": (lambda m: m.to(torch.bfloat16), lambda m: m.to(torch.bfloat16)),
    "to_dtype_kw": (lambda m: m.to(dtype=torch.float16), lambda m: m.to(dtype=np.float16)),
    "to_device_and_dtype": (lambda m: m.to("cpu", torch.float16),
                            lambda m: m.to("cpu", jnp.float16)),
    "to_array": (lambda m: m.to(torch.zeros(1, dtype=torch.float16)),
                 lambda m: m.to(jnp.zeros(1, jnp.float16))),
    "type": (lambda m: m.type(torch.float16), lambda m: m.type(jnp.float16)),
    "cpu": (lambda m: m.cpu(), lambda m: m.cpu()),
    "to_cpu": (lambda m: m.to("cpu"), lambda m: m.to("cpu")),
    "to_torch_device": (lambda m: m.to(torch.device("cpu")),
                        lambda m: m.to(torch.device("cpu"))),
    "to_torch_device_and_dtype": (lambda m: m.to(torch.device("cpu"), torch.float16),
                                  lambda m: m.to(torch.device("cpu"), torch.float16)),
    "to_non_blocking": (lambda m: m.to(torch.float16, non_blocking=True),
                        lambda m: m.to(jnp.float16, non_blocking=True)),
    "type_int_when_frozen": (lambda m: m.requires_grad_(False).type(torch.int32),
                             lambda m: m.requires_grad_(False).type(jnp.int32)),
}


@pytest.mark.parametrize("case", MOVES)
def test_moves_match_torch(case):
    t, j = both(typed_model)
    t.fc1.weight.grad = torch.ones_like(t.fc1.weight)
    j.fc1.weight.grad = jnp.ones(j.fc1.weight.shape)
    params_before = list(j.parameters())
    move_t, move_j = MOVES[case]
    assert move_t(t) is t
    assert move_j(j) is j
    assert dtypes(j) == dtypes(t)
    assert str(j.fc1.weight.grad.dtype) == str(t.fc1.weight.grad.dtype).removeprefix("torch.")
    # torch keeps the Parameter objects (only .data changes): optimizers keep tracking them
    assert all(a is b for a, b in zip(j.parameters(), params_before))
    assert all(next(iter(v.devices())).platform == "cpu" for v in j.buffers())
    assert list(j.state_dict()) == list(t.state_dict())


MOVE_ERRORS = {
    "to_integer_dtype": (lambda m: m.to(torch.int32), lambda m: m.to(jnp.int32)),
    "to_torch_integer_dtype": (lambda m: m.to(torch.int64), lambda m: m.to(torch.int64)),
    "to_bool": (lambda m: m.to(torch.bool), lambda m: m.to(jnp.bool_)),
    "type_integer_with_trainable_parameters": (lambda m: m.type(torch.int32),
                                               lambda m: m.type(jnp.int32)),
}


@pytest.mark.parametrize("case", MOVE_ERRORS)
def test_move_errors_match_torch(case):
    t, j = both(typed_model)
    move_t, move_j = MOVE_ERRORS[case]
    expected = error_of(move_t, t)
    with pytest.raises(type(expected), match=f"^{re.escape(str(expected))}$"):
        move_j(j)
    assert dtypes(j)[0] == "float32"


def test_moves_keep_values():
    t, j = pair(lambda z: z.MLP())
    j.half()
    t.half()
    for (name, tv), jv in zip(t.state_dict().items(), j.state_dict().values()):
        np.testing.assert_array_equal(np.asarray(jv), tv.numpy(), err_msg=name)


def test_double_needs_x64():
    j = typed_model(zoo("jnn"))
    with pytest.raises(RuntimeError, match="64-bit"):
        j.double()
    with pytest.raises(RuntimeError, match="64-bit"):
        j.to(torch.float64)
    assert dtypes(j)[0] == "float32"


def test_complex64_needs_no_x64_and_matches_torch():
    """complex64 is two float32s: ``.to(complex64)``/``.type`` work without JAX's 64-bit
    mode (jnn refused them as 64-bit); complex128 needs it, as float64 does."""
    for move in (lambda m, lib: m.to(lib.complex64), lambda m, lib: m.to(dtype=lib.complex64),
                 lambda m, lib: m.type(lib.complex64)):
        t, j = torch.nn.Linear(2, 3), nn.Linear(2, 3)
        j.load_state_dict({k: jnp.asarray(v.numpy()) for k, v in t.state_dict().items()})
        move(t, torch), move(j, jnn)
        for (name, tv), jv in zip(t.state_dict().items(), j.state_dict().values()):
            assert jv.dtype == jnp.complex64, name
            np.testing.assert_array_equal(np.asarray(jv), tv.numpy(), err_msg=name)
    with pytest.raises(RuntimeError, match="64-bit"):
        nn.Linear(2, 3).to(jnn.complex128)


def test_double_with_x64_matches_torch():
    t = typed_model(zoo("torch")).double()
    with jax.enable_x64(True):
        j = typed_model(zoo("jnn")).double()
        assert dtypes(j) == dtypes(t)


def test_cuda_without_gpu_is_a_clear_error():
    j = typed_model(zoo("jnn"))
    if any(d.platform == "gpu" for d in jax.devices()):
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match=re.escape("no JAX device of kind 'gpu'")):
        j.cuda()
    with pytest.raises(RuntimeError, match="gpu"):
        j.to("cuda:0")
    assert all(next(iter(p.data.devices())).platform == "cpu" for p in j.parameters())


def test_to_rejects_unknown_keyword():
    with pytest.raises(TypeError, match="to()"):
        zoo("jnn").ReLU().to(colour="red")


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_module_is_hashable_by_identity(framework):
    z = zoo(framework)
    a, b = z.ReLU(), z.ReLU()
    assert a != b and a == a and len({a, b, a}) == 2


# -- copies ---------------------------------------------------------------------------------

class Picklable(nn.Module):
    """A module importable by name (pickle needs that; the twin classes are local)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Sequential(nn.ModuleList())
        self.w = nn.Parameter(np.ones((2, 2), np.float32))
        self.v = self.w
        self.register_buffer("b", np.zeros(2, np.float32), persistent=False)
        self.scale = 2.0


def test_deepcopy_matches_torch():
    t, j = pair(nested)
    tc, jc = copy.deepcopy(t), copy.deepcopy(j)
    assert list(jc.state_dict()) == list(tc.state_dict())
    assert repr(jc) == repr(tc)
    # ties and shared submodules survive the copy, and the copy is independent
    assert jc.extra.weight is jc.fc2.weight and jc.fc2.weight is not j.fc2.weight
    assert jc.blocks[0] is jc.head.share
    jc.fc2.weight.data = jnp.zeros((3, 8))
    np.testing.assert_array_equal(np.asarray(j.fc2.weight), tc.fc2.weight.detach().numpy())


def test_pickle_round_trip():
    m = Picklable()
    m.w.grad = jnp.ones((2, 2))
    back = pickle.loads(pickle.dumps(m))
    assert back.v is back.w and back.scale == 2.0
    assert list(back.state_dict()) == list(m.state_dict()) == ["w", "v"]
    assert back._non_persistent_buffers_set == {"b"}
    np.testing.assert_array_equal(np.asarray(back.w), np.asarray(m.w))
    assert jax.tree_util.tree_structure(back) == jax.tree_util.tree_structure(m)


def test_named_scopes_follow_the_attribute_path():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Linear(4, 4)

        def forward(self, x):
            return self.conv1(x)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer1 = nn.Sequential(Block(), Block())

        def forward(self, x):
            return self.layer1(x)

    model = Net()
    text = jax.jit(lambda m, x: m(x)).lower(model, jnp.ones((2, 4))).as_text(debug_info=True)
    scopes = set(re.findall(r"Net/[\w/]+/dot_general", text))
    assert scopes == {"Net/layer1/0/conv1/dot_general", "Net/layer1/1/conv1/dot_general"}
    eager = jax.jit(lambda x: model(x)).lower(jnp.ones((2, 4))).as_text(debug_info=True)
    assert "Net/layer1/1/conv1/dot_general" in eager


_SET_SUBMODULE_CASES = [("1.0", "Tanh"), ("0", "Identity"), ("", "ReLU"), ("1.0", None),
                        ("5", "ReLU", True), ("1.5", "ReLU"), ("2.x", "ReLU")]


def test_set_submodule_matches_torch():
    def run(lib):
        model = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.Sequential(lib.nn.ReLU()))
        out = []
        for target, cls, *strict in _SET_SUBMODULE_CASES:
            module = 3 if cls is None else getattr(lib.nn, cls)()
            try:
                model.set_submodule(target, module, *strict)
                out.append("set")
            except (ValueError, AttributeError) as error:
                out.append((type(error), str(error)))
        return out, [type(m).__name__ for m in model.modules()]

    assert run(jnn) == run(torch)


@pytest.mark.parametrize("args", [("cpu", "float32", True, 5), ("cpu", True, False),
                                  ("float32", True, True, True), ("bogus",)])
def test_to_with_bad_arguments_raises_as_torch(args):
    def convert(lib):
        return tuple(getattr(lib, a) if a == "float32" else a for a in args)

    with pytest.raises((TypeError, RuntimeError)) as expected:
        torch.nn.Linear(2, 2).to(*convert(torch))
    first = str(expected.value).split(" - got")[0].splitlines()[0]  # (types are torch's)
    with pytest.raises(type(expected.value), match=re.escape(first)):
        nn.Linear(2, 2).to(*convert(jnp))


# torch's checks on a device argument, given as (lib, module) -> call: lib is torch or jnn
BAD_DEVICES = {
    "to_negative_index": lambda lib, m: m.to(-1),
    "to_negative_index_keyword": lambda lib, m: m.to(device=-1),
    "to_negative_index_and_dtype": lambda lib, m: m.to(-2, lib.float16),
    "to_negative_index_in_string": lambda lib, m: m.to("cuda:-1"),
    "to_negative_cpu_index": lambda lib, m: m.to("cpu:-1"),
    "to_torch_device_negative_index": lambda lib, m: m.to(lib.device("cpu", -1)),
    "to_unknown_type": lambda lib, m: m.to("xyz"),
    "to_unknown_type_with_index": lambda lib, m: m.to("xyz:1"),
    "to_unknown_type_keyword": lambda lib, m: m.to(device="xyz"),
    "to_empty_string": lambda lib, m: m.to(""),
    "to_index_not_a_number": lambda lib, m: m.to("cuda:x"),
    "to_index_not_a_number_and_dtype": lambda lib, m: m.to("cpu:x", lib.float16),
    "to_two_indices": lambda lib, m: m.to(device="cuda:1:2"),
    "to_index_with_a_space": lambda lib, m: m.to("cpu: 0"),
    "to_index_with_a_leading_zero": lambda lib, m: m.to("cpu:01"),
    "to_index_with_a_sign": lambda lib, m: m.to("cpu:+1"),
    "to_no_type": lambda lib, m: m.to(":0"),
    "to_device_bool_keyword": lambda lib, m: m.to(device=True),
    "to_device_float_keyword": lambda lib, m: m.to(device=1.5),
    "to_device_list_keyword": lambda lib, m: m.to(device=[1]),
    "to_dtype_name_as_device": lambda lib, m: m.to(device="float32"),
    "cuda_text": lambda lib, m: m.cuda("x"),
    "cuda_empty_string": lambda lib, m: m.cuda(""),
    "cuda_negative_index": lambda lib, m: m.cuda(-1),
    "cuda_negative_index_keyword": lambda lib, m: m.cuda(device=-1),
    "cuda_negative_index_in_string": lambda lib, m: m.cuda("cuda:-1"),
    "cuda_two_indices": lambda lib, m: m.cuda("cuda:1:2"),
    "cuda_cpu": lambda lib, m: m.cuda("cpu"),
    "cuda_cpu_device": lambda lib, m: m.cuda(lib.device("cpu")),
    "cuda_meta_device": lambda lib, m: m.cuda(lib.device("meta")),
    "cuda_float": lambda lib, m: m.cuda(1.5),
    "cuda_float_keyword": lambda lib, m: m.cuda(device=1.5),
    "cuda_bool": lambda lib, m: m.cuda(True),
}
# an index is the accelerator's: without one torch refuses it (jnn on JAX's CPU backend too)
BAD_DEVICES_WITHOUT_ACCELERATOR = {
    "to_index": lambda lib, m: m.to(0),
    "to_index_keyword": lambda lib, m: m.to(device=1),
    "cuda_index": lambda lib, m: m.cuda(0),
}


def _moved_state(m):
    return [(name, str(v.dtype).removeprefix("torch."), np.asarray(v).tolist())
            for name, v in m.state_dict().items()]


@pytest.mark.parametrize("case", [*BAD_DEVICES, *BAD_DEVICES_WITHOUT_ACCELERATOR])
def test_bad_device_arguments_raise_as_torch(case):
    call = {**BAD_DEVICES, **BAD_DEVICES_WITHOUT_ACCELERATOR}[case]
    if case in BAD_DEVICES_WITHOUT_ACCELERATOR and jax.default_backend() != "cpu":
        pytest.skip("an accelerator is present")
    t, j = both(typed_model)
    expected = error_of(call, torch, t)
    words = str(expected).split(" - got")[0]  # (the signatures after it are torch's)
    before, params = _moved_state(j), list(j.parameters())
    with pytest.raises(type(expected), match=f"^{re.escape(words)}"):
        call(jnn, j)
    assert _moved_state(j) == before  # a refused move changes nothing
    assert all(a is b for a, b in zip(j.parameters(), params))


def test_cuda_of_a_module_without_state_checks_nothing_as_torch():
    """torch's Module.cuda moves tensor by tensor: with none, its argument is never read."""
    for device in ("x", -1, "cpu", None):
        assert torch.nn.ReLU().cuda(device) is not None
        relu = nn.ReLU()
        assert relu.cuda(device) is relu


TO_MISUSE = {  # (torch's call, jnn's call): same type, same words up to torch's type names
    "unknown_keyword": (lambda m: m.to(foo=1), lambda m: m.to(foo=1)),
    "unknown_keywords_after_a_device": (lambda m: m.to("cpu", foo=1, bar=2),
                                        lambda m: m.to("cpu", foo=1, bar=2)),
    "five_positionals": (lambda m: m.to("cpu", torch.float32, False, False, 1),
                         lambda m: m.to("cpu", jnp.float32, False, False, 1)),
    "int64_without_x64": (lambda m: m.to(torch.int64), lambda m: m.to(jnp.int64)),
    "type_unknown_name": (lambda m: m.type("nonsense"), lambda m: m.type("nonsense")),
    "type_not_a_dtype": (lambda m: m.type(3), lambda m: m.type(3)),
    "type_int64_with_trainable_parameters": (lambda m: m.type(torch.int64),
                                             lambda m: m.type(jnp.int64)),
}


@pytest.mark.parametrize("case", TO_MISUSE)
def test_to_and_type_misuse_raise_as_torch(case):
    """torch's checks come first: an integer dtype is refused before jnn's 64-bit note."""
    torch_call, jnn_call = TO_MISUSE[case]
    expected = error_of(torch_call, torch.nn.Linear(2, 2))
    words = re.split(r"torch\.int|, but expected", str(expected))[0]  # (types are torch's)
    with pytest.raises(type(expected), match=f"^{re.escape(words)}"):
        jnn_call(nn.Linear(2, 2))


def test_type_takes_torchs_tensor_type_names():
    for name in ("torch.HalfTensor", "torch.FloatTensor"):
        t, j = torch.nn.Linear(2, 2).type(name), nn.Linear(2, 2).type(name)
        assert str(j.weight.dtype) == str(t.weight.dtype).removeprefix("torch.")


def test_state_dict_prefix_that_is_not_a_string_is_torchs_type_error():
    with pytest.raises(TypeError) as theirs:
        torch.nn.Linear(2, 2).state_dict(prefix=None)
    with pytest.raises(TypeError, match=f"^{re.escape(str(theirs.value))}"):
        nn.Linear(2, 2).state_dict(prefix=None)


def test_assigning_an_integer_checkpoint_to_a_trainable_parameter_is_torchs_error():
    from tests.nn._same_error import assert_same_error

    def load(lib, model):
        return lambda: model.load_state_dict(
            {"weight": lib.zeros((2, 2)), "bias": lib.zeros(2, dtype=lib.int32)}, assign=True)

    j = nn.Linear(2, 2)
    assert_same_error(load(torch, torch.nn.Linear(2, 2)), load(jnp, j))
    assert j.bias.dtype == jnp.float32  # and a failed load changes nothing


def test_a_module_class_given_for_an_instance_is_named_as_torch_names_it():
    """torch.typename of a class: its qualified name (torch's own module path, jnn's here)."""
    with pytest.raises(TypeError, match=r"^torch\.nn\.modules\.activation\.ReLU is not a Module"):
        torch.nn.Sequential(torch.nn.ReLU)
    with pytest.raises(TypeError, match=r"^jnn\.nn\.modules\.activation\.ReLU is not a Module "
                                        r"subclass$"):
        nn.Sequential(nn.ReLU)


# -- the class-level fields of jnn's own layers (module._Field) ----------------------------

def _layers(lib):
    return lib.nn.Linear(3, 2), lib.nn.BatchNorm1d(2)


def test_registered_names_of_builtin_layers_read_as_torchs():
    """``lin.weight`` of jnn's own layers is answered by a class-level field, not
    ``__getattr__``: what it answers (the Parameter, the buffer, a plain attribute set
    after ``del``, torch's AttributeError) and what the class and ``dir()`` show match
    torch's."""
    (tl, _), (jl, jbn) = _layers(torch), _layers(jnn)
    jl.load_state_dict({k: jnp.asarray(v.detach().numpy()) for k, v in tl.state_dict().items()})
    assert isinstance(jl.weight, nn.Parameter) and jl.weight is jl._parameters["weight"]
    assert jbn.running_mean is jbn._buffers["running_mean"]
    for layer in (tl, jl):
        assert not hasattr(type(layer), "weight")
        assert {"weight", "bias"} <= set(dir(layer))
        del layer.weight
        assert not hasattr(layer, "weight") and "weight" not in dir(layer)
    for fn in (lambda m: m.weight, lambda m: type(m).weight, lambda m: delattr(m, "weight")):
        theirs, ours = error_of(fn, tl), error_of(fn, jl)
        assert type(ours) is type(theirs) and str(ours) == str(theirs)
    # a plain attribute of that name (weight norm's recomputed weight), then a parameter
    tl.weight, jl.weight = torch.ones(2, 3), jnp.ones((2, 3))
    assert jl.weight.shape == (2, 3) and "weight" in vars(jl) and "weight" not in jl._parameters
    np.testing.assert_allclose(np.asarray(jl(jnp.ones((1, 3)))),
                               tl(torch.ones(1, 3)).detach().numpy(), rtol=1e-5, atol=1e-6)
    del tl.weight, jl.weight
    tl.weight = torch.nn.Parameter(torch.zeros(2, 3))
    jl.weight = nn.Parameter(jnp.zeros((2, 3)))
    assert "weight" not in vars(jl) and jl.weight is jl._parameters["weight"]
    assert list(jl.state_dict()) == list(tl.state_dict())
    jl._parameters["bias"] = nn.Parameter(jnp.full((2,), 3.0))  # old code writes the dict
    np.testing.assert_array_equal(np.asarray(jl.bias), 3.0)
    jbn.running_mean = jnp.ones(2)
    np.testing.assert_array_equal(np.asarray(jbn.running_mean), 1.0)


def test_fields_leave_subclasses_their_own_lookup():
    """A subclass's own ``__getattr__`` still sees a registered name, and a name a
    subclass registers reads the same on plain layers."""
    seen = []

    class Logged(nn.Linear):
        def __getattr__(self, name):
            seen.append(name)
            return super().__getattr__(name)

    class Scaled(nn.Linear):
        def __init__(self):
            super().__init__(3, 2)
            self.scale = nn.Parameter(jnp.ones(()))

    def early(lib):
        class Early(lib.nn.Linear):
            def __init__(self):
                self.weight  # noqa: B018 - before Module.__init__ ran
        return Early

    theirs, ours = error_of(early(torch)), error_of(early(jnn))
    assert type(ours) is type(theirs) and str(ours) == str(theirs)
    logged = Logged(3, 2)
    seen.clear()
    assert logged.weight is logged._parameters["weight"] and seen == ["weight"]
    assert Scaled().scale.shape == ()
    plain = nn.Linear(3, 2)
    theirs, ours = error_of(lambda: torch.nn.Linear(3, 2).scale), error_of(lambda: plain.scale)
    assert type(ours) is type(theirs) and str(ours) == str(theirs)


def test_a_field_inside_forward_reads_the_array_and_logs_the_read():
    """In a forward the field answers as ``__getattr__`` does: the array, a read that
    autograd sees (the gradient reaches the weight)."""
    (tl, _), (jl, _) = _layers(torch), _layers(jnn)
    jl.load_state_dict({k: jnp.asarray(v.detach().numpy()) for k, v in tl.state_dict().items()})
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    (tl(torch.from_numpy(x)) ** 2).sum().backward()
    jnn.autograd.backward(lambda: (jl(jnp.asarray(x)) ** 2).sum())
    for name in ("weight", "bias"):
        np.testing.assert_allclose(np.asarray(getattr(jl, name).grad),
                                   getattr(tl, name).grad.numpy(), rtol=1e-5, atol=1e-6)
