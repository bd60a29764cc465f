"""Walking a module tree: add_module, named_children, named_modules, apply, state_dict.

Ported from the seed documents' walk-throughs of ``nn.Module``'s methods:

* 004 (a reference of torch.nn): ``add_module`` and ``named_children()``;
  ``named_modules()`` on a model holding one submodule under two names (it is listed
  once); ``state_dict()`` printed key by key; ``named_parameters()`` filtered by name;
  ``apply(init_weights)`` under ``@torch.no_grad()`` with ``m.weight.fill_(1.0)``;
* 003: the three ways to build an ``nn.Sequential`` (``add_module``, positional,
  ``OrderedDict``) and an ``nn.ModuleList``;
* 002: ``model.apply(init_weights)`` with ``nn.init.normal_``, and ``train()``/``eval()``
  reaching every submodule.

The port changed the imports only (``torch`` -> ``jnn``), and ``param.size()`` prints a
tuple where torch prints a ``torch.Size``.

Run:  python examples/from_the_docs/named_modules.py
"""

# The articles' text is kept: ``super(Model, self).__init__()`` included.
# ruff: noqa: UP008

from collections import OrderedDict

import jnn
import jnn.nn as nn


class Model(nn.Module):  # 004: named_children
    def __init__(self):
        super(Model, self).__init__()
        self.add_module("conv", nn.Conv2d(10, 20, 4))
        self.add_module("conv1", nn.Conv2d(20, 10, 4))


class SharedModel(nn.Module):  # 004: named_modules, one submodule under two names
    def __init__(self):
        super(SharedModel, self).__init__()
        submodule = nn.Conv2d(10, 20, 4)
        self.add_module("conv", submodule)
        self.add_module("conv1", submodule)


@jnn.no_grad()
def init_weights(m):  # 004: apply
    print(m)
    if type(m) == nn.Linear:  # noqa: E721 - the article's comparison
        m.weight.fill_(1.0)
        print(m.weight)


def main(quick: bool = False) -> dict:
    """Walk the trees; returns the printed names."""
    jnn.manual_seed(0)
    model = Model()
    for name, module in model.named_children():
        print(name)
        print(module)
    children = [name for name, _ in model.named_children()]

    model = SharedModel()
    for name, module in model.named_modules():
        print(name)
        print(module)
    modules = [name for name, _ in model.named_modules()]

    model_dict = model.state_dict()
    for k, v in model_dict.items():
        print(k)
        print(v.shape)  # the article prints v itself: 3,200 numbers
    for name, param in model.conv.named_parameters():
        if name in ['bias']:
            print(param.size())

    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    net.apply(init_weights)

    net1 = nn.Sequential()  # 003: three ways to build a Sequential
    net1.add_module('conv', nn.Conv2d(3, 3, 3))
    net1.add_module('batchnorm', nn.BatchNorm2d(3))
    net1.add_module('relu', nn.ReLU())
    net2 = nn.Sequential(nn.Conv2d(3, 3, 3), nn.BatchNorm2d(3), nn.ReLU())
    net3 = nn.Sequential(OrderedDict([('conv1', nn.Conv2d(3, 3, 3)),
                                      ('batchnorm', nn.BatchNorm2d(3)),
                                      ('relu', nn.ReLU())]))
    print(net1, net2, net3, sep="\n")
    # the article's nn.Conv2d(3, 4) lacks the kernel size (torch raises a TypeError too)
    modulelist = nn.ModuleList([nn.Conv2d(3, 4, 3), nn.BatchNorm2d(3), nn.ReLU()])
    print(modulelist)

    def init_normal(m):  # 002: apply with nn.init
        if type(m) == nn.Linear:  # noqa: E721
            nn.init.normal_(m.weight, mean=0, std=0.01)

    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    mlp.apply(init_normal)
    mlp.eval()
    modes = [m.training for m in mlp.modules()]
    print("after eval(), training flags:", modes, "- weight std",
          round(float(mlp[1].weight.data.std()), 4))
    return {"children": children, "modules": modules, "state_dict_keys": list(model_dict),
            "linear_weight": net[0].weight.data.tolist(), "sequential_names": [
                [n for n, _ in s.named_children()] for s in (net1, net2, net3)],
            "eval_modes": modes}


if __name__ == "__main__":
    main()
