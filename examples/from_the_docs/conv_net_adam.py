"""The seed documents' combined example: a conv net with BatchNorm and Dropout, trained with Adam.

Ported from 000 ("PyTorch's torch.nn", the combined example 综合示例): Conv2d, BatchNorm2d,
max_pool2d, Dropout, a raw ``nn.Parameter`` used as ``x @ self.custom_param``,
``log_softmax`` and ``CrossEntropyLoss``, trained for 10 epochs with Adam on a fresh random
batch each epoch, printing the loss.

What the port changed (see the README's porting guide):

* the imports (``torch`` -> ``jnn``; ``torch.randn``/``randint`` -> ``jnn.randn``/``randint``);
* ``x.view(x.size(0), -1)`` -> ``x.reshape(x.shape[0], -1)``;
* ``loss.backward(); optimizer.step()`` -> a closure given to ``optimizer.step``, which
  returns the loss;
* ``fc1`` is ``nn.Linear(64 * 5 * 5, 128)``: the article prints ``64*12*12``, which does
  not fit 28x28 inputs (two 3x3 convolutions and two 2x2 poolings leave 5x5), and torch
  then raises ``mat1 and mat2 shapes cannot be multiplied (64x1600 and 9216x128)`` -- as
  jnn does.

The second half runs the same loop with the step under ``jnn.compile`` (one XLA program
for forward, gradients, BatchNorm's statistics, dropout and the Adam update).

Run:  python examples/from_the_docs/conv_net_adam.py [--quick]   (or JNN_EXAMPLES_QUICK=1)
"""

# The article's text is kept: ``super(MyComplexModel, self).__init__()`` included.
# ruff: noqa: UP008
# The closures in the loops are called at once, in the iteration that defines them.
# ruff: noqa: B023

import argparse
import os

import jnn
import jnn.nn as nn
import jnn.nn.functional as F
import jnn.optim as optim


class MyComplexModel(nn.Module):
    def __init__(self):
        super(MyComplexModel, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.bn2 = nn.BatchNorm2d(64)
        self.dropout = nn.Dropout(0.25)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)  # the article: 64*12*12 (see the docstring)
        self.fc2 = nn.Linear(128, 10)
        self.custom_param = nn.Parameter(jnn.randn(128, 128))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.max_pool2d(x, 2)
        x = self.dropout(x)
        x = x.reshape(x.shape[0], -1)  # torch: x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = x @ self.custom_param
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def main(quick: bool = False) -> dict:
    """Train eagerly as the article does, then compiled; returns the printed losses."""
    epochs = 2 if quick else 10
    jnn.manual_seed(0)
    model = MyComplexModel()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.001)
    eager = []
    for epoch in range(epochs):
        input = jnn.randn(64, 1, 28, 28)
        target = jnn.randint(0, 10, (64,))

        def closure():
            optimizer.zero_grad()
            output = model(input)
            loss = criterion(output, target)
            return loss

        loss = optimizer.step(closure)  # torch: loss.backward(); optimizer.step()
        print(f'Epoch {epoch+1}, Loss: {loss.item()}')
        eager.append(loss.item())

    @jnn.compile  # the same step, compiled: traced once, then one program call per epoch
    def train_step(input, target):
        def closure():
            optimizer.zero_grad()
            return criterion(model(input), target)
        return optimizer.step(closure)

    compiled = []
    for epoch in range(epochs, 2 * epochs):
        loss = train_step(jnn.randn(64, 1, 28, 28), jnn.randint(0, 10, (64,)))
        print(f'Epoch {epoch+1} (compiled), Loss: {loss.item()}')
        compiled.append(loss.item())
    return {"eager_losses": eager, "compiled_losses": compiled}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("JNN_EXAMPLES_QUICK") == "1",
                        help="2 epochs (for CI); also JNN_EXAMPLES_QUICK=1")
    main(quick=parser.parse_args().quick)
