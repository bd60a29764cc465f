"""The seed documents' programs (/work/shared/seed-documents), run in jnn and in torch.

Gradients are compared where they are the program's subject ((a)-(c), and the training
programs of (f)); elsewhere outputs only, since every layer's gradients are in tests/nn and
an eager backward pass costs an XLA compile per primitive per new shape.

Each program is written twice, line for line: the torch original (in class ``T``, under
the same class names so that ``repr`` matches) and its jnn port.  (f) trains 000's
convolutional network (Conv2d, BatchNorm2d, max_pool2d, Dropout; Adam) and 003's
features/classifier network (two SGD parameter groups) against torch, eagerly and under
``jnn.compile``.  The structural examples of (d) were written before jnn had Conv2d and
BatchNorm2d and keep Linear in their place; LazyLinear(n) is Linear(in, n).  The ports
change ``x.view(...)`` to ``x.reshape(...)`` (a jax.Array has no ``view``; inside
``forward`` a Parameter reads as one) and ``torch.randn`` to ``jnn.randn``.
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


    class MyComplexModel(tnn.Module):  # 000: the combined example (综合示例)
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(1, 32, kernel_size=3)
            self.bn1 = tnn.BatchNorm2d(32)
            self.conv2 = tnn.Conv2d(32, 64, kernel_size=3)
            self.bn2 = tnn.BatchNorm2d(64)
            self.dropout = tnn.Dropout(0.25)
            self.fc1 = tnn.Linear(64 * 5 * 5, 128)  # printed: 64*12*12 (see test_*_as_printed)
            self.fc2 = tnn.Linear(128, 10)
            self.custom_param = tnn.Parameter(torch.randn(128, 128))

        def forward(self, x):
            x = tF.relu(self.bn1(self.conv1(x)))
            x = tF.max_pool2d(x, 2)
            x = tF.relu(self.bn2(self.conv2(x)))
            x = tF.max_pool2d(x, 2)
            x = self.dropout(x)
            x = x.view(x.size(0), -1)
            x = tF.relu(self.fc1(x))
            x = x @ self.custom_param
            x = self.fc2(x)
            return tF.log_softmax(x, dim=1)

    class Optim:  # 003's optimizer section names its network Net too
        class Net(tnn.Module):
            def __init__(self):
                super().__init__()
                self.features = tnn.Sequential(
                    tnn.Conv2d(3, 6, 5),
                    tnn.ReLU(),
                    tnn.MaxPool2d(2, 2),
                    tnn.Conv2d(6, 16, 5),
                    tnn.ReLU(),
                    tnn.MaxPool2d(2, 2)
                )
                self.classifier = tnn.Sequential(
                    tnn.Linear(16 * 5 * 5, 120),
                    tnn.ReLU(),
                    tnn.Linear(120, 84),
                    tnn.ReLU(),
                    tnn.Linear(84, 10)
                )

            def forward(self, x):
                x = self.features(x)
                x = x.view(-1, 16 * 5 * 5)
                x = self.classifier(x)
                return x

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



class MyComplexModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.bn2 = nn.BatchNorm2d(64)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)
        self.custom_param = nn.Parameter(jnn.randn(128, 128))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.max_pool2d(x, 2)
        x = self.dropout(x)
        x = x.reshape(x.shape[0], -1)
        x = F.relu(self.fc1(x))
        x = x @ self.custom_param
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


class Optim:
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 6, 5),
                nn.ReLU(),
                nn.MaxPool2d(2, 2),
                nn.Conv2d(6, 16, 5),
                nn.ReLU(),
                nn.MaxPool2d(2, 2)
            )
            self.classifier = nn.Sequential(
                nn.Linear(16 * 5 * 5, 120),
                nn.ReLU(),
                nn.Linear(120, 84),
                nn.ReLU(),
                nn.Linear(84, 10)
            )

        def forward(self, x):
            x = self.features(x)
            x = x.reshape(-1, 16 * 5 * 5)
            x = self.classifier(x)
            return x

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


# -- (f) training: 000's combined CNN (Adam) and 003's features/classifier Net (SGD) ----
# The seed documents train on fresh torch.randn batches (000: 10 epochs of 64 images);
# here STEPS batches from one numpy generator, the same numbers in both libraries, the jnn
# step written the three ways jnn spells ``loss.backward()``: eager ``optimizer.step(closure)``,
# eager ``jnn.autograd.backward(closure)`` + ``step()``, and the closure form under
# ``jnn.compile``.  The models start from torch's weights (its state_dict).
#
# Adam and rounding: Adam's first step moves each element by lr * g / (|g| + eps), about
# lr * sign(g).  Where a gradient is zero up to rounding (a bias before a train-mode
# BatchNorm, a ReLU at its kink, a sum that cancels) its sign is rounding noise, and the
# libraries step up to 2 * lr apart there; the next forward pass carries that difference
# into every later gradient (measured: 1e-4 relative after two steps, where equal states
# agree to 1e-6).  So an Adam program is compared step by step from equal states: after
# each step the loss, every ``.grad`` (to the usual tolerance), parameter and buffer
# against torch's, and then jnn takes torch's parameters and buffers (``load_state_dict``)
# and keeps its own optimizer state, compared with torch's at the end.  A parameter
# element may differ by twice Adam's largest move (about 2 * lr, see _adam_step_bound)
# once its two gradients have differed by more than 1e-3 of their size (within tolerance,
# yet not determined to the digits Adam's normalisation amplifies; its moments differ from
# then on); the test bounds how many such elements there are.  SGD's steps are
# proportional to the gradients, so 003's SGD program runs its trajectory unaided.
STEPS, BATCH = 3, 4
TRAIN_MODES = ["closure", "backward", "compiled"]


def _batches(shape, classes, steps=STEPS):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal(shape, dtype=np.float32), rng.integers(0, classes, shape[0]))
            for _ in range(steps)]


def _load_torch_state(t_model, model):
    model.load_state_dict({k: v.numpy() for k, v in t_model.state_dict().items()})


def _twins(torch_cls, jnn_cls):
    torch.manual_seed(0)
    t_model, model = torch_cls(), jnn_cls()
    _load_torch_state(t_model, model)
    return t_model, model


def _torch_step(model, optimizer, criterion, x, y):
    optimizer.zero_grad()
    loss = criterion(model(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    optimizer.step()
    return loss.item()


def _jnn_step(model, optimizer, criterion, mode):
    """The seed's loop body, ported: the three ways jnn writes ``loss.backward()``."""
    def by_closure(x, y):
        def closure():
            optimizer.zero_grad()
            return criterion(model(x), y)
        return optimizer.step(closure)

    def by_backward(x, y):
        optimizer.zero_grad()
        loss = jnn.autograd.backward(lambda: criterion(model(x), y))
        optimizer.step()
        return loss

    step = by_backward if mode == "backward" else by_closure
    return jnn.compile(step) if mode == "compiled" else step


def _fan_in_atol(t_model):
    """float32 rounding of the widest dot product the model computes (1e-6 * sqrt(fan-in))."""
    return 1e-6 * math.sqrt(max(math.prod(p.shape[1:]) for p in t_model.parameters()
                                if p.ndim > 1))


def _assert_close(actual, expected, atol, what, slack=0.0):
    """rtol 1e-5, and ``atol`` times the tensor's scale (its largest element, at least 1):
    a float32 sum rounds in proportion to its terms, which that bounds (000's fc2 reads
    ``x @ custom_param``, O(10)); ``slack`` widens chosen elements."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    excess = np.abs(actual - expected) - (atol * scale + slack + 1e-5 * np.abs(expected))
    assert (excess <= 0).all(), (
        f"{what}: {int((excess > 0).sum())} of {excess.size} elements differ from torch's "
        f"beyond tolerance, the worst by {excess.max():.3g}")


def _adam_step_bound(betas, steps):
    """The most an Adam update moves an element, in units of lr, over ``steps`` steps:
    ``|m_hat| / sqrt(v_hat)`` by Cauchy-Schwarz over the gradient history (1 at the first
    step; 1.004 by the third for betas (0.9, 0.999), 1.13 for DCGAN's (0.5, 0.999))."""
    beta1, beta2 = betas
    bounds = []
    for t in range(1, steps + 1):
        terms = sum(((1 - beta1) * beta1 ** (t - k)) ** 2 / ((1 - beta2) * beta2 ** (t - k))
                    for k in range(1, t + 1))
        bounds.append(math.sqrt(terms * (1 - beta2 ** t)) / (1 - beta1 ** t))
    return max(bounds)


def _check_step(t_model, model, atol, where, noisy=None, adam=None):
    """``.grad``, parameters and buffers against torch's after a step.

    With ``adam=(lr, betas)`` (see above): ``noisy`` maps parameter names to the elements
    whose two gradients differed by over 1e-3 of their size at this step or an earlier one
    (their Adam moments differ since), updated here; those may differ by twice Adam's
    largest move.  Returns the number of such elements.
    """
    named = list(model.named_parameters())
    assert [n for n, _ in named] == [n for n, _ in t_model.named_parameters()], where
    noisy = {} if noisy is None else noisy
    slack_per_element = 0.0 if adam is None else 2 * adam[0] * _adam_step_bound(adam[1], STEPS)
    for (name, p), (_, tp) in zip(named, t_model.named_parameters()):
        assert (p.grad is None) == (tp.grad is None), f"{where}: {name}.grad"
        if tp.grad is not None:
            grad, t_grad = np.asarray(p.grad), tp.grad.numpy()
            _assert_close(grad, t_grad, atol, f"{where}: {name}.grad")
            noisy[name] = noisy.get(name, False) | (np.abs(grad - t_grad) > 1e-3 * np.abs(t_grad))
        slack = slack_per_element * noisy.get(name, False)
        _assert_close(p.data, tp.detach().numpy(), atol, f"{where}: {name}", slack)
    buffers = list(model.named_buffers())
    assert [n for n, _ in buffers] == [n for n, _ in t_model.named_buffers()], where
    for (name, buffer), (_, t_buffer) in zip(buffers, t_model.named_buffers()):
        _assert_close(buffer, t_buffer.numpy(), atol, f"{where}: buffer {name}")
    return sum(int(np.sum(mask)) for mask in noisy.values())


def _assert_adam_states_match(t_optimizer, optimizer, atol):
    t_state, state = t_optimizer.state_dict()["state"], optimizer.state_dict()["state"]
    assert list(state) == list(t_state)
    for index, t_entry in t_state.items():
        assert list(state[index]) == list(t_entry), index
        for key, t_value in t_entry.items():
            _assert_close(state[index][key], t_value.numpy(), atol, f"state[{index}][{key!r}]")


@pytest.mark.parametrize("mode", TRAIN_MODES)
def test_combined_cnn_trains_like_torch(mode):
    """000's 综合示例: Conv2d, BatchNorm2d, max_pool2d, Dropout, a raw Parameter, Adam."""
    t_model, model = _twins(T.MyComplexModel, MyComplexModel)
    t_model.dropout.p = model.dropout.p = 0.0  # the libraries draw different masks
    lr = 0.001
    t_optimizer = torch.optim.Adam(t_model.parameters(), lr=lr)
    optimizer = jnn.optim.Adam(model.parameters(), lr=lr)
    step = _jnn_step(model, optimizer, nn.CrossEntropyLoss(), mode)
    atol, noisy = _fan_in_atol(t_model), {}
    for i, (x, y) in enumerate(_batches((BATCH, 1, 28, 28), 10)):
        t_loss = _torch_step(t_model, t_optimizer, tnn.CrossEntropyLoss(), x, y)
        loss = step(jnp.asarray(x), jnp.asarray(y))
        np.testing.assert_allclose(float(loss), t_loss, rtol=1e-5, atol=atol, err_msg=f"step {i}")
        n_noisy = _check_step(t_model, model, atol, f"step {i}", noisy, adam=(lr, (0.9, 0.999)))
        for conv in (t_model.conv1, t_model.conv2):  # before a BatchNorm: gradient ~ 0
            assert abs(conv.bias.grad.numpy()).max() < 1e-5
        _load_torch_state(t_model, model)
    _assert_adam_states_match(t_optimizer, optimizer, atol)
    assert [int(bn.num_batches_tracked) for bn in (model.bn1, model.bn2)] == [STEPS, STEPS]
    if mode == "compiled":
        assert step.trace_count == 1  # Adam's state starts as placeholders: one trace, then none
    n_params = sum(p.numel() for p in t_model.parameters())
    assert n_noisy < n_params * 5e-3  # the conv biases (96) and ~130 others (measured)


def test_combined_cnn_trains_with_dropout_reproducibly():
    """Dropout(0.25) active: masks are jnn's own, so no torch comparison; instead the loss
    on a fixed batch falls, ``jnn.manual_seed`` reproduces the run, another seed does not."""
    x, y = (jnp.asarray(a) for a in _batches((BATCH, 1, 28, 28), 10, steps=1)[0])

    def run(seed):
        _, model = _twins(T.MyComplexModel, MyComplexModel)
        step = _jnn_step(model, jnn.optim.Adam(model.parameters(), lr=0.001),
                         nn.CrossEntropyLoss(), "closure")
        jnn.manual_seed(seed)
        losses = [float(step(x, y)) for _ in range(STEPS + 1)]
        return losses, np.asarray(model.fc1.weight.data)

    losses, weight = run(0)
    again, weight_again = run(0)
    if jax.default_backend() == "cpu":
        assert losses == again
        np.testing.assert_array_equal(weight, weight_again)
    else:  # (GPU convolution gradients sum in no fixed order: the same masks, not bits)
        np.testing.assert_allclose(again, losses, rtol=1e-5)
        np.testing.assert_allclose(weight_again, weight, rtol=1e-5, atol=1e-6)
    assert run(1)[0] != losses  # the masks depend on the seed
    assert np.mean(losses[-2:]) < 0.5 * losses[0], losses  # noisy, but falling


def test_combined_cnn_as_printed_fails_alike():
    """As printed, fc1 is Linear(64*12*12, 128), but 28x28 inputs leave 64x5x5 features:
    torch's forward raises, and jnn raises the same error."""
    t_model, model = _twins(T.MyComplexModel, MyComplexModel)
    t_model.fc1, model.fc1 = tnn.Linear(64 * 12 * 12, 128), nn.Linear(64 * 12 * 12, 128)
    x = make_inputs([(BATCH, 1, 28, 28)])[0]
    match = r"mat1 and mat2 shapes cannot be multiplied \(4x1600 and 9216x128\)"
    with pytest.raises(RuntimeError, match=match):
        t_model(torch.from_numpy(x))
    with pytest.raises(RuntimeError, match=match):
        model(jnp.asarray(x))


@pytest.mark.parametrize("mode", ["eager", "compiled"])
def test_003_sgd_programs_train_like_torch(mode):
    """003's optimizer section: one SGD step of ``output.backward(output)``, then the
    two parameter groups (features at lr=1e-5, classifier at 1e-2) on a classification loss."""
    t_net, net = _twins(T.Optim.Net, Optim.Net)
    atol = _fan_in_atol(t_net)
    t_optimizer = torch.optim.SGD(params=t_net.parameters(), lr=0.01)
    optimizer = jnn.optim.SGD(params=net.parameters(), lr=0.01)
    input = make_inputs([(1, 3, 32, 32)])[0]
    t_optimizer.zero_grad()
    output = t_net(torch.from_numpy(input))
    output.backward(output)
    t_optimizer.step()

    def first_step(input):
        optimizer.zero_grad()

        def closure():  # output.backward(output): the gradient of sum(output * output')
            output = net(input)
            return jnp.sum(output * jax.lax.stop_gradient(output))

        jnn.autograd.backward(closure)
        optimizer.step()

    (jnn.compile(first_step) if mode == "compiled" else first_step)(jnp.asarray(input))
    _check_step(t_net, net, atol, "output.backward(output)")

    t_optimizer = torch.optim.SGD([{"params": t_net.features.parameters()},
                                   {"params": t_net.classifier.parameters(), "lr": 1e-2}],
                                  lr=1e-5)
    optimizer = jnn.optim.SGD([{"params": net.features.parameters()},
                               {"params": net.classifier.parameters(), "lr": 1e-2}], lr=1e-5)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-5, 1e-2]
    step = _jnn_step(net, optimizer, nn.CrossEntropyLoss(),
                     "compiled" if mode == "compiled" else "closure")
    for i, (x, y) in enumerate(_batches((1, 3, 32, 32), 10)):  # the seed's batch of one
        t_loss = _torch_step(t_net, t_optimizer, tnn.CrossEntropyLoss(), x, y)
        loss = step(jnp.asarray(x), jnp.asarray(y))
        np.testing.assert_allclose(float(loss), t_loss, rtol=1e-5, atol=atol, err_msg=f"step {i}")
        _check_step(t_net, net, atol, f"step {i}")  # no re-synchronisation: SGD
