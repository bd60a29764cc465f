"""Saving and loading a model: state_dict, jnn.save, jnn.load.

Ported from 003 ("model saving": ``torch.save(net.state_dict(), 'net.pth')``, then
``net2 = Net(); net2.load_state_dict(torch.load('net.pth'))``) and 004
(``model.state_dict()`` printed key by key), plus the checkpoint torch programs write
during training: a dict of the model's and the optimizer's state_dicts and the epoch,
restored into a fresh model and optimizer that then continue identically.

What the port changed: ``torch.save``/``torch.load`` -> ``jnn.save``/``jnn.load``, same
arguments.  jnn's files hold arrays (safetensors) and the structure around them (JSON), and
loading one never runs code.  The article's other form, ``torch.save(net, 'net_all.pth')``,
pickles the whole module object; jnn does not write pickles: save the ``state_dict`` and
rebuild the model from its class, as above.

Run:  python examples/from_the_docs/save_load.py [--out-dir DIR]
"""

# The article's text is kept: ``super(Net, self).__init__()`` included.
# ruff: noqa: UP008

import argparse
import tempfile
from pathlib import Path

import jax.numpy as jnp

import jnn
import jnn.nn as nn
import jnn.nn.functional as F
from jnn import optim


class Net(nn.Module):  # 003's functional Net
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 100)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.reshape(-1, 16 * 5 * 5)  # torch: x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def make_step(net, optimizer):
    @jnn.compile
    def train_step(x, y):
        def closure():
            optimizer.zero_grad()
            return F.cross_entropy(net(x), y)
        return optimizer.step(closure)
    return train_step


def main(quick: bool = False, out_dir: Path | None = None) -> dict:
    """Save, load, compare; returns the printed numbers."""
    out_dir = Path(out_dir or tempfile.mkdtemp())
    jnn.manual_seed(0)
    net = Net()
    model_dict = net.state_dict()
    for k, v in model_dict.items():
        print(k, tuple(v.shape))

    jnn.save(net.state_dict(), out_dir / 'net.pth')
    net2 = Net()
    net2.load_state_dict(jnn.load(out_dir / 'net.pth'))
    input = jnn.randn(2, 3, 32, 32)
    same_outputs = bool(jnp.array_equal(net(input), net2(input)))
    print("net2 loaded from net.pth gives the same outputs:", same_outputs)
    try:  # the article's other form, torch.save(net, 'net_all.pth'), pickles the module
        jnn.save(net, out_dir / 'net_all.pth')
    except TypeError as error:
        print("jnn.save(net, 'net_all.pth'): TypeError:", str(error).split(";")[0])

    # A training checkpoint: model, optimizer (Adam's moments and step counts), epoch.
    x, y = jnn.randn(8, 3, 32, 32), jnn.randint(0, 100, (8,))
    optimizer = optim.Adam(net.parameters(), lr=1e-3)
    train_step = make_step(net, optimizer)
    for _ in range(2):
        train_step(x, y)
    jnn.save({'epoch': 2, 'model': net.state_dict(), 'optimizer': optimizer.state_dict()},
             out_dir / 'checkpoint.pth')

    checkpoint = jnn.load(out_dir / 'checkpoint.pth')
    net3 = Net()
    net3.load_state_dict(checkpoint['model'])
    optimizer3 = optim.Adam(net3.parameters(), lr=1e-3)
    optimizer3.load_state_dict(checkpoint['optimizer'])
    resumed = make_step(net3, optimizer3)
    original, restored = float(train_step(x, y)), float(resumed(x, y))
    print(f"epoch {checkpoint['epoch']} resumed: next loss {restored:.6f}, "
          f"without the round trip {original:.6f}")
    return {"keys": list(model_dict), "same_outputs": same_outputs,
            "epoch": checkpoint['epoch'], "losses": (original, restored),
            "files": sorted(p.name for p in out_dir.iterdir())}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="where net.pth and checkpoint.pth go (default: a temp dir)")
    main(out_dir=parser.parse_args().out_dir)
