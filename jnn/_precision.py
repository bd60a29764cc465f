"""float32 matrix-product precision, as torch sets it.

torch computes float32 matrix products in full float32 unless told otherwise
(``torch.get_float32_matmul_precision() == "highest"``), and lets cuDNN convolutions use
TF32 (``torch.backends.cudnn.allow_tf32 = True``).  XLA, at JAX's default precision, computes
both with TF32 passes on NVIDIA GPUs since Ampere (about 3e-4 relative error on an H200 where
float32 gives 1e-6: ``benchmarks/matmul_precision.py``).  So jnn's own products (``F.linear``,
``F.bilinear``, the recurrent layers, ``jnn.matmul`` and its family) pass the precision this
module says explicitly, and its convolutions pass TF32-allowing ``DEFAULT``: the numbers are
torch's on every backend.  On a CPU all of these are full float32 alike.

The setting is read when a function is traced.  Changing it also sets JAX's
``jax_default_matmul_precision`` to match, which (a) makes plain JAX products (``x @ w`` on
arrays) follow it, as torch's setting covers every product, and (b) is part of every
``jax.jit`` cache key, so functions traced before the change are traced again rather than
left at the old precision.

Importing jnn sets that JAX default to torch's (``"highest"``) unless the program chose one
first (``jax.config.update("jax_default_matmul_precision", ...)`` or the
``JAX_DEFAULT_MATMUL_PRECISION`` variable): a port's own products on arrays
(``x @ self.custom_param`` where ``x`` is an activation, a ``jax.Array`` whose ``@`` jnn
never sees) would otherwise be TF32 on a GPU, 3e-4 away from torch's.  Other JAX code in
the process gets full float32 products too; ``jnn.set_float32_matmul_precision("high")``
(torch's way) or JAX's own config after the import gives TF32 back.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["set_float32_matmul_precision", "get_float32_matmul_precision"]

# torch's names -> the explicit precision of a float32 product, and JAX's config value
_PRECISIONS = {"highest": (lax.Precision.HIGHEST, "highest"),
               "high": (lax.Precision.HIGH, "high"),
               "medium": (lax.Precision.DEFAULT, "default")}
_current = "highest"
_jax_config_set = False  # whether jax_default_matmul_precision is ours (see conv)
_conv_tf32 = True  # torch.backends.cudnn.allow_tf32's default
_FLOAT32 = (jnp.dtype(jnp.float32), jnp.dtype(jnp.complex64))
_FLOAT64 = (jnp.dtype(jnp.float64), jnp.dtype(jnp.complex128))


def set_float32_matmul_precision(precision: str) -> None:
    """How float32 matrix products are computed: ``"highest"`` (full float32, the
    default), ``"high"`` (TF32 or a 3-pass bfloat16 sum where the device has one) or
    ``"medium"`` (one bfloat16 pass).  Like torch, an unknown name warns and changes
    nothing.  PyTorch: ``torch.set_float32_matmul_precision``."""
    global _current, _jax_config_set
    if not isinstance(precision, str):
        raise RuntimeError("set_float32_matmul_precision expects a str, but got "
                           f"{type(precision).__name__}")
    if precision not in _PRECISIONS:
        # (torch's words, its missing space included, so that filters written for it match)
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      "setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _current = precision
    jax.config.update("jax_default_matmul_precision", _PRECISIONS[precision][1])
    _jax_config_set = True


def get_float32_matmul_precision() -> str:
    """The current float32 matrix-product precision's name.  PyTorch:
    ``torch.get_float32_matmul_precision``."""
    return _current


def _any_float32(operands: tuple) -> bool:
    return any(getattr(x, "dtype", None) in _FLOAT32 for x in operands)


def _not_float32(operands: tuple) -> lax.Precision | None:
    """The precision of a product or convolution with no float32 operand.  Half and
    bfloat16 ones (and integer ones) have no float32 mode to choose: ``DEFAULT``, said
    explicitly where jnn set JAX's default to full float32 (that default would ask XLA for
    more than their own fast products, torch's); float64 ones ``HIGHEST``; else ``None``."""
    if any(getattr(x, "dtype", None) in _FLOAT64 for x in operands):
        return lax.Precision.HIGHEST
    return lax.Precision.DEFAULT if _jax_config_set else None


def matmul(*operands: Any) -> lax.Precision | None:
    """The ``precision=`` of a matrix product of ``operands`` (arrays; anything else is
    skipped): the setting above where one is float32 (or complex64), else see
    ``_not_float32``."""
    return _PRECISIONS[_current][0] if _any_float32(operands) else _not_float32(operands)


def conv_tf32() -> bool:
    """Whether float32 convolutions may use TF32 (``jnn.backends.cudnn.allow_tf32``)."""
    return _conv_tf32


def set_conv_tf32(allow: bool) -> None:
    """``jnn.backends.cudnn.allow_tf32 = allow``.  The setting is read when a function is
    traced, so a change drops JAX's traces (``jax.clear_caches()``): every function,
    ``jnn.compile``'s programs included, is traced again at its next call."""
    global _conv_tf32
    if allow != _conv_tf32:
        _conv_tf32 = allow
        jax.clear_caches()


def conv(*operands: Any) -> lax.Precision | None:
    """The ``precision=`` of a convolution: for float32 ones, ``HIGHEST`` where
    ``cudnn.allow_tf32`` is off; else JAX's own setting (``None``), unless
    :func:`set_float32_matmul_precision` set that, where they keep ``DEFAULT`` (TF32 allowed
    on GPUs, as torch's ``cudnn.allow_tf32`` default, whatever the products' precision)."""
    if not _any_float32(operands):
        return _not_float32(operands)
    if not _conv_tf32:
        return lax.Precision.HIGHEST
    return lax.Precision.DEFAULT if _jax_config_set else None


def _defaults() -> None:
    """jnn's settings as the import left them (also what the tests restore)."""
    global _current, _jax_config_set
    _current = "highest"
    jax.config.update("jax_default_matmul_precision", _IMPORT_DEFAULT[0])
    _jax_config_set = _IMPORT_DEFAULT[1]


# (see the module's docstring) JAX's default product precision, set to torch's unless the
# program chose one before importing jnn: (the config value, whether jnn set it)
_IMPORT_DEFAULT = (("highest", True) if jax.config.jax_default_matmul_precision is None
                   else (jax.config.jax_default_matmul_precision, False))
_defaults()
