"""The seed documents' programs (/work/shared/seed-documents), run in jnn and in torch.

Gradients are compared where they are the program's subject ((a)-(c)); elsewhere outputs
only, since every layer's gradients are in tests/nn/test_layers.py and an eager backward
pass costs an XLA compile per primitive per new shape.

Each program is written twice, line for line: the torch original (in class ``T``, under
the same class names so that ``repr`` matches) and its jnn port.  Parts that use layers
jnn does not have yet (Conv2d, BatchNorm2d, MaxPool2d, LazyLinear) use Linear/ReLU in
their place, or are left out; LazyLinear(n) becomes Linear(in, n).
"""

import math
from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
import jnn.nn as nn
import jnn.nn.functional as F
from jnn.nn import init
from tests.oracle import check_layer, check_modules, const, make_inputs, uniform

tnn, tF = torch.nn, torch.nn.functional


class T:
    """The torch originals, under the seed documents' class names."""

    class MLP(tnn.Module):  # 001: d2l 6.1.1
        def __init__(self):
            super().__init__()
            self.hidden = tnn.Linear(20, 256)
            self.out = tnn.Linear(256, 10)

        def forward(self, X):
            return self.out(tF.relu(self.hidden(X)))

    class MyModelWithParam(tnn.Module):  # 000: section 10
        def __init__(self):
            super().__init__()
            self.my_param = tnn.Parameter(torch.randn(10, 10))

        def forward(self, x):
            return x @ self.my_param

    class Linear(tnn.Module):  # 003: a fully connected layer from two Parameters
        def __init__(self, in_features, out_features):
            super().__init__()
            self.w = tnn.Parameter(torch.randn(in_features, out_features))
            self.b = tnn.Parameter(torch.randn(out_features))

        def forward(self, x):
            x = x.mm(self.w)
            return x + self.b.expand_as(x)

    class Perceptron(tnn.Module):  # 003
        def __init__(self, in_features, hidden_features, out_features):
            tnn.Module.__init__(self)
            self.layer1 = T.Linear(in_features, hidden_features)
            self.layer2 = T.Linear(hidden_features, out_features)

        def forward(self, x):
            x = self.layer1(x)
            x = torch.sigmoid(x)
            return self.layer2(x)

    class MyModel(tnn.Module):  # 000: section 1
        def __init__(self):
            super().__init__()
            self.linear = tnn.Linear(10, 1)

        def forward(self, x):
            return self.linear(x)

    class MyLinear(tnn.Module):  # 003: functional linear with hand-made Parameters
        def __init__(self):
            super().__init__()
            self.weight = tnn.Parameter(torch.zeros(4, 3))
            self.bias = tnn.Parameter(torch.zeros(4))

        def forward(self, x):
            return tF.linear(x, self.weight, self.bias)

    class Net(tnn.Module):  # 003: the functional Net, fully connected part
        def __init__(self):
            super().__init__()
            self.fc1 = tnn.Linear(16 * 5 * 5, 120)
            self.fc2 = tnn.Linear(120, 84)
            self.fc3 = tnn.Linear(84, 100)

        def forward(self, x):
            x = x.view(-1, 16 * 5 * 5)
            x = tF.relu(self.fc1(x))
            x = tF.relu(self.fc2(x))
            return self.fc3(x)


# -- the jnn ports ---------------------------------------------------------------------
class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(20, 256)
        self.out = nn.Linear(256, 10)

    def forward(self, X):
        return self.out(F.relu(self.hidden(X)))


class MyModelWithParam(nn.Module):
    def __init__(self):
        super().__init__()
        self.my_param = nn.Parameter(jnn.randn(10, 10))

    def forward(self, x):
        return x @ self.my_param


class Linear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.w = nn.Parameter(jnn.randn(in_features, out_features))
        self.b = nn.Parameter(jnn.randn(out_features))

    def forward(self, x):
        x = x @ self.w
        return x + jnp.broadcast_to(self.b, x.shape)


class Perceptron(nn.Module):
    def __init__(self, in_features, hidden_features, out_features):
        nn.Module.__init__(self)
        self.layer1 = Linear(in_features, hidden_features)
        self.layer2 = Linear(hidden_features, out_features)

    def forward(self, x):
        x = self.layer1(x)
        x = jax.nn.sigmoid(x)
        return self.layer2(x)


class MyModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 1)

    def forward(self, x):
        return self.linear(x)


class MyLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(jnp.zeros((4, 3)))
        self.bias = nn.Parameter(jnp.zeros(4))

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 100)

    def forward(self, x):
        x = x.reshape(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


# -- (a) 001: the d2l MLP, and the Sequential it replaces ------------------------------
def test_d2l_mlp_matches_torch():
    torch.manual_seed(0)
    # X = torch.rand(2, 20); the weights are torch's, copied in by the oracle
    t_out, j_out = check_modules(T.MLP(), MLP(), [uniform(2, 20)])
    assert j_out[0].shape == (2, 10)


def test_d2l_sequential_shape():
    torch.manual_seed(0)
    t_net = tnn.Sequential(tnn.Linear(20, 256), tnn.ReLU(), tnn.Linear(256, 10))
    net = nn.Sequential(nn.Linear(20, 256), nn.ReLU(), nn.Linear(256, 10))
    check_modules(t_net, net, [uniform(2, 20)], grad=False)
    assert net(jnn.rand(2, 20)).shape == (2, 10)


# -- (b) 000: a raw Parameter used as `x @ self.my_param` ------------------------------
def test_model_with_raw_parameter():
    torch.manual_seed(0)
    t_model, model = T.MyModelWithParam(), MyModelWithParam()
    check_modules(t_model, model, [(1, 10)])  # outputs and grads (input and my_param)
    names = [(name, tuple(p.size())) for name, p in model.named_parameters()]
    assert names == [(n, tuple(p.size())) for n, p in t_model.named_parameters()]
    assert names == [("my_param", (10, 10))]


# -- (c) 003: Linear from two Parameters, and the Perceptron of two of them ------------
def test_custom_linear_and_perceptron():
    torch.manual_seed(0)
    t_layer, layer = T.Linear(4, 3), Linear(4, 3)
    check_modules(t_layer, layer, [(2, 4)])
    t_perceptron, perceptron = T.Perceptron(3, 4, 1), Perceptron(3, 4, 1)
    check_modules(t_perceptron, perceptron, [(2, 3)])
    # `for name, parameter in preceptron.named_parameters(): print(name, parameter)`
    for j_model, t_model in [(layer, t_layer), (perceptron, t_perceptron)]:
        ours = [(name, p.shape) for name, p in j_model.named_parameters()]
        assert ours == [(name, tuple(p.shape)) for name, p in t_model.named_parameters()]
        for _, parameter in j_model.named_parameters():
            assert str(parameter).startswith("Parameter containing:")
    assert [name for name, _ in perceptron.named_parameters()] == [
        "layer1.w", "layer1.b", "layer2.w", "layer2.b"]


def test_module_internals_as_in_003():
    """``training``, ``_parameters``, ``_buffers`` and ``_modules`` hold what torch's do."""
    t_perceptron, perceptron = T.Perceptron(3, 4, 1), Perceptron(3, 4, 1)
    assert perceptron.training is True
    assert list(perceptron._modules) == list(t_perceptron._modules) == ["layer1", "layer2"]
    assert list(perceptron.layer1._parameters) == list(t_perceptron.layer1._parameters)
    assert dict(perceptron._buffers) == dict(t_perceptron._buffers) == {}
    assert perceptron.layer1._parameters["w"] is perceptron.layer1.w


# -- (d) 003: add_module, named_children, named_modules, a module under two names ------
def _sequential_forms(lib):
    """003's net1/net2/net3 (Conv2d -> Linear(3, 3), BatchNorm2d -> Linear(3, 3))."""
    net1 = lib.Sequential()
    net1.add_module("conv", lib.Linear(3, 3))
    net1.add_module("batchnorm", lib.Linear(3, 3))
    net1.add_module("relu", lib.ReLU())
    net2 = lib.Sequential(lib.Linear(3, 3), lib.Linear(3, 3), lib.ReLU())
    net3 = lib.Sequential(OrderedDict([("conv1", lib.Linear(3, 3)),
                                       ("batchnorm", lib.Linear(3, 3)),
                                       ("relu", lib.ReLU())]))
    return [net1, net2, net3]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["add_module", "positional", "OrderedDict"])
def test_sequential_forms(index):
    torch.manual_seed(0)
    t_net, net = _sequential_forms(tnn)[index], _sequential_forms(nn)[index]
    check_modules(t_net, net, [(4, 3)], grad=False)
    assert [n for n, _ in net.named_children()] == [n for n, _ in t_net.named_children()]
    assert [n for n, _ in net.named_modules()] == [n for n, _ in t_net.named_modules()]


def test_module_registered_under_two_names():
    def build(lib):
        shared = lib.Linear(3, 3)
        model = lib.Sequential()
        model.add_module("first", shared)
        model.add_module("act", lib.Tanh())
        model.add_module("second", shared)
        return model

    torch.manual_seed(0)
    t_model, model = build(tnn), build(nn)
    assert model.first is model.second
    check_modules(t_model, model, [(4, 3)])  # state_dict keeps both prefixes, as torch's
    assert list(model.state_dict()) == ["first.weight", "first.bias", "second.weight",
                                        "second.bias"]
    for method in ("named_children", "named_modules", "named_parameters"):
        ours = [name for name, _ in getattr(model, method)()]
        assert ours == [name for name, _ in getattr(t_model, method)()], method
    ours = [name for name, _ in model.named_modules(remove_duplicate=False)]
    assert ours == [name for name, _ in t_model.named_modules(remove_duplicate=False)]
    assert len(list(model.modules())) == len(list(t_model.modules())) == 3


def test_module_list_loop():
    """000 section 8.2: a ModuleList applied in a Python loop."""
    torch.manual_seed(0)
    t_layers = tnn.ModuleList([tnn.Linear(10, 20), tnn.ReLU(), tnn.Linear(20, 5)])
    layers = nn.ModuleList([nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5)])
    layers.load_state_dict({k: v.numpy() for k, v in t_layers.state_dict().items()})
    assert repr(layers) == repr(t_layers)
    x = make_inputs([(1, 10)])[0]
    t_input, j_input = torch.from_numpy(x), jnp.asarray(x)
    for t_layer, layer in zip(t_layers, layers):
        t_input, j_input = t_layer(t_input), layer(j_input)
    np.testing.assert_allclose(j_input, t_input.detach().numpy(), rtol=1e-5, atol=1e-5)


# -- (e) 002/003: apply, init, train/eval ----------------------------------------------
def test_apply_fills_every_linear_weight():
    visited = {"torch": [], "jnn": []}

    def make_init(lib, init_module, key):
        def init_fn(m):
            visited[key].append(type(m).__name__)
            if type(m) is lib.Linear:
                init_module.constant_(m.weight, 1.0)
                init_module.zeros_(m.bias)
        return init_fn

    def fill_jnn(m):  # torch's `m.weight.data.fill_(1.0)` style
        if isinstance(m, nn.Linear):
            m.weight.fill_(1.0)
            m.bias.zero_()

    t_model = tnn.Sequential(tnn.Linear(4, 3), tnn.ReLU(), tnn.Linear(3, 2))
    assert t_model.apply(make_init(tnn, tnn.init, "torch")) is t_model
    for fn in (make_init(nn, init, "jnn"), fill_jnn):
        model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        assert model.apply(fn) is model
        check_modules(t_model, model, [(2, 4)], load=False, grad=False)  # no copy needed
    assert visited["jnn"] == visited["torch"] == ["Linear", "ReLU", "Linear", "Sequential"]


def test_apply_normal_init_statistics():
    """002: ``net.apply(init_weights)`` with ``nn.init.normal_(m.weight, std=0.01)``."""
    def init_weights(m):
        if type(m) is nn.Linear:
            init.normal_(m.weight, std=0.01)

    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    net.apply(init_weights)
    w = np.asarray(net[1].weight, np.float64)
    assert w.shape == (10, 784)
    assert abs(w.mean()) < 5 * 0.01 / math.sqrt(w.size)
    assert abs(w.std() / 0.01 - 1) < 0.05
    assert net(jnn.rand(2, 1, 28, 28)).shape == (2, 10)


def test_xavier_normal_program():
    """003: ``torch.manual_seed(1); init.xavier_normal_(linear.weight)``."""
    linear = nn.Linear(3, 4)
    jnn.manual_seed(1)
    returned = init.xavier_normal_(linear.weight)
    assert returned is linear.weight and linear.weight.shape == (4, 3)
    first = np.asarray(linear.weight.data)
    jnn.manual_seed(1)
    init.xavier_normal_(linear.weight)
    np.testing.assert_array_equal(linear.weight.data, first)  # the seed reproduces it
    big = nn.Linear(200, 300)
    init.xavier_normal_(big.weight)
    w = np.asarray(big.weight, np.float64)
    std = math.sqrt(2.0 / (200 + 300))  # torch's formula, gain 1
    assert abs(w.mean()) < 5 * std / math.sqrt(w.size)
    assert abs(w.std() / std - 1) < 0.02


def test_train_eval_reach_every_submodule():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.Dropout(0.5))
    assert net.eval() is net
    assert [m.training for m in net.modules()] == [False] * 4
    net.train()
    assert all(m.training for m in net.modules())


# -- the rest of 000 and 003 -----------------------------------------------------------
def test_my_model_repr_and_output():
    torch.manual_seed(0)
    t_model, model = T.MyModel(), MyModel()
    check_modules(t_model, model, [(1, 10)], grad=False)
    assert repr(model) == (
        "MyModel(\n  (linear): Linear(in_features=10, out_features=1, bias=True)\n)")


def test_my_linear_with_functional_linear():
    torch.manual_seed(0)
    check_modules(T.MyLinear(), MyLinear(), [(2, 3)], load=False, grad=False)  # zeros


def test_functional_net():
    torch.manual_seed(0)
    check_modules(T.Net(), Net(), [(2, 16, 5, 5)], grad=False)


def test_sequential_from_000():
    torch.manual_seed(0)
    check_modules(tnn.Sequential(tnn.Linear(10, 20), tnn.ReLU(), tnn.Linear(20, 5)),
                  nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5)), [(1, 10)],
                  grad=False)


def test_cross_entropy_programs():
    # 003: score = torch.randn(3, 2); label = torch.Tensor([1, 0, 1]).long()
    check_layer("CrossEntropyLoss", inputs=[(3, 2), const([1, 0, 1], np.int64)])
    # 000: input = torch.randn(3, 5); target = torch.tensor([1, 0, 4])
    check_layer("CrossEntropyLoss", inputs=[(3, 5), const([1, 0, 4], np.int64)], grad=False)
    score, target = make_inputs([(3, 5)])[0], np.array([1, 0, 4])
    expected = tF.cross_entropy(torch.from_numpy(score), torch.from_numpy(target))
    np.testing.assert_allclose(F.cross_entropy(jnp.asarray(score), jnp.asarray(target)),
                               expected.numpy(), rtol=1e-5, atol=1e-6)


def test_layers_from_000():
    check_layer("Linear", (10, 5), inputs=[(1, 10)], grad=False)
    check_layer("MSELoss", inputs=[(3, 5), (3, 5)], grad=False)
    check_layer("ReLU", inputs=[(2,)], grad=False)
    x = make_inputs([(2,)])[0]
    np.testing.assert_array_equal(F.relu(jnp.asarray(x)), tF.relu(torch.from_numpy(x)))


def test_dropout_from_000():
    """``dropout = nn.Dropout(p=0.5); output = dropout(torch.randn(2, 3))``."""
    dropout = nn.Dropout(p=0.5)
    x = np.asarray(jnn.randn(2, 3))
    output = np.asarray(dropout(jnp.asarray(x)))
    assert output.shape == (2, 3)
    assert np.all((output == 0) | np.isclose(output, 2 * x, rtol=1e-6))
