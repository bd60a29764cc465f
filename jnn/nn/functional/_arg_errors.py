"""torch's error for a non-tensor (``None``, a list, a Python number) where ``F.*`` takes a tensor.

torch answers in one of three ways, and a porter's ``pytest.raises`` matches the one torch
gives:

* functions bound in C++ (``relu``, ``linear``, ``cross_entropy``): the argument parser's
  ``TypeError: linear(): argument 'input' (position 1) must be Tensor, not NoneType``,
  naming the ATen function (``cross_entropy_loss``, ``nll_loss_nd``) and its argument;
* ``conv1d``/``conv2d``/``conv3d``, overloaded in C++: ``received an invalid combination of
  arguments`` (also what a float ``stride`` or ``groups`` gives, see :func:`invalid_combination`);
* functions written in Python (``mse_loss``, ``softmax``, ``interpolate``): the
  ``AttributeError`` of the first tensor method they call (``'list' object has no attribute
  'size'``).

The tables below were read off torch 2.13 (``tests/nn/test_dispatch.py`` compares them).
"""

from __future__ import annotations

from typing import Any

__all__ = ["not_a_tensor", "invalid_combination", "argument_check", "NONE_ALLOWED",
           "SCALAR_ALLOWED"]

# Required tensor parameters that torch nevertheless lets be None (batch norm's running
# statistics in training mode: any function's) or a Python number (gaussian_nll_loss's var).
NONE_ALLOWED = frozenset({"running_mean", "running_var"})
SCALAR_ALLOWED = frozenset({("gaussian_nll_loss", "var")})

# Functions written in Python in torch: the attribute their first use of the argument
# reads ("" for every argument, or per argument).
_ATTRIBUTE: dict[str, str | dict[str, str]] = {
    "sigmoid": "sigmoid", "tanh": "tanh", "softsign": "abs", "tanhshrink": "tanh",
    "glu": "dim", "normalize": "norm", "dropout1d": "dim", "dropout2d": "dim",
    "dropout3d": "dim", "l1_loss": "size", "mse_loss": "size", "smooth_l1_loss": "size",
    "huber_loss": "size", "binary_cross_entropy": "size",
    "binary_cross_entropy_with_logits": "size", "margin_ranking_loss": "dim",
    "triplet_margin_with_distance_loss": "ndim",
    "linear_cross_entropy": {"input": "dim", "linear_weight": "dim", "target": "shape"},
    "instance_norm": "size", "group_norm": "dim", "local_response_norm": "dim",
    "max_pool3d_with_indices": "is_cuda", "max_unpool1d": {"input": "size",
                                                           "indices": "unsqueeze"},
    "max_unpool2d": {"input": "size"}, "max_unpool3d": {"input": "size"},
    "lp_pool1d": "pow", "lp_pool2d": "pow", "lp_pool3d": "pow",
    "adaptive_max_pool2d": "size", "adaptive_max_pool3d": "size",
    "adaptive_max_pool2d_with_indices": "size", "adaptive_max_pool3d_with_indices": "size",
    "adaptive_avg_pool2d": "size", "adaptive_avg_pool3d": "size",
    "embedding_bag": {"input": "dim", "weight": "dtype"},
    "interpolate": "dim", "upsample": "dim", "upsample_nearest": "dim",
    "upsample_bilinear": "dim", "affine_grid": "is_floating_point",
    "gaussian_nll_loss": {"input": "size"},
}

# C++-bound functions whose parser names another function or argument than jnn's:
# function -> (torch's function name, {argument: (torch's name, position)}).
_PARSER_NAMES: dict[str, tuple[str, dict[str, tuple[str, int]]]] = {
    "logsigmoid": ("log_sigmoid", {}),
    "one_hot": ("one_hot", {"tensor": ("input", 1)}),
    "gumbel_softmax": ("empty_like", {"logits": ("input", 1)}),
    "unfold": ("im2col", {}),
    "fold": ("col2im", {}),
    "nll_loss": ("nll_loss_nd", {}),
    "cross_entropy": ("cross_entropy_loss", {}),
    "multilabel_soft_margin_loss": ("log_sigmoid", {}),
    "adaptive_max_pool1d_with_indices": ("adaptive_max_pool1d", {}),
    "embedding": ("embedding", {"input": ("indices", 2), "weight": ("weight", 1)}),
    "grid_sample": ("grid_sampler", {}),
}

# Overloaded in C++: any bad argument is "an invalid combination".
_OVERLOADS = {
    name: (" * (Tensor input, Tensor weight, Tensor bias = None, tuple of ints stride = 1, "
           "tuple of ints padding = 0, tuple of ints dilation = 1, int groups = 1)\n"
           " * (Tensor input, Tensor weight, Tensor bias = None, tuple of ints stride = 1, "
           "str padding = \"valid\", tuple of ints dilation = 1, int groups = 1)\n")
    for name in ("conv1d", "conv2d", "conv3d")
}


def _torch_type_name(value: Any) -> str:
    import jax
    import numpy as np

    from jnn.nn.parameter import Parameter

    if isinstance(value, Parameter):
        return "Parameter"
    if isinstance(value, (jax.Array, np.ndarray)):
        return "Tensor"
    return type(value).__name__


def invalid_combination(name: str, args: tuple, kwargs: dict,
                        got: list[str] | None = None) -> TypeError:
    """torch's TypeError for an overloaded C++ function called with a bad argument type
    (``got``: the type names torch prints, where they are not the arguments' own)."""
    if got is None:
        got = [_torch_type_name(a) for a in args]
        got += [f"{k}={_torch_type_name(v)}" for k, v in kwargs.items()]
    return TypeError(f"{name}() received an invalid combination of arguments - got "
                     f"({', '.join(got)}), but expected one of:\n{_OVERLOADS[name]}")


def not_a_tensor(name: str, position: int, arg: str, value: Any, args: tuple,
                 kwargs: dict) -> Exception:
    """torch's exception for ``value`` (not a tensor) given as argument ``arg`` of ``name``
    (``position`` counts from 0)."""
    kind = type(value).__name__
    if name in _OVERLOADS:
        return invalid_combination(name, args, kwargs)
    attribute = _ATTRIBUTE.get(name)
    if isinstance(attribute, dict):
        attribute = attribute.get(arg)
    if name in ("softmax", "log_softmax", "softmin"):
        dim = args[1] if len(args) > 1 else kwargs.get("dim")
        if dim is None:
            attribute = "dim"  # torch infers the dim from input.dim() first
        elif name == "softmin":
            return TypeError(f"bad operand type for unary -: '{kind}'")
        else:
            attribute = name
    if name == "gaussian_nll_loss" and arg == "target":
        return TypeError(f"unsupported operand type(s) for -: 'Tensor' and '{kind}'")
    if name == "gaussian_nll_loss" and arg == "var":
        return TypeError(f"'<' not supported between instances of '{kind}' and 'int'")
    if attribute:
        return AttributeError(f"'{kind}' object has no attribute '{attribute}'")
    torch_name, renamed = _PARSER_NAMES.get(name, (name, {}))
    arg, number = renamed.get(arg, (arg, position + 1))
    return TypeError(f"{torch_name}(): argument '{arg}' (position {number}) must be Tensor, "
                     f"not {kind}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or (
        type(value).__module__ == "numpy" and getattr(value, "dtype", None) is not None
        and value.dtype.kind in "iu" and value.ndim == 0)


def _is_ints(value: Any) -> bool:
    """torch's ``tuple of ints`` (an int is expanded)."""
    if isinstance(value, (list, tuple)):
        return all(_is_int(v) for v in value)
    return _is_int(value)


def _check_conv(name: str, args: tuple, kwargs: dict) -> None:
    """conv1d/2d/3d: stride, padding, dilation ints (padding also a string), groups an int;
    anything else (``stride=1.5``) matches neither overload."""
    names = ("stride", "padding", "dilation", "groups")
    for position, arg in enumerate(names, start=3):
        value = args[position] if position < len(args) else kwargs.get(arg, 1)
        ok = (_is_int(value) if arg == "groups"
              else _is_ints(value) or (arg == "padding" and isinstance(value, str)))
        if not ok:
            raise invalid_combination(name, args, kwargs)


def _argument(args: tuple, kwargs: dict, position: int, name: str, default: Any) -> Any:
    return args[position] if position < len(args) else kwargs.get(name, default)


def _traced_note(value: Any) -> str:
    from jnn.nn.functional._utils import traced_note  # (_utils imports this module's user)

    return traced_note(value)


def _check_softmax_dim(name: str, args: tuple, kwargs: dict) -> None:
    dim = _argument(args, kwargs, 1, "dim", None)
    if dim is not None and not _is_int(dim):  # softmin calls softmax
        raise TypeError(f"{'softmax' if name == 'softmin' else name}(): argument 'dim' "
                        f"(position 1) must be int, not {_torch_type_name(dim)}{_traced_note(dim)}")


def _check_pad(args: tuple, kwargs: dict) -> None:
    pad = _argument(args, kwargs, 1, "pad", ())
    if not isinstance(pad, (list, tuple)):
        raise TypeError("pad(): argument 'pad' (position 2) must be tuple of ints, not "
                        f"{_torch_type_name(pad)}")
    for pos, value in enumerate(pad):
        if not _is_int(value):
            raise TypeError("pad(): argument 'pad' (position 2) must be tuple of ints, but "
                            f"found element of type {_torch_type_name(value)} at pos {pos}"
                            f"{_traced_note(value)}")


def _check_batch_norm(args: tuple, kwargs: dict) -> None:
    momentum = _argument(args, kwargs, 6, "momentum", 0.1)
    if isinstance(momentum, (str, bytes, list, tuple, dict)):
        raise TypeError("batch_norm(): argument 'momentum' (position 7) must be float, not "
                        f"{_torch_type_name(momentum)}")


def argument_check(name: str) -> Any:
    """A check of ``name``'s non-tensor arguments run on every call (Python values only:
    free under jit), or None: torch's parser errors for a wrong argument type."""
    if name in _OVERLOADS:
        return lambda args, kwargs: _check_conv(name, args, kwargs)
    if name in ("softmax", "log_softmax", "softmin"):
        return lambda args, kwargs: _check_softmax_dim(name, args, kwargs)
    return {"pad": _check_pad, "batch_norm": _check_batch_norm}.get(name)
