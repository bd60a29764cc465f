"""Padding layers (torch.nn.modules.padding): zero, constant, reflection, replication,
circular; 1-d, 2-d and 3-d.

Each layer stores its amounts once as a tuple in ``F.pad``'s layout (last dimension
first: ``(left, right, top, bottom, front, back)``) and calls ``F.pad`` in ``forward``.
An int pads every side by that amount; negative amounts crop.
"""

from __future__ import annotations

import jax

from jnn.nn import functional as F
from jnn.nn.common_types import _size_2_t, _size_4_t, _size_6_t
from jnn.nn.functional._utils import check_input_dim
from jnn.nn.modules.module import Module
from jnn.nn.modules.utils import _ntuple, _pair, _quadruple

__all__ = [
    "CircularPad1d", "CircularPad2d", "CircularPad3d",
    "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
    "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
]

_sextuple = _ntuple(6, "_sextuple")
_NORMALIZE = {1: _pair, 2: _quadruple, 3: _sextuple}


class _PadNd(Module):
    """Shared plumbing: ``padding`` normalised for ``_dims`` dimensions, one ``F.pad``."""

    _dims = 1
    _mode = "constant"

    def __init__(self, padding: _size_6_t) -> None:
        super().__init__()
        self.padding = _NORMALIZE[self._dims](padding)

    def forward(self, input: jax.Array) -> jax.Array:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: _size_6_t, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: jax.Array) -> jax.Array:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input: jax.Array) -> jax.Array:
        # torch checks the rank in the layer (ValueError), before F.pad's own checks
        check_input_dim(input, (self._dims + 1, self._dims + 2))
        return F.pad(input, self.padding, "circular")


# -- constant ---------------------------------------------------------------------------
class ConstantPad1d(_ConstantPadNd):
    """Pads the last dimension with a constant value.

    Args:
        padding: an int (both sides) or ``(padding_left, padding_right)``; negative crops.
        value: the fill value.

    Shape:
        - Input: :math:`(C, W_{in})` or :math:`(N, C, W_{in})` (any rank works).
        - Output: same leading dimensions,
          :math:`W_{out} = W_{in} + \\text{padding\\_left} + \\text{padding\\_right}`.

    PyTorch: ``torch.nn.ConstantPad1d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ConstantPad1d(2, 3.5)(jnp.ones((1, 2, 4))).shape
        (1, 2, 8)
    """

    _dims = 1

    def __init__(self, padding: _size_2_t, value: float) -> None:
        super().__init__(padding, value)


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dimensions with a constant value.

    Args:
        padding: an int or ``(left, right, top, bottom)``; negative amounts crop.
        value: the fill value.

    Shape:
        - Input: :math:`(C, H_{in}, W_{in})` or :math:`(N, C, H_{in}, W_{in})`.
        - Output: :math:`H_{out} = H_{in} + \\text{top} + \\text{bottom}`,
          :math:`W_{out} = W_{in} + \\text{left} + \\text{right}`.

    PyTorch: ``torch.nn.ConstantPad2d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ConstantPad2d((3, 0, 2, 1), 3.5)(jnp.ones((1, 2, 2))).shape
        (1, 5, 5)
    """

    _dims = 2

    def __init__(self, padding: _size_4_t, value: float) -> None:
        super().__init__(padding, value)


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dimensions with a constant value.

    Args:
        padding: an int or ``(left, right, top, bottom, front, back)``; negative crops.
        value: the fill value.

    Shape:
        - Input: :math:`(C, D_{in}, H_{in}, W_{in})` or :math:`(N, C, D_{in}, H_{in}, W_{in})`.
        - Output: :math:`D_{out} = D_{in} + \\text{front} + \\text{back}`, and
          :math:`H_{out}`, :math:`W_{out}` as in :class:`ConstantPad2d`.

    PyTorch: ``torch.nn.ConstantPad3d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ConstantPad3d(1, 0.5)(jnp.ones((1, 2, 2, 2))).shape
        (1, 4, 4, 4)
    """

    _dims = 3

    def __init__(self, padding: _size_6_t, value: float) -> None:
        super().__init__(padding, value)


# -- zero -------------------------------------------------------------------------------
class ZeroPad1d(ConstantPad1d):
    """Pads the last dimension with zeros; ``padding`` as in :class:`ConstantPad1d`.

    Shape:
        - Output: :math:`W_{out} = W_{in} + \\text{padding\\_left} + \\text{padding\\_right}`.

    PyTorch: ``torch.nn.ZeroPad1d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ZeroPad1d((3, 1))(jnp.ones((1, 2, 4))).shape
        (1, 2, 8)
    """

    def __init__(self, padding: _size_2_t) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pads the last two dimensions with zeros; ``padding`` as in :class:`ConstantPad2d`.

    Shape:
        - Output: :math:`H_{out} = H_{in} + \\text{top} + \\text{bottom}`,
          :math:`W_{out} = W_{in} + \\text{left} + \\text{right}`.

    PyTorch: ``torch.nn.ZeroPad2d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ZeroPad2d(2)(jnp.ones((1, 1, 3, 3))).shape
        (1, 1, 7, 7)
    """

    def __init__(self, padding: _size_4_t) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pads the last three dimensions with zeros; ``padding`` as in :class:`ConstantPad3d`.

    Shape:
        - Output: :math:`D_{out} = D_{in} + \\text{front} + \\text{back}`; H and W as 2-d.

    PyTorch: ``torch.nn.ZeroPad3d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ZeroPad3d(1)(jnp.ones((1, 2, 2, 2))).shape
        (1, 4, 4, 4)
    """

    def __init__(self, padding: _size_6_t) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


# -- reflection -------------------------------------------------------------------------
class ReflectionPad1d(_PadNd):
    """Pads the last dimension with its reflection about the edge element.

    Args:
        padding: an int or ``(padding_left, padding_right)``; each below the input's
            width (torch's rule); negative amounts crop.

    Shape:
        - Input: :math:`(C, W_{in})` or :math:`(N, C, W_{in})`.
        - Output: :math:`W_{out} = W_{in} + \\text{padding\\_left} + \\text{padding\\_right}`.

    PyTorch: ``torch.nn.ReflectionPad1d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ReflectionPad1d(2)(jnp.ones((1, 2, 4))).shape
        (1, 2, 8)
    """

    _dims = 1
    _mode = "reflect"

    def __init__(self, padding: _size_2_t) -> None:
        super().__init__(padding)


class ReflectionPad2d(_PadNd):
    """Pads the last two dimensions with their reflection about the edge elements.

    Args:
        padding: an int or ``(left, right, top, bottom)``; each below the size it pads.

    Shape:
        - Input: :math:`(C, H_{in}, W_{in})` or :math:`(N, C, H_{in}, W_{in})`.
        - Output: :math:`H_{out} = H_{in} + \\text{top} + \\text{bottom}`,
          :math:`W_{out} = W_{in} + \\text{left} + \\text{right}`.

    PyTorch: ``torch.nn.ReflectionPad2d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ReflectionPad2d(2)(jnp.ones((1, 1, 3, 3))).shape
        (1, 1, 7, 7)
    """

    _dims = 2
    _mode = "reflect"

    def __init__(self, padding: _size_4_t) -> None:
        super().__init__(padding)


class ReflectionPad3d(_PadNd):
    """Pads the last three dimensions with their reflection about the edge elements.

    Args:
        padding: an int or ``(left, right, top, bottom, front, back)``.

    Shape:
        - Input: :math:`(C, D_{in}, H_{in}, W_{in})` or :math:`(N, C, D_{in}, H_{in}, W_{in})`.
        - Output: :math:`D_{out} = D_{in} + \\text{front} + \\text{back}`; H and W as 2-d.

    PyTorch: ``torch.nn.ReflectionPad3d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ReflectionPad3d(1)(jnp.ones((1, 1, 2, 2, 2))).shape
        (1, 1, 4, 4, 4)
    """

    _dims = 3
    _mode = "reflect"

    def __init__(self, padding: _size_6_t) -> None:
        super().__init__(padding)


# -- replication ------------------------------------------------------------------------
class ReplicationPad1d(_PadNd):
    """Pads the last dimension by repeating its edge elements.

    Args:
        padding: an int or ``(padding_left, padding_right)``; negative amounts crop.

    Shape:
        - Input: :math:`(C, W_{in})` or :math:`(N, C, W_{in})`.
        - Output: :math:`W_{out} = W_{in} + \\text{padding\\_left} + \\text{padding\\_right}`.

    PyTorch: ``torch.nn.ReplicationPad1d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ReplicationPad1d((3, 1))(jnp.ones((1, 2, 4))).shape
        (1, 2, 8)
    """

    _dims = 1
    _mode = "replicate"

    def __init__(self, padding: _size_2_t) -> None:
        super().__init__(padding)


class ReplicationPad2d(_PadNd):
    """Pads the last two dimensions by repeating their edge elements.

    Args:
        padding: an int or ``(left, right, top, bottom)``.

    Shape:
        - Input: :math:`(C, H_{in}, W_{in})` or :math:`(N, C, H_{in}, W_{in})`.
        - Output: :math:`H_{out} = H_{in} + \\text{top} + \\text{bottom}`,
          :math:`W_{out} = W_{in} + \\text{left} + \\text{right}`.

    PyTorch: ``torch.nn.ReplicationPad2d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ReplicationPad2d(2)(jnp.ones((1, 1, 3, 3))).shape
        (1, 1, 7, 7)
    """

    _dims = 2
    _mode = "replicate"

    def __init__(self, padding: _size_4_t) -> None:
        super().__init__(padding)


class ReplicationPad3d(_PadNd):
    """Pads the last three dimensions by repeating their edge elements.

    Args:
        padding: an int or ``(left, right, top, bottom, front, back)``.

    Shape:
        - Input: :math:`(C, D_{in}, H_{in}, W_{in})` or :math:`(N, C, D_{in}, H_{in}, W_{in})`.
        - Output: :math:`D_{out} = D_{in} + \\text{front} + \\text{back}`; H and W as 2-d.

    PyTorch: ``torch.nn.ReplicationPad3d``.

    Example:
        >>> import jax.numpy as jnp
        >>> ReplicationPad3d(1)(jnp.ones((1, 1, 2, 2, 2))).shape
        (1, 1, 4, 4, 4)
    """

    _dims = 3
    _mode = "replicate"

    def __init__(self, padding: _size_6_t) -> None:
        super().__init__(padding)


# -- circular ---------------------------------------------------------------------------
class CircularPad1d(_CircularPadNd):
    """Pads the last dimension by wrapping around (periodic boundary).

    Args:
        padding: an int or ``(padding_left, padding_right)``; at most the width (torch's
            "wrapping around more than once" rule); negative amounts crop first.

    Shape:
        - Input: :math:`(C, W_{in})` or :math:`(N, C, W_{in})` (checked: ValueError).
        - Output: :math:`W_{out} = W_{in} + \\text{padding\\_left} + \\text{padding\\_right}`.

    PyTorch: ``torch.nn.CircularPad1d``.

    Example:
        >>> import jax.numpy as jnp
        >>> CircularPad1d(2)(jnp.ones((1, 2, 4))).shape
        (1, 2, 8)
    """

    _dims = 1

    def __init__(self, padding: _size_2_t) -> None:
        super().__init__(padding)


class CircularPad2d(_CircularPadNd):
    """Pads the last two dimensions by wrapping around.

    Args:
        padding: an int or ``(left, right, top, bottom)``.

    Shape:
        - Input: :math:`(C, H_{in}, W_{in})` or :math:`(N, C, H_{in}, W_{in})`.
        - Output: :math:`H_{out} = H_{in} + \\text{top} + \\text{bottom}`,
          :math:`W_{out} = W_{in} + \\text{left} + \\text{right}`.

    PyTorch: ``torch.nn.CircularPad2d``.

    Example:
        >>> import jax.numpy as jnp
        >>> CircularPad2d(1)(jnp.ones((1, 1, 3, 3))).shape
        (1, 1, 5, 5)
    """

    _dims = 2

    def __init__(self, padding: _size_4_t) -> None:
        super().__init__(padding)


class CircularPad3d(_CircularPadNd):
    """Pads the last three dimensions by wrapping around.

    Args:
        padding: an int or ``(left, right, top, bottom, front, back)``.

    Shape:
        - Input: :math:`(C, D_{in}, H_{in}, W_{in})` or :math:`(N, C, D_{in}, H_{in}, W_{in})`.
        - Output: :math:`D_{out} = D_{in} + \\text{front} + \\text{back}`; H and W as 2-d.

    PyTorch: ``torch.nn.CircularPad3d``.

    Example:
        >>> import jax.numpy as jnp
        >>> CircularPad3d(1)(jnp.ones((1, 1, 2, 2, 2))).shape
        (1, 1, 4, 4, 4)
    """

    _dims = 3

    def __init__(self, padding: _size_6_t) -> None:
        super().__init__(padding)
