"""Forward hooks: reading a layer's output without changing the model.

Ported from 003 (``nn.Module``, "hooks"): register a forward hook on an inner layer, run
the model, read what the hook captured, remove the hook.  The article hooks
``model.layer8`` of torchvision's ResNet-34 (which has no ``layer8``: its blocks are
``layer1`` to ``layer4``) and copies the output into a pre-made tensor with
``features.copy_(output.data)``; here the model is a small conv net of the same shape of
code, and the hook stores the output in a dict (a ``jax.Array`` is immutable: there is no
``copy_`` into it).

It also shows a forward pre-hook (it sees, and may replace, the inputs) and the one rule
hooks follow under ``jnn.compile``: Python code, hooks included, runs when the step is
traced, not at every call -- so a compiled function returns what its hooks captured
instead of leaving it in a dict (see "What runs once under jnn.compile" in the README).

Run:  python examples/from_the_docs/hooks.py
"""

import jnn
import jnn.nn as nn
import jnn.nn.functional as F


class Net(nn.Module):
    """Two conv blocks and a classifier, named like a ResNet's stages."""

    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.layer2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(16 * 8 * 8, 10)

    def forward(self, x):
        x = self.layer2(self.layer1(x))
        return self.fc(x.reshape(x.shape[0], -1))


def main(quick: bool = False) -> dict:
    """Run the hooks; returns the printed shapes and counts."""
    jnn.manual_seed(0)
    model = Net()
    input = jnn.randn(4, 3, 32, 32)

    features = {}

    def hooks(module, input, output):
        features["layer2"] = output  # torch: features.copy_(output.data)

    handle = model.layer2.register_forward_hook(hooks)
    output = model(input)
    handle.remove()
    print("output", output.shape, "- captured layer2 output", features["layer2"].shape)
    features.clear()
    model(input)
    print("after handle.remove(), the hook no longer runs:", features == {})

    calls = []

    def scale_input(module, args):  # a pre-hook may return new inputs
        calls.append(module.__class__.__name__)
        return (args[0] / 255.0,)

    pre = model.layer1.register_forward_pre_hook(scale_input)
    scaled = model(input * 255.0)
    pre.remove()
    same = float(abs(scaled - output).max())
    print(f"pre-hook on layer1 rescaled the input: outputs differ by {same:.1e}")

    handle = model.layer2.register_forward_hook(hooks)

    @jnn.compile
    def predict(x):
        logits = model(x)
        return F.softmax(logits, dim=1), features.pop("layer2")  # return what the hook saw

    for _ in range(2):  # the hook runs at the first call (the trace), not at the second
        probabilities, layer2 = predict(input)
    handle.remove()
    print("compiled: probabilities", probabilities.shape, "- layer2 output", layer2.shape)
    return {"captured": features, "layer2_shape": layer2.shape, "pre_hook_calls": calls,
            "pre_hook_diff": same, "probabilities_shape": probabilities.shape}


if __name__ == "__main__":
    main()
