"""The seed documents' optimizer section: a features/classifier net, SGD, two parameter groups.

Ported from 003 (``torch.optim``): a ``Net`` of two ``nn.Sequential`` blocks, ``features``
(Conv2d, ReLU, MaxPool2d) and ``classifier`` (Linear, ReLU); one SGD step of
``output.backward(output)``; then SGD with two parameter groups -- ``features`` at the
default ``lr=1e-5``, ``classifier`` at its own ``lr=1e-2`` -- and, from 002, a training
loop that checks ``isinstance(updater, torch.optim.Optimizer)``.

What the port changed (see the README's porting guide):

* the imports (``torch`` -> ``jnn``, ``torch.randn`` -> ``jnn.randn``);
* ``x.view(-1, 16 * 5 * 5)`` -> ``x.reshape(-1, 16 * 5 * 5)``;
* ``output.backward(output)`` (a vector-Jacobian product, ``output`` as the vector) ->
  ``jnn.autograd.backward`` of ``sum(output * stop_gradient(output))``, whose gradient
  is the same;
* ``l.backward(); updater.step()`` -> ``updater.step(closure)``.

Run:  python examples/from_the_docs/param_groups.py [--quick]   (or JNN_EXAMPLES_QUICK=1)
"""

# The article's text is kept: ``super(Net, self).__init__()`` included.
# ruff: noqa: UP008
# The closures in the loops are called at once, in the iteration that defines them.
# ruff: noqa: B023

import argparse
import os

import jax
import jax.numpy as jnp

import jnn
import jnn.nn as nn
from jnn import optim


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
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
        x = x.reshape(-1, 16 * 5 * 5)  # torch: x.view(-1, 16 * 5 * 5)
        x = self.classifier(x)
        return x


def sgd(params, lr, batch_size):
    """002's custom updater (d2l's ``sgd``): minibatch SGD by hand."""
    with jnn.no_grad():
        for param in params:
            param.copy_(param - lr * param.grad / batch_size)  # torch: param -= ...
            param.grad = None  # torch: param.grad.zero_()


def train_epoch(net, train_iter, loss, updater):
    """002's loop body (d2l's ``train_epoch_ch3``): a torch optimizer, or a custom updater."""
    net.train()
    total = 0.0
    for X, y in train_iter:
        if isinstance(updater, optim.Optimizer):
            def closure():
                updater.zero_grad()
                return loss(net(X), y).mean()
            l = updater.step(closure)  # torch: l.backward(); updater.step()
        else:
            l = jnn.autograd.backward(lambda: loss(net(X), y).sum())  # l.sum().backward()
            updater(X.shape[0])
            l = l / X.shape[0]
        total += float(l)
    return total / len(train_iter)


def largest_change(module, before):
    return max(float(jnp.max(jnp.abs(p.data - before[p]))) for p in module.parameters())


def main(quick: bool = False) -> dict:
    """Run the optimizer section; returns the printed numbers."""
    jnn.manual_seed(0)
    net = Net()
    optimizer = optim.SGD(params=net.parameters(), lr=0.01)
    optimizer.zero_grad()
    input = jnn.randn(1, 3, 32, 32)

    def closure():  # torch: output = net(input); output.backward(output)
        output = net(input)
        return jnp.sum(output * jax.lax.stop_gradient(output))

    jnn.autograd.backward(closure)
    optimizer.step()
    print("one SGD step of output.backward(output): classifier[4].bias.grad =",
          net.classifier[4].bias.grad)

    optimizer = optim.SGD([{'params': net.features.parameters()},
                           {'params': net.classifier.parameters(), 'lr': 1e-2}], lr=1e-5)
    lrs = [group["lr"] for group in optimizer.param_groups]
    print("learning rates per group:", lrs)
    batches = [(jnn.randn(1, 3, 32, 32), jnn.randint(0, 10, (1,)))  # the article's batch of 1
               for _ in range(2 if quick else 8)]
    loss = nn.CrossEntropyLoss(reduction='none')  # d2l's: per-example losses
    before = {p: p.data for p in net.parameters()}
    losses = [train_epoch(net, batches, loss, optimizer) for _ in range(2 if quick else 5)]
    moved = {part: largest_change(getattr(net, part), before)
             for part in ("features", "classifier")}
    print("mean loss per epoch:", [round(value, 4) for value in losses])
    print(f"largest weight change: features {moved['features']:.2e} (lr 1e-5), "
          f"classifier {moved['classifier']:.2e} (lr 1e-2)")
    custom = train_epoch(net, batches, loss, lambda batch_size: sgd(
        list(net.parameters()), 0.01, batch_size))
    print(f"one more epoch with the custom updater: mean loss {custom:.4f}")
    return {"lrs": lrs, "losses": losses, "moved": moved, "custom_updater_loss": custom}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("JNN_EXAMPLES_QUICK") == "1",
                        help="fewer batches and epochs (for CI); also JNN_EXAMPLES_QUICK=1")
    main(quick=parser.parse_args().quick)
