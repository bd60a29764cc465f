"""jnn: PyTorch's torch.nn and torch.optim API on JAX."""

import jax.numpy as _jnp

from jnn import autograd, func, nn, optim, random
from jnn._compile import CompiledFunction, CompiledModule, RecompileWarning, compile
from jnn.autograd import (
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    value_and_grad,
)
from jnn.random import initial_seed, manual_seed, rand, randn, seed

# torch's dtype names, so `model.to(jnn.float16)` ports as is.
float32 = _jnp.float32
float16 = _jnp.float16
bfloat16 = _jnp.bfloat16
float64 = _jnp.float64
int32 = _jnp.int32
int64 = _jnp.int64
bool = _jnp.bool_  # noqa: A001 - torch's name

__version__ = "0.1.0"
__all__ = [
    "autograd", "func", "nn", "optim", "random", "compile", "grad", "value_and_grad",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "manual_seed", "seed",
    "initial_seed", "randn", "rand", "float32", "float16", "bfloat16", "float64", "int32",
    "int64", "CompiledFunction", "CompiledModule", "RecompileWarning",
]
