"""A tour of torch.nn, section by section, in jnn.

Ported from 000 ("PyTorch's torch.nn", sections 1 to 10): a Module; Linear, Conv2d and
MaxPool2d layers; MSELoss and CrossEntropyLoss; training loops with SGD and with Adam;
ReLU, BatchNorm2d and Dropout; Sequential and ModuleList; the functional API (``F.relu``,
``F.cross_entropy``, ``F.conv2d``); a raw ``nn.Parameter``.  (The article's last program,
the combined conv net, is ``conv_net_adam.py``.)

What the port changed (see the README's porting guide): the imports (``torch.randn`` ->
``jnn.randn``, ``torch.tensor`` -> ``jnn.tensor``), and in the training loops
``loss.backward(); optimizer.step()`` -> ``optimizer.step(closure)``.

Run:  python examples/from_the_docs/tour.py [--quick]   (or JNN_EXAMPLES_QUICK=1)
"""

# The article's text is kept: ``super(MyModel, self).__init__()`` included.
# ruff: noqa: UP008

import argparse
import os

import jnn
import jnn.nn as nn
import jnn.nn.functional as F
import jnn.optim as optim


class MyModel(nn.Module):  # section 1
    def __init__(self):
        super(MyModel, self).__init__()
        self.linear = nn.Linear(10, 1)

    def forward(self, x):
        return self.linear(x)


class MyModelWithParam(nn.Module):  # section 10
    def __init__(self):
        super(MyModelWithParam, self).__init__()
        self.my_param = nn.Parameter(jnn.randn(10, 10))

    def forward(self, x):
        return x @ self.my_param


def train(model, optimizer, criterion, epochs):
    """Section 4's loop: a fresh random sample each epoch, as the article does."""
    for _ in range(epochs):
        def closure():
            optimizer.zero_grad()
            output = model(jnn.randn(1, 10))
            loss = criterion(output, jnn.randn(1, 1))
            return loss
        loss = optimizer.step(closure)  # torch: loss.backward(); optimizer.step()
    return loss.item()


def main(quick: bool = False) -> dict:
    """Run the sections; returns the printed shapes and values."""
    jnn.manual_seed(0)
    shapes = {}
    model = MyModel()
    print(model)

    for name, layer, shape in [("linear", nn.Linear(10, 5), (1, 10)),
                               ("conv", nn.Conv2d(in_channels=1, out_channels=3,
                                                  kernel_size=3), (1, 1, 5, 5)),
                               ("maxpool", nn.MaxPool2d(kernel_size=2), (1, 1, 4, 4)),
                               ("relu", nn.ReLU(), (2,)),
                               ("batch_norm", nn.BatchNorm2d(3), (1, 3, 5, 5)),
                               ("dropout", nn.Dropout(p=0.5), (2, 3))]:
        input = jnn.randn(*shape)
        output = layer(input)
        print(name, output.shape)
        shapes[name] = output.shape

    mse_loss = nn.MSELoss()
    loss = mse_loss(jnn.randn(3, 5), jnn.randn(3, 5))
    cross_entropy_loss = nn.CrossEntropyLoss()
    input = jnn.randn(3, 5)
    target = jnn.tensor([1, 0, 4])
    ce = cross_entropy_loss(input, target)
    print(f"MSELoss {loss.item():.4f}, CrossEntropyLoss {ce.item():.4f}, "
          f"F.cross_entropy {F.cross_entropy(input, target).item():.4f}")

    epochs = 3 if quick else 100
    model = MyModel()
    sgd = train(model, optim.SGD(model.parameters(), lr=0.01), nn.MSELoss(), epochs)
    adam = train(model, optim.Adam(model.parameters(), lr=0.001), nn.MSELoss(), epochs)
    print(f"last loss after {epochs} epochs: SGD {sgd:.4f}, then Adam {adam:.4f}")

    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    shapes["sequential"] = model(jnn.randn(1, 10)).shape
    layers = nn.ModuleList([nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5)])
    input = jnn.randn(1, 10)
    for layer in layers:
        input = layer(input)
    shapes["modulelist"] = input.shape
    shapes["F.relu"] = F.relu(jnn.randn(2)).shape
    weight = jnn.randn(3, 1, 3, 3)  # Manually defined weights
    shapes["F.conv2d"] = F.conv2d(jnn.randn(1, 1, 5, 5), weight).shape
    print("Sequential", shapes["sequential"], "ModuleList", shapes["modulelist"],
          "F.conv2d", shapes["F.conv2d"])

    model = MyModelWithParam()
    output = model(jnn.randn(1, 10))
    for name, param in model.named_parameters():
        print(name, param.size())
    shapes["with_param"] = output.shape
    return {"shapes": shapes, "losses": {"mse": loss.item(), "cross_entropy": ce.item(),
                                         "sgd": sgd, "adam": adam}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("JNN_EXAMPLES_QUICK") == "1",
                        help="3 training epochs (for CI); also JNN_EXAMPLES_QUICK=1")
    main(quick=parser.parse_args().quick)
