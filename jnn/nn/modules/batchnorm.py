"""Batch normalization: ``BatchNorm1d/2d/3d``, ``SyncBatchNorm`` and the lazy
``LazyBatchNorm1d/2d/3d`` (torch.nn.modules.batchnorm).

Running statistics are buffers. In training mode ``forward`` computes the new values
with :func:`jnn.nn.functional.batch_norm_with_update` and assigns them back
(``self.running_mean = ...``), which works eagerly, inside ``jnn.autograd`` closures and
under ``jnn.compile`` (the buffers are threaded through the compiled program).

Checkpoints: the state_dict ``_metadata`` version is torch's 2; loading an older one
(version 1, or a plain dict without ``_metadata``) that lacks ``num_batches_tracked``
keeps the module's counter, as torch's ``_NormBase._load_from_state_dict`` does.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jnn._tensor_functions.dtypes import default_float
from jnn.nn import functional as F
from jnn.nn import init
from jnn.nn.functional._utils import check_input_dim
from jnn.nn.modules.lazy import (
    LazyModuleMixin,
    UninitializedBuffer,
    UninitializedParameter,
    register_uninitialized_buffer,
)
from jnn.nn.modules.linear import check_size
from jnn.nn.modules.module import Module
from jnn.nn.parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d",
           "LazyBatchNorm2d", "LazyBatchNorm3d"]

# torch keeps the batch counter in int64; jnn uses JAX's default integer of that kind
# (int32 unless jax_enable_x64), under torch's state_dict key. Loading torch's int64
# value casts it.
_COUNTER_DTYPE = jax.dtypes.canonicalize_dtype(jnp.int64)


def _filled(shape: tuple[int, ...], value: float, dtype: Any, device: Any,
            scalar: bool = False) -> jax.Array:
    """A new array of ``value`` (torch's ``torch.zeros``/``ones``/``empty`` + reset)."""
    check_size(shape, scalar)
    for size in shape:
        if size < 0:
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {size}: {list(shape)}")
    arr = jnp.full(shape, value, dtype=dtype or default_float())
    if device is not None:
        from jnn.nn.modules._casting import resolve_device

        arr = jax.device_put(arr, resolve_device(device))
    return arr


class _NormBase(Module):
    """State shared by batch and instance normalization: affine parameters and running stats."""

    _version = 2  # torch's version: 2 added num_batches_tracked

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(_filled((num_features,), 1.0, dtype, device, True))
            if bias:
                self.bias = Parameter(_filled((num_features,), 0.0, dtype, device, True))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _filled((num_features,), 0.0, dtype, device, True))
            self.register_buffer("running_var", _filled((num_features,), 1.0, dtype, device, True))
            self.register_buffer("num_batches_tracked", _filled((), 0, _COUNTER_DTYPE, device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Zero the running mean and the batch counter, set the running variance to 1."""
        if self.track_running_stats:
            self.running_mean = jnp.zeros_like(self.running_mean)
            self.running_var = jnp.ones_like(self.running_var)
            self.num_batches_tracked = jnp.zeros_like(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: jax.Array) -> None:
        raise NotImplementedError

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              local_metadata: dict[str, Any], strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str]) -> None:
        """torch's version-2 compatibility: a checkpoint from before ``num_batches_tracked``
        (version 1, or no ``_metadata``) loads, keeping the module's counter (or 0)."""
        version = local_metadata.get("version", None)
        if (version is None or version < 2) and self.track_running_stats:
            key = prefix + "num_batches_tracked"
            if key not in state_dict:
                state_dict[key] = (self.num_batches_tracked
                                   if self.num_batches_tracked is not None
                                   else jnp.zeros((), _COUNTER_DTYPE))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _LazyNormBase(LazyModuleMixin, _NormBase):
    """A norm layer whose ``num_features`` is read from the first input's dim 1.

    torch builds the layer with 0 features and no state, then swaps in placeholders:
    weight and bias (when ``affine``), running mean and variance (when
    ``track_running_stats``); ``num_batches_tracked`` is an ordinary 0 from the start.
    """

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__(0, eps, momentum, False, False, device, dtype,  # type: ignore[call-arg]
                         bias=False)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            for name in ("running_mean", "running_var"):
                register_uninitialized_buffer(self, name,
                                              UninitializedBuffer(device=device, dtype=dtype))
            self.num_batches_tracked = _filled((), 0, _COUNTER_DTYPE, device)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: jax.Array) -> None:  # type: ignore[override]
        """Set ``num_features = input.shape[1]`` and create the state (torch's rule)."""
        if not self.has_uninitialized_params():
            return
        self.num_features = jnp.shape(input)[1]
        shape = (self.num_features,)
        if self.affine:
            self.weight.materialize(shape)
            if self.bias is not None:
                self.bias.materialize(shape)
        if self.track_running_stats:
            self.running_mean.materialize(shape)
            self.running_var.materialize(shape)
        self.reset_parameters()


class _BatchNorm(_NormBase):
    def _averaging_factor(self) -> float | jax.Array:
        """Count this batch and return torch's ``exponential_average_factor``.

        With ``momentum=None`` the factor is ``1 / num_batches_tracked`` (a cumulative
        average); it is computed on the device, so a compiled step never re-traces.
        """
        factor: float | jax.Array = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked = self.num_batches_tracked + 1
            if self.momentum is None:
                factor = 1.0 / self.num_batches_tracked.astype(jnp.float32)
        return factor

    def forward(self, input: jax.Array) -> jax.Array:
        self._check_input_dim(input)
        factor = self._averaging_factor()
        batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        passes_stats = not self.training or self.track_running_stats
        out, mean, var = F.batch_norm_with_update(
            input, self.running_mean if passes_stats else None,
            self.running_var if passes_stats else None, self.weight, self.bias,
            batch_stats, factor, self.eps)
        if self.training and self.track_running_stats:
            self.running_mean, self.running_var = mean, var
        return out


_BATCH_NORM_DOC = """Batch normalization over a {rank} input, per channel.

    :math:`y = \\frac{{x - E[x]}}{{\\sqrt{{Var[x] + \\epsilon}}}} \\gamma + \\beta`. In training the
    batch's statistics normalize (biased variance) and the running ones are updated,
    :math:`\\hat x \\leftarrow (1 - m) \\hat x + m x_t` with the unbiased variance; in eval the
    running ones normalize (unless ``track_running_stats=False``).

    Args:
        num_features: :math:`C`, the channels.
        eps: added to the variance. Default ``1e-5``.
        momentum: :math:`m`; ``None`` for a cumulative average over
            ``num_batches_tracked`` batches. Default ``0.1``.
        affine: learn :math:`\\gamma` and :math:`\\beta`. Default ``True``.
        track_running_stats: keep running statistics. Default ``True``.
        device, dtype: where and of what type the state is created.
        bias: (keyword) learn :math:`\\beta` when ``affine``. Default ``True``.

    Shape:
        - Input: {shape}. Output: the same.

    Attributes:
        weight: :math:`(C)`, ones. bias: :math:`(C)`, zeros.
        running_mean: :math:`(C)` buffer, zeros. running_var: :math:`(C)` buffer, ones.
        num_batches_tracked: scalar integer buffer, 0 (int32 unless x64; torch's int64
            checkpoints load into it).

    PyTorch: ``torch.nn.{name}`` (same state_dict keys, repr and errors).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.{name}(3)(jnp.ones({example})).shape
        {example}
    """


class BatchNorm1d(_BatchNorm):
    __doc__ = _BATCH_NORM_DOC.format(rank="2D or 3D", shape=":math:`(N, C)` or :math:`(N, C, L)`",
                                     name="BatchNorm1d", example="(4, 3, 5)")

    def _check_input_dim(self, input: jax.Array) -> None:
        check_input_dim(input, (2, 3))


class BatchNorm2d(_BatchNorm):
    __doc__ = _BATCH_NORM_DOC.format(rank="4D", shape=":math:`(N, C, H, W)`",
                                     name="BatchNorm2d", example="(2, 3, 4, 4)")

    def _check_input_dim(self, input: jax.Array) -> None:
        check_input_dim(input, (4,))


class BatchNorm3d(_BatchNorm):
    __doc__ = _BATCH_NORM_DOC.format(rank="5D", shape=":math:`(N, C, D, H, W)`",
                                     name="BatchNorm3d", example="(2, 3, 2, 2, 2)")

    def _check_input_dim(self, input: jax.Array) -> None:
        check_input_dim(input, (5,))


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over any :math:`(N, C, *)` input, statistics synchronised across
    devices.

    On one device it equals ``BatchNorm*d`` (torch does the same when no process group
    is initialised). Averaging the statistics across devices arrives with jnn's sharding
    support: then the batch mean and variance will be reduced over the data-parallel mesh
    axis; today ``process_group`` is stored and not used.

    Args: as :class:`BatchNorm2d`, plus ``process_group`` (stored, unused).

    Shape:
        - Input: :math:`(N, C, *)`. Output: the same.

    Attributes: as :class:`BatchNorm2d`.

    PyTorch: ``torch.nn.SyncBatchNorm``; ``convert_sync_batchnorm`` is provided.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.SyncBatchNorm(3)(jnp.ones((2, 3, 4))).shape
        (2, 3, 4)
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input: jax.Array) -> None:
        if jnp.ndim(input) < 2:
            raise ValueError(f"expected at least 2D input (got {jnp.ndim(input)}D input)")
        if jnp.shape(input)[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """Replace every ``BatchNorm*d`` in ``module`` by a ``SyncBatchNorm`` with its state."""
        output = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            output = cls(module.num_features, module.eps, module.momentum, module.affine,
                         module.track_running_stats, process_group,
                         bias=module.bias is not None)
            if module.affine:
                output.weight = module.weight
                if module.bias is not None:
                    output.bias = module.bias
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(output, name, getattr(module, name))
            output.train(module.training)
        for name, child in module.named_children():
            output.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return output


_LAZY_BATCH_NORM_DOC = """A :class:`{name}` whose ``num_features`` is read from the first input.

    ``weight``, ``bias``, ``running_mean`` and ``running_var`` start as placeholders
    (:class:`~jnn.nn.UninitializedParameter`, :class:`~jnn.nn.UninitializedBuffer`); the
    first call sets ``num_features = input.shape[1]``, creates them as :class:`{name}` does
    and the module becomes a :class:`{name}`. ``num_batches_tracked`` is 0 from the start.

    Args:
        eps, momentum, affine, track_running_stats, device, dtype, bias: as
            :class:`{name}`.

    Shape:
        - Input: {shape}. Output: the same.

    PyTorch: ``torch.nn.Lazy{name}`` (same placeholders, state_dict, class switch).
    Call it once eagerly before ``jax.jit``/``jnn.compile`` (see ``jnn.nn.modules.lazy``).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> layer = nn.Lazy{name}()
        >>> layer(jnp.ones({example})).shape, type(layer).__name__, layer.num_features
        ({example}, '{name}', 3)
    """


class LazyBatchNorm1d(_LazyNormBase, _BatchNorm):
    __doc__ = _LAZY_BATCH_NORM_DOC.format(
        name="BatchNorm1d", shape=":math:`(N, C)` or :math:`(N, C, L)`", example="(4, 3, 5)")
    cls_to_become = BatchNorm1d
    _check_input_dim = BatchNorm1d._check_input_dim


class LazyBatchNorm2d(_LazyNormBase, _BatchNorm):
    __doc__ = _LAZY_BATCH_NORM_DOC.format(
        name="BatchNorm2d", shape=":math:`(N, C, H, W)`", example="(2, 3, 4, 4)")
    cls_to_become = BatchNorm2d
    _check_input_dim = BatchNorm2d._check_input_dim


class LazyBatchNorm3d(_LazyNormBase, _BatchNorm):
    __doc__ = _LAZY_BATCH_NORM_DOC.format(
        name="BatchNorm3d", shape=":math:`(N, C, D, H, W)`", example="(2, 3, 2, 2, 2)")
    cls_to_become = BatchNorm3d
    _check_input_dim = BatchNorm3d._check_input_dim
