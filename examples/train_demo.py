"""A short training demo: an MLP learns a toy regression, torch-style, with jnn.

Run:  python examples/train_demo.py
"""

import jax.numpy as jnp

import jnn
import jnn.nn as nn


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(8, 64)
        self.act = nn.ReLU()
        self.out = nn.Linear(64, 1)

    def forward(self, x):
        return self.out(self.act(self.hidden(x)))


def main(steps: int = 200) -> float:
    jnn.manual_seed(0)
    model = MLP()
    x = jnn.randn(256, 8)
    y = jnp.sin(x.sum(axis=1, keepdims=True))
    loss_fn = nn.MSELoss()
    optimizer = jnn.optim.Adam(model.parameters(), lr=1e-2)

    @jnn.compile
    def train_step(x, y):
        def closure():
            optimizer.zero_grad()
            return loss_fn(model(x), y)

        return optimizer.step(closure)

    for step in range(steps):
        loss = train_step(x, y)
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {float(loss):.5f}")
    return float(loss)


if __name__ == "__main__":
    main()
