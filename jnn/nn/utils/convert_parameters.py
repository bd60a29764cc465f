"""Parameters to one flat vector and back, like ``torch.nn.utils.convert_parameters``.

PyTorch: ``torch.nn.utils.parameters_to_vector`` / ``vector_to_parameters``. torch checks
that all parameters sit on one device; jnn leaves that to JAX, whose ``concatenate`` raises
its own error for arrays committed to different devices.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn.nn.parameter import Parameter, _read

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _typename(obj: Any) -> str:
    """``torch.typename`` for non-tensors: the qualified class name."""
    cls = type(obj)
    module = cls.__module__ or ""
    return cls.__qualname__ if module in ("", "builtins") else f"{module}.{cls.__qualname__}"


def parameters_to_vector(parameters: Iterable[Parameter | jax.Array]) -> jax.Array:
    r"""Flatten ``parameters`` into one vector (each raveled, then concatenated in order).

    Args:
        parameters: an iterable of Parameters (``model.parameters()``) or arrays.

    Returns:
        A 1-D ``jax.Array`` of length ``sum(p.numel())``.

    Reads are recorded like any other parameter use, so the vector may appear in a loss
    differentiated by ``jnn.autograd.backward`` or ``optimizer.step(closure)`` (an L2
    penalty, say) and the gradient reaches the parameters.

    PyTorch: ``torch.nn.utils.parameters_to_vector``.

    Example:
        >>> import jnn.nn as nn
        >>> parameters_to_vector(nn.Linear(3, 2).parameters()).shape
        (8,)
    """
    vec = []
    for p in parameters:
        if not isinstance(p, (Parameter, jax.Array, np.ndarray)):  # torch reads p.device
            raise AttributeError(f"'{type(p).__name__}' object has no attribute 'device'")
        vec.append(jnp.ravel(_read(p) if isinstance(p, Parameter) else jnp.asarray(p)))
    if not vec:  # torch.cat([]) refuses an empty list
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    return jnp.concatenate(vec)


def vector_to_parameters(vec: jax.Array | Parameter, parameters: Iterable[Parameter]) -> None:
    r"""Copy consecutive slices of ``vec`` into ``parameters``' ``.data``, in order.

    Args:
        vec: a 1-D array (or Parameter) holding all the parameters (e.g. from
            :func:`parameters_to_vector`).
        parameters: an iterable of Parameters; each ``p.data`` is replaced by the next
            ``p.numel()`` elements of ``vec``, reshaped to ``p.shape``.

    As in torch, ``p.data`` takes ``vec``'s dtype, and surplus elements of ``vec`` are
    ignored. Works inside ``jnn.compile`` (``vec`` may be traced). If the call fails, no
    parameter has changed.

    PyTorch: ``torch.nn.utils.vector_to_parameters``.

    Example:
        >>> import jax.numpy as jnp
        >>> import jnn.nn as nn
        >>> layer = nn.Linear(3, 2)
        >>> vector_to_parameters(jnp.zeros(8), layer.parameters())
        >>> float(abs(layer.weight.data).sum())
        0.0
    """
    if isinstance(vec, Parameter):  # a Tensor to torch, which copies from its .data
        vec = vec.data
    if not isinstance(vec, (jax.Array, np.ndarray)):
        raise TypeError(f"expected torch.Tensor, but got: {_typename(vec)}")
    vec = jnp.asarray(vec)
    pointer = 0
    writes = []
    for param in parameters:
        if not isinstance(param, (Parameter, jax.Array, np.ndarray)):  # torch: param.device
            raise AttributeError(
                f"'{type(param).__name__}' object has no attribute 'device': "
                "vector_to_parameters expects Parameters (whose .data it replaces), but one "
                f"of the parameters is a {_typename(param)}")
        if not isinstance(param, Parameter):  # an immutable array cannot be written into
            raise TypeError(
                "vector_to_parameters expects Parameters (whose .data it replaces), but one "
                f"of the parameters is a {_typename(param)}"
            )
        if vec.ndim == 0:  # torch slices vec for the first parameter
            raise IndexError("slice() cannot be applied to a 0-dim tensor.")
        shape = param.shape
        num_param = param.numel()
        chunk = vec[pointer:pointer + num_param]
        if chunk.size != num_param:  # torch's view_as error for a too-short vector
            raise RuntimeError(
                f"shape '{list(shape)}' is invalid for input of size {chunk.size}"
            )
        if param.requires_grad and not jnp.issubdtype(vec.dtype, jnp.inexact):
            # the .data setter's check, made before anything is written
            raise RuntimeError("data set to a tensor that requires gradients must be floating "
                               "point or complex dtype")
        writes.append((param, chunk.reshape(shape)))
        pointer += num_param
    # Written once every slice is cut, so a failed call changes no parameter (torch has
    # written the first ones when a too-short vector runs out).
    for param, value in writes:
        param.data = value
