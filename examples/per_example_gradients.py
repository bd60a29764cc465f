"""Per-example gradients, clipped and noised: the DP-SGD recipe, in a compiled step.

Differentially private SGD (Abadi et al., 2016) needs every example's own gradient: each
is clipped to a norm of at most ``C`` (``--max-grad-norm``), the clipped gradients are
summed, Gaussian noise of standard deviation ``sigma * C`` (``--noise-multiplier``) is
added, and the result, divided by the batch size, is the gradient the optimizer uses.

What it shows:

* per-example gradients as ``vmap(grad(loss))`` over the batch, with torch.func's names
  (``jnn.func.functional_call``, ``vmap``, ``grad``): one call for the whole batch;
* a check that their mean is the ordinary batch gradient (``jnn.autograd.backward``);
* writing the noisy gradient into ``p.grad`` and calling ``optimizer.step()``, the way
  torch code (Opacus) does, with the whole step -- per-example gradients, clipping,
  noise from jnn's generator, the SGD update -- under ``jnn.compile``;
* the test accuracy this private training reaches on scikit-learn's digits.

Privacy accounting (the epsilon a run spends) is not part of this example.

Run:  python examples/per_example_gradients.py [--quick]     (or JNN_EXAMPLES_QUICK=1)
"""

from __future__ import annotations

import argparse
import os

import jax.numpy as jnp
import numpy as np
from sklearn.datasets import load_digits

import jnn
import jnn.nn as nn
import jnn.nn.functional as F
from jnn.func import functional_call, grad, vmap
from jnn.utils.data import DataLoader, TensorDataset, random_split


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))


def make_loaders(quick: bool, batch_size: int) -> tuple[DataLoader, DataLoader]:
    digits = load_digits()
    images = digits.data.astype(np.float32) / 16.0  # (1797, 64): the 8x8 images, flattened
    labels = digits.target.astype(np.int32)
    if quick:
        images, labels = images[:400], labels[:400]
    dataset = TensorDataset(jnn.from_numpy(images), jnn.from_numpy(labels))
    train_set, test_set = random_split(dataset, [0.8, 0.2],
                                       generator=jnn.random.Generator().manual_seed(0))
    return (DataLoader(train_set, batch_size=batch_size, shuffle=True, drop_last=True),
            DataLoader(test_set, batch_size=len(test_set)))


def per_example_gradients(model: nn.Module, x, y) -> dict:
    """``{name: (batch, *parameter shape)}``: each example's gradient of its loss."""
    params = {name: p.data for name, p in model.named_parameters()}

    def loss_of_one(params, x, y):  # one example: give it a batch axis of 1
        return F.cross_entropy(functional_call(model, params, (x[None],)), y[None])

    return vmap(grad(loss_of_one), in_dims=(None, 0, 0))(params, x, y)


def check_against_batch_gradient(model: nn.Module, x, y) -> float:
    """The mean of the per-example gradients is the gradient of the batch's mean loss."""
    per_example = per_example_gradients(model, x, y)
    model.zero_grad()
    jnn.autograd.backward(lambda: F.cross_entropy(model(x), y))  # loss.backward()
    diff = max(float(jnp.max(jnp.abs(per_example[name].mean(axis=0) - p.grad)))
               for name, p in model.named_parameters())
    model.zero_grad()
    return diff


def main(quick: bool = False, max_grad_norm: float = 1.0, noise_multiplier: float = 1.0,
         epochs: int = 15, batch_size: int = 64, lr: float = 0.5) -> dict:
    """Train privately; returns the printed numbers."""
    epochs = 2 if quick else epochs
    jnn.manual_seed(0)
    train_loader, test_loader = make_loaders(quick, batch_size)
    model = make_model()
    optimizer = jnn.optim.SGD(model.parameters(), lr=lr)

    x, y = next(iter(train_loader))
    diff = check_against_batch_gradient(model, x, y)
    print(f"mean of the {len(x)} per-example gradients vs the batch gradient: "
          f"max difference {diff:.1e}")

    @jnn.compile
    def dp_step(x, y):
        grads = per_example_gradients(model, x, y)
        norms = jnp.sqrt(sum(jnp.sum(g.reshape(len(x), -1) ** 2, axis=1)
                             for g in grads.values()))  # each example's whole gradient
        scale = jnp.minimum(1.0, max_grad_norm / (norms + 1e-6))  # clip to max_grad_norm
        for name, p in model.named_parameters():
            clipped_sum = jnp.tensordot(scale, grads[name], axes=1)
            noise = noise_multiplier * max_grad_norm * jnn.randn(*p.shape)
            p.grad = (clipped_sum + noise) / len(x)
        optimizer.step()
        return jnp.mean(norms > max_grad_norm)

    @jnn.compile
    def accuracy(x, y):
        return jnp.mean(model(x).argmax(axis=1) == y)

    for epoch in range(1, epochs + 1):
        clipped = [dp_step(x, y) for x, y in train_loader]
        test_accuracy = float(np.mean([accuracy(x, y) for x, y in test_loader]))
        print(f"epoch {epoch:2d}: {100 * float(jnp.mean(jnp.stack(clipped))):5.1f}% of the "
              f"examples clipped, test accuracy {100 * test_accuracy:.2f}%")
    return {"gradient_check": diff, "test_accuracy": test_accuracy,
            "clipped_fraction": float(jnp.mean(jnp.stack(clipped)))}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-grad-norm", type=float, default=1.0, help="clipping norm C")
    parser.add_argument("--noise-multiplier", type=float, default=1.0,
                        help="noise standard deviation, in units of C")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("JNN_EXAMPLES_QUICK") == "1",
                        help="2 epochs on 400 images (for CI); also JNN_EXAMPLES_QUICK=1")
    args = parser.parse_args()
    main(args.quick, args.max_grad_norm, args.noise_multiplier, args.epochs)
