"""jnn: PyTorch's torch.nn and torch.optim API on JAX."""

from jnn import autograd, backends, cuda, distributions, func, nn, optim, random, utils
from jnn._compile import (
    CompiledFunction,
    CompiledModule,
    OptimizedModule,
    RecompileWarning,
    TraceTimeValueWarning,
    compile,
)
from jnn._eager_step import ClosureCompileWarning
from jnn._precision import get_float32_matmul_precision, set_float32_matmul_precision
from jnn._summary import summary
from jnn._tensor_functions import *  # noqa: F403
from jnn._tensor_functions import __all__ as _tensor_functions_all
from jnn.autograd import (
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
    value_and_grad,
)
from jnn.random import (
    Generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    rand,
    randn,
    seed,
    set_rng_state,
)
from jnn.serialization import load, save

__version__ = "0.1.0"
__all__ = [
    "autograd", "func", "nn", "optim", "random", "compile", "grad", "value_and_grad",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
    "is_inference_mode_enabled", "manual_seed", "seed",
    "initial_seed", "get_rng_state", "set_rng_state", "randn", "rand", "Generator",
    "CompiledFunction", "CompiledModule", "OptimizedModule", "RecompileWarning",
    "TraceTimeValueWarning",
    "ClosureCompileWarning",
    "backends", "cuda", "distributions", "utils", "summary", "save", "load",
    "set_float32_matmul_precision", "get_float32_matmul_precision", *_tensor_functions_all,
]
