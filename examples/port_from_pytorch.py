"""One model, written for PyTorch and for jnn side by side: what a port changes.

The network and training step are the MNIST program of github.com/pytorch/examples.  The
two versions below differ only where the comments say ``# jnn:``: the imports, and
``loss.backward(); optimizer.step()``, which becomes a closure given to
``optimizer.step`` (JAX has no tape; see the README's porting guide).  The program then

1. builds the torch model and loads its weights into the jnn model (``load_state_dict``
   takes torch's state_dict as it is);
2. shows that both give the same outputs on the same batch;
3. trains both for a few SGD steps on the same batches: the losses agree step by step;
4. times a training step: torch eager against jnn under ``jnn.compile`` (one XLA program
   per step).

Without torch installed it says so and runs the jnn half alone.

Run:  python examples/port_from_pytorch.py [--quick]      (or JNN_EXAMPLES_QUICK=1)
"""

from __future__ import annotations

import argparse
import os
import time
from types import SimpleNamespace

import numpy as np

BATCH = 64


def torch_program() -> SimpleNamespace | None:
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except ImportError:
        return None

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    def train_step(model, optimizer, data, target):
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        return loss

    return SimpleNamespace(lib=torch, Net=Net, train_step=train_step,
                           as_input=torch.from_numpy, value=lambda t: t.detach().numpy())


def jnn_program() -> SimpleNamespace:
    import jnn  # jnn: the imports
    import jnn.nn as nn
    import jnn.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = jnn.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    def train_step(model, optimizer, data, target):
        def closure():  # jnn: backward() and step() become a closure for step()
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            return loss
        return optimizer.step(closure)

    return SimpleNamespace(lib=jnn, Net=Net, train_step=jnn.compile(train_step),
                           as_input=jnn.from_numpy, value=np.asarray)


def make_batches(steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((BATCH, 1, 28, 28), dtype=np.float32),
             rng.integers(0, 10, BATCH)) for _ in range(steps)]


def time_steps(program: SimpleNamespace, model, optimizer, batches) -> float:
    """Milliseconds per training step, after one warm-up step (jnn compiles there)."""
    inputs = [(program.as_input(x), program.as_input(y)) for x, y in batches]
    program.train_step(model, optimizer, *inputs[0]).item()
    start = time.perf_counter()
    for x, y in inputs[1:]:
        loss = program.train_step(model, optimizer, x, y)
    loss.item()  # wait for the last step (JAX dispatches asynchronously)
    return 1000 * (time.perf_counter() - start) / (len(inputs) - 1)


def main(quick: bool = False) -> dict:
    """Compare the two programs; returns the printed numbers."""
    steps, timed = (2, 3) if quick else (5, 30)
    tp, jp = torch_program(), jnn_program()
    jp.lib.manual_seed(0)
    model = jp.Net()
    if tp is None:
        print("torch is not installed: running the jnn half only")
    else:
        tp.lib.manual_seed(0)
        t_model = tp.Net()
        model.load_state_dict(t_model.state_dict())  # torch's tensors, as they are
        t_model.eval(), model.eval()  # dropout off: the two libraries draw different masks
        x = make_batches(1)[0][0]
        diff = np.abs(jp.value(model(jp.as_input(x))) - tp.value(t_model(tp.as_input(x))))
        print(f"same weights, same batch: outputs differ by at most {diff.max():.2e}")
        t_model.train(), model.train()
        for m in (t_model, model):
            m.dropout1.p = m.dropout2.p = 0.0
    results = {"output_diff": float(diff.max()) if tp else None, "losses": []}

    optimizer = jp.lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    if tp is not None:
        t_optimizer = tp.lib.optim.SGD(t_model.parameters(), lr=0.01, momentum=0.5)
    for i, (x, y) in enumerate(make_batches(steps)):
        loss = jp.train_step(model, optimizer, jp.as_input(x), jp.as_input(y)).item()
        line = f"step {i}: jnn loss {loss:.6f}"
        if tp is not None:
            t_loss = tp.train_step(t_model, t_optimizer, tp.as_input(x), tp.as_input(y)).item()
            line += f"   torch loss {t_loss:.6f}"
            results["losses"].append((loss, t_loss))
        print(line)

    batches = make_batches(timed)
    results["jnn_ms"] = time_steps(jp, model, optimizer, batches)
    line = f"training step, batch {BATCH}: jnn.compile {results['jnn_ms']:.1f} ms"
    if tp is not None:
        results["torch_ms"] = time_steps(tp, t_model, t_optimizer, batches)
        line += f", torch eager {results['torch_ms']:.1f} ms"
    print(line)
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        default=os.environ.get("JNN_EXAMPLES_QUICK") == "1",
                        help="fewer steps (for CI); also JNN_EXAMPLES_QUICK=1")
    main(quick=parser.parse_args().quick)
