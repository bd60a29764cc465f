"""The seed documents' first modules: d2l's MLP and a Perceptron built from Parameters.

Ported from two of the articles jnn started from (/work/shared/seed-documents):

* 001 (d2l 6.1, "layers and modules"): ``nn.Sequential`` of ``LazyLinear`` layers, and
  the same network as a custom ``MLP`` module; ``X = torch.rand(2, 20)``,
  ``net(X).shape``;
* 003 (``nn.Module``): a fully connected ``Linear`` layer made of two ``nn.Parameter``s,
  a two-layer ``Perceptron`` of them, and their ``named_parameters()``.

What the port changed (see the README's porting guide): the imports (``torch`` ->
``jnn``, ``torch.rand``/``randn``/``sigmoid`` -> ``jnn.rand``/``randn``/``sigmoid``),
``x.mm(w)`` -> ``x @ w`` and ``b.expand_as(x)`` -> ``jnp.broadcast_to(b, x.shape)`` (a
``jax.Array`` has NumPy's methods, not torch's); ``.shape`` is a tuple, not a
``torch.Size``.

Run:  python examples/from_the_docs/mlp_and_perceptron.py
"""

# The articles' text is kept: ``super(Linear, self).__init__()`` included.
# ruff: noqa: UP008

import jax.numpy as jnp

import jnn
from jnn import nn
from jnn.nn import functional as F


# -- 001: d2l's MLP -----------------------------------------------------------------------
class MLP(nn.Module):
    def __init__(self):
        # Call the constructor of the parent class nn.Module to perform
        # the necessary initialization
        super().__init__()
        self.hidden = nn.LazyLinear(256)
        self.out = nn.LazyLinear(10)

    # Define the forward propagation of the model, that is, how to return the
    # required model output based on the input X
    def forward(self, X):
        return self.out(F.relu(self.hidden(X)))


# -- 003: a Linear layer from two Parameters, and a Perceptron of two of them -------------
class Linear(nn.Module):
    def __init__(self, in_features, out_features):
        super(Linear, self).__init__()
        self.w = nn.Parameter(jnn.randn(in_features, out_features))
        self.b = nn.Parameter(jnn.randn(out_features))

    def forward(self, x):
        x = x @ self.w  # torch: x.mm(self.w)
        return x + jnp.broadcast_to(self.b, x.shape)  # torch: self.b.expand_as(x)


class Perceptron(nn.Module):
    def __init__(self, in_features, hidden_features, out_features):
        nn.Module.__init__(self)
        self.layer1 = Linear(in_features, hidden_features)
        self.layer2 = Linear(hidden_features, out_features)

    def forward(self, x):
        x = self.layer1(x)
        x = jnn.sigmoid(x)
        return self.layer2(x)


def main(quick: bool = False) -> dict:
    """Run both programs; returns the printed shapes and parameter names."""
    jnn.manual_seed(0)
    net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
    X = jnn.rand(2, 20)
    print("Sequential:", net(X).shape)  # the lazy layers learn in_features=20 here
    net = MLP()
    print("MLP:", net(X).shape)
    print(net)

    layer = Linear(4, 3)
    for name, parameter in layer.named_parameters():
        print(name, parameter)
    preceptron = Perceptron(3, 4, 1)  # (sic)
    for name, parameter in preceptron.named_parameters():
        print(name, parameter)
    output = preceptron(jnn.randn(2, 3))
    print("Perceptron:", output.shape)
    return {"sequential_shape": net(X).shape, "mlp_repr": repr(net),
            "perceptron_parameters": [n for n, _ in preceptron.named_parameters()],
            "perceptron_shape": output.shape}


if __name__ == "__main__":
    main()
