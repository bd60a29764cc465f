"""Instance normalization: ``InstanceNorm1d/2d/3d`` and the lazy ``LazyInstanceNorm1d/2d/3d``
(torch.nn.modules.instancenorm).

Each sample's channels are normalized over their own spatial extent. As in torch, the
defaults are ``affine=False, track_running_stats=False``; unbatched inputs (no ``N``) are
accepted; and with ``track_running_stats=True`` the running statistics are updated in
training (written back into the buffers, as ``BatchNorm`` does) but ``num_batches_tracked``
is not counted and ``momentum=None`` means a factor of 0 (torch's behaviour).

Checkpoints: as torch, a checkpoint without ``_metadata`` (saved before torch 0.4) that has
running statistics for a layer with ``track_running_stats=False`` is refused with torch's
message (the keys are dropped; the load raises even with ``strict=False``).
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp

from jnn.nn import functional as F
from jnn.nn.functional._utils import check_input_dim
from jnn.nn.modules.batchnorm import _LazyNormBase, _NormBase

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class _InstanceNorm(_NormBase):
    _no_batch_dim = 0  # rank of an unbatched input: (C, *spatial)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def _check_input_dim(self, input: jax.Array) -> None:
        check_input_dim(input, (self._no_batch_dim, self._no_batch_dim + 1))

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str,
                              local_metadata: dict[str, Any], strict: bool,
                              missing_keys: list[str], unexpected_keys: list[str],
                              error_msgs: list[str]) -> None:
        """torch's version-1 rule: pre-0.4 running statistics for a layer that keeps none."""
        if local_metadata.get("version", None) is None and not self.track_running_stats:
            keys = [prefix + name for name in ("running_mean", "running_var")
                    if prefix + name in state_dict]
            if keys:
                klass = type(self).__name__
                error_msgs.append(
                    "Unexpected running stats buffer(s) {names} for {klass} with "
                    "track_running_stats=False. If state_dict is a checkpoint saved before "
                    "0.4.0, this may be expected because {klass} does not track running stats "
                    "by default since 0.4.0. Please remove these keys from state_dict. If the "
                    "running stats are actually needed, instead set track_running_stats=True "
                    "in {klass} to enable them. See the documentation of {klass} for "
                    "details.".format(names=" and ".join(f'"{k}"' for k in keys), klass=klass))
                for key in keys:
                    state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    def _check_features(self, input: jax.Array) -> None:
        feature_dim = jnp.ndim(input) - self._no_batch_dim
        size = jnp.shape(input)[feature_dim]
        if size == self.num_features:
            return
        if self.affine:
            raise ValueError(f"expected input's size at dim={feature_dim} to match num_features"
                             f" ({self.num_features}), but got: {size}.")
        warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You can "
                      "silence this warning by not passing in num_features, which is not used "
                      "because affine=False", stacklevel=4)

    def forward(self, input: jax.Array) -> jax.Array:
        self._check_input_dim(input)
        self._check_features(input)
        unbatched = jnp.ndim(input) == self._no_batch_dim
        use_input_stats = self.training or not self.track_running_stats
        out, mean, var = F.instance_norm_with_update(
            input[None] if unbatched else input, self.running_mean, self.running_var,
            self.weight, self.bias, use_input_stats,
            self.momentum if self.momentum is not None else 0.0, self.eps)
        if use_input_stats and self.running_mean is not None:
            self.running_mean, self.running_var = mean, var
        return out[0] if unbatched else out


_INSTANCE_NORM_DOC = """Instance normalization over a {rank} input.

    :math:`y = \\frac{{x - E[x]}}{{\\sqrt{{Var[x] + \\epsilon}}}} \\gamma + \\beta`, the mean and
    biased variance taken per sample and channel over the spatial dimensions.

    Args:
        num_features: :math:`C`, the channels.
        eps: added to the variance. Default ``1e-5``.
        momentum: running-statistics factor (``None`` is 0, as in torch). Default ``0.1``.
        affine: learn per-channel :math:`\\gamma, \\beta`. Default ``False``.
        track_running_stats: keep running statistics, used in eval. Default ``False``.
        device, dtype: where and of what type the state is created.
        bias: (keyword) learn :math:`\\beta` when ``affine``. Default ``True``.

    Shape:
        - Input: {shape}. Output: the same.

    Attributes:
        weight, bias: :math:`(C)`, ones and zeros, when ``affine``.
        running_mean, running_var, num_batches_tracked: buffers as ``BatchNorm``'s, when
        ``track_running_stats``.

    PyTorch: ``torch.nn.{name}`` (same warnings for a channel count that differs from
    ``num_features`` without ``affine``).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.{name}(3)(jnp.ones({example})).shape
        {example}
    """


class InstanceNorm1d(_InstanceNorm):
    __doc__ = _INSTANCE_NORM_DOC.format(
        rank="2D (unbatched) or 3D", shape=":math:`(N, C, L)` or :math:`(C, L)`",
        name="InstanceNorm1d", example="(2, 3, 5)")
    _no_batch_dim = 2


class InstanceNorm2d(_InstanceNorm):
    __doc__ = _INSTANCE_NORM_DOC.format(
        rank="3D (unbatched) or 4D", shape=":math:`(N, C, H, W)` or :math:`(C, H, W)`",
        name="InstanceNorm2d", example="(2, 3, 4, 4)")
    _no_batch_dim = 3


class InstanceNorm3d(_InstanceNorm):
    __doc__ = _INSTANCE_NORM_DOC.format(
        rank="4D (unbatched) or 5D", shape=":math:`(N, C, D, H, W)` or :math:`(C, D, H, W)`",
        name="InstanceNorm3d", example="(2, 3, 2, 2, 2)")
    _no_batch_dim = 4


_LAZY_INSTANCE_NORM_DOC = """A :class:`{name}` whose ``num_features`` is read from the first input.

    torch's defaults differ from :class:`{name}`'s: ``affine=True`` and
    ``track_running_stats=True``, so ``weight``, ``bias``, ``running_mean`` and
    ``running_var`` start as placeholders. The first call sets
    ``num_features = input.shape[1]`` (also for an unbatched input, as torch), creates them
    and the module becomes a :class:`{name}`.

    Args:
        eps, momentum, device, dtype, bias: as :class:`{name}`.
        affine: learn per-channel :math:`\\gamma, \\beta`. Default ``True``.
        track_running_stats: keep running statistics. Default ``True``.

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


class LazyInstanceNorm1d(_LazyNormBase, _InstanceNorm):
    __doc__ = _LAZY_INSTANCE_NORM_DOC.format(
        name="InstanceNorm1d", shape=":math:`(N, C, L)` or :math:`(C, L)`",
        example="(2, 3, 5)")
    cls_to_become = InstanceNorm1d
    _no_batch_dim = 2


class LazyInstanceNorm2d(_LazyNormBase, _InstanceNorm):
    __doc__ = _LAZY_INSTANCE_NORM_DOC.format(
        name="InstanceNorm2d", shape=":math:`(N, C, H, W)` or :math:`(C, H, W)`",
        example="(2, 3, 4, 4)")
    cls_to_become = InstanceNorm2d
    _no_batch_dim = 3


class LazyInstanceNorm3d(_LazyNormBase, _InstanceNorm):
    __doc__ = _LAZY_INSTANCE_NORM_DOC.format(
        name="InstanceNorm3d", shape=":math:`(N, C, D, H, W)` or :math:`(C, D, H, W)`",
        example="(2, 3, 2, 2, 2)")
    cls_to_become = InstanceNorm3d
    _no_batch_dim = 4
