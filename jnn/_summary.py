"""``jnn.summary``: the module tree with output shapes, parameter counts and FLOPs.

In the spirit of torchinfo's ``summary``: one traced forward pass (``jax.jit(...).lower``,
nothing runs on the device) collects every module's output shape through forward hooks,
and XLA's cost analysis of the same program gives the forward pass's FLOPs.  The model is
passed to the traced function as a pytree, so buffer updates made during the pass
(BatchNorm's running statistics in training mode) land in a throw-away copy; the training
flags are restored and the hooks removed afterwards.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn import _state, random
from jnn.nn.modules.module import Module

__all__ = ["summary", "ModelStatistics", "LayerInfo"]

_ARRAY_TYPES = (jax.Array, np.ndarray, jax.ShapeDtypeStruct)


@dataclasses.dataclass
class LayerInfo:
    """One module of the summarized model.

    Attributes:
        name: its name in ``model.named_modules()`` (``""`` for the model itself).
        class_name: its class name.
        depth: its nesting depth (0 for the model).
        depth_index: its running index among the rows of its depth (torchinfo's ``1-2``).
        output_shape: the shape of its output (a list of shapes for several arrays), or
            None if the forward pass did not call it.
        num_params: the number of elements of its own parameters (``recurse=False``).
        total_params: the same with its submodules' (each shared parameter once).
        trainable_params: the elements of its own parameters with ``requires_grad``.
        param_bytes: the bytes of its own parameters.
        buffer_bytes: the bytes of its own buffers.
        is_leaf: whether it has no submodules.
    """

    name: str
    class_name: str
    depth: int
    depth_index: int | None
    output_shape: list | None
    num_params: int
    total_params: int
    trainable_params: int
    param_bytes: int
    buffer_bytes: int
    is_leaf: bool


def _units(value: float) -> tuple[str, float]:
    for unit, scale in (("T", 1e12), ("G", 1e9)):
        if value >= scale:
            return unit, value / scale
    return "M", value / 1e6


class ModelStatistics:
    """What :func:`summary` returns: the numbers as attributes, the table as ``str()``.

    Attributes:
        summary_list: one :class:`LayerInfo` per module, in ``named_modules()`` order.
        total_params: elements of all parameters (shared ones once), as torch's
            ``sum(p.numel() for p in model.parameters())``.
        trainable_params: those with ``requires_grad``; ``non_trainable_params``: the rest.
        total_param_bytes, total_buffer_bytes, total_input_bytes: sizes in bytes.
        flops: the forward pass's floating-point operations by XLA's cost analysis (None
            when not counted or not reported); ``total_mult_adds`` is half of it.
    """

    def __init__(self, summary_list: list[LayerInfo], params: list[Any], buffers: list[Any],
                 input_bytes: int, flops: float | None, depth: int, col_width: int) -> None:
        self.summary_list = summary_list
        self.total_params = sum(p.numel() for p in params)
        self.trainable_params = sum(p.numel() for p in params if p.requires_grad)
        self.non_trainable_params = self.total_params - self.trainable_params
        self.total_param_bytes = sum(p.numel() * np.dtype(p.dtype).itemsize for p in params)
        self.total_buffer_bytes = sum(int(b.nbytes) for b in buffers)
        self.total_input_bytes = input_bytes
        self.flops = None if flops is None else int(flops)
        self.depth = depth
        self.col_width = col_width

    @property
    def total_mult_adds(self) -> int | None:
        """Multiply-adds: XLA counts a multiply-add as two FLOPs."""
        return None if self.flops is None else self.flops // 2

    def _rows(self) -> list[str]:
        shown = [r for r in self.summary_list if r.depth <= self.depth]
        lines = []
        for i, row in enumerate(shown):
            deeper = i + 1 < len(shown) and shown[i + 1].depth > row.depth
            count = row.num_params if deeper else row.total_params  # hidden children roll up
            if row.depth == 0:
                label = row.class_name
            else:
                tree = "├─" if row.depth == 1 else "│    " * (row.depth - 1) + "└─"
                label = f"{tree}{row.class_name}: {row.depth}-{row.depth_index}"
            shape = "--" if row.output_shape is None else str(row.output_shape)
            lines.append(self._line(label, shape, f"{count:,}" if count else "--"))
        return lines

    def _line(self, *cells: str) -> str:
        w = self.col_width
        return f"{cells[0]:<{w + 15}}{cells[1]:<{w}}{cells[2]}"

    def __str__(self) -> str:
        rule = "=" * (3 * self.col_width + 15)
        mb = 1e6  # torchinfo's megabytes
        lines = [rule, self._line("Layer (type:depth-idx)", "Output Shape", "Param #"), rule,
                 *self._rows(), rule,
                 f"Total params: {self.total_params:,}",
                 f"Trainable params: {self.trainable_params:,}",
                 f"Non-trainable params: {self.non_trainable_params:,}"]
        if self.flops is not None:
            unit, value = _units(self.flops)
            lines.append(f"Forward FLOPs ({unit}): {value:.2f}")
            unit, value = _units(self.flops / 2)
            lines.append(f"Total mult-adds ({unit}): {value:.2f}")
        lines += [rule, f"Input size (MB): {self.total_input_bytes / mb:.2f}",
                  f"Params size (MB): {self.total_param_bytes / mb:.2f}",
                  f"Buffers size (MB): {self.total_buffer_bytes / mb:.2f}", rule]
        return "\n".join(lines)

    __repr__ = __str__


def _inputs(example_inputs: tuple, input_size: Any, dtypes: Sequence[Any] | None) -> tuple:
    if input_size is None:
        return tuple(jnp.asarray(x) if isinstance(x, np.ndarray) else x for x in example_inputs)
    if example_inputs:
        raise ValueError("summary: give example inputs or input_size, not both")
    sizes = [input_size] if all(isinstance(s, int) for s in input_size) else list(input_size)
    dtypes = list(dtypes) if dtypes is not None else [jnp.float32] * len(sizes)
    return tuple(jnp.zeros(tuple(s), d) for s, d in zip(sizes, dtypes))


def _is_arrays(value: Any) -> bool:
    leaves = jax.tree_util.tree_leaves(value)
    return bool(leaves) and all(isinstance(x, _ARRAY_TYPES) for x in leaves)


def _shape_of(output: Any) -> list:
    shapes = [list(x.shape) for x in jax.tree_util.tree_leaves(output) if hasattr(x, "shape")]
    return shapes[0] if len(shapes) == 1 else shapes


def _flops_from(analysis: Any) -> float | None:
    """``flops`` out of a cost analysis: a dict, a list of dicts (older jax) or None."""
    if isinstance(analysis, (list, tuple)):
        analysis = analysis[0] if analysis else None
    if not analysis or "flops" not in analysis:
        return None
    return float(analysis["flops"])


def _lower(model: Module, inputs: tuple, kwargs: dict, mode: str) -> tuple[Any, dict]:
    """Trace one forward pass (in ``mode``) with a hook on every module; leave no trace."""
    modules = list(model.named_modules())
    flags = [(m, m.training) for _, m in modules]
    shapes: dict[str, list] = {}

    def hook_for(name: str) -> Any:
        def hook(module: Module, args: tuple, output: Any) -> None:  # None: output unchanged
            shapes.setdefault(name, _shape_of(output))
        return hook

    # arrays are traced (nothing is computed); anything else stays a Python constant
    traced = {i: x for i, x in enumerate(inputs) if _is_arrays(x)}
    traced_kw = {k: v for k, v in kwargs.items() if _is_arrays(v)}

    def forward(model: Module, key: jax.Array, traced: dict, traced_kw: dict) -> Any:
        args = [traced.get(i, x) for i, x in enumerate(inputs)]
        with random.use_key(key):  # dropout in train mode draws from a traced key
            return model(*args, **{**kwargs, **traced_kw})

    # Write back state a jnn.compile'd step left packed: read inside the trace, the
    # generator's key would come out of the packed store as a tracer and stay behind.
    _state.flush()
    handles = []
    try:
        model.train(mode == "train")
        handles = [m.register_forward_hook(hook_for(name)) for name, m in modules]
        lowered = jax.jit(forward).lower(model, jax.random.key(0), traced, traced_kw)
    finally:
        for handle in handles:
            handle.remove()
        for m, flag in flags:
            if m.training != flag:
                m.training = flag
    return lowered, shapes


def _layer_rows(model: Module, shapes: dict[str, list]) -> list[LayerInfo]:
    rows, counters = [], {}
    for name, m in model.named_modules():
        depth = 0 if name == "" else name.count(".") + 1
        counters[depth] = counters.get(depth, 0) + 1
        own = [p for p in m._parameters.values() if p is not None]
        buffers = [b for b in m._buffers.values() if b is not None]
        rows.append(LayerInfo(
            name=name, class_name=type(m).__name__, depth=depth,
            depth_index=counters[depth] if depth else None, output_shape=shapes.get(name),
            num_params=sum(p.numel() for p in own),
            total_params=sum(p.numel() for p in m.parameters()),
            trainable_params=sum(p.numel() for p in own if p.requires_grad),
            param_bytes=sum(p.numel() * np.dtype(p.dtype).itemsize for p in own),
            buffer_bytes=sum(int(b.nbytes) for b in buffers),
            is_leaf=not any(True for _ in m.children())))
    return rows


def summary(model: Module, *example_inputs: Any, depth: int = 3,
            input_size: Sequence[Any] | None = None, dtypes: Sequence[Any] | None = None,
            mode: str = "eval", count_flops: bool = True, col_width: int = 25,
            **kwargs: Any) -> ModelStatistics:
    """Summarize ``model``: its module tree, output shapes, parameter counts and FLOPs.

    Args:
        model: the module.
        *example_inputs: the forward pass's positional arguments (arrays, or
            ``jax.ShapeDtypeStruct`` s: the pass is only traced).
        depth: the deepest nesting level shown in the table (all levels are counted).
        input_size: instead of example inputs, one shape or a list of shapes (zeros).
        dtypes: the dtypes of ``input_size``'s inputs (default float32).
        mode: ``"eval"`` (default, as torchinfo) or ``"train"``: the mode of the pass;
            each module's own flag is restored afterwards.
        count_flops: whether to ask XLA's cost analysis for the FLOPs.
        col_width: the width of the table's columns.
        **kwargs: keyword arguments of the forward pass.

    Returns:
        A :class:`ModelStatistics`; ``print`` it for the table.

    The model is not changed: buffers (BatchNorm's running statistics), training flags,
    hooks and jnn's random generator are as before.  Lazy modules (``LazyLinear``) are the
    exception, as in torch, where torchinfo's pass is their first forward: an
    uninitialized model is called once eagerly, in eval mode, which materializes them.

    PyTorch: ``torchinfo.summary`` (a separate package).  Differences: one table layout
    (no ``col_names``/``row_settings``); a shared module is one row; FLOPs come from
    XLA (``Forward FLOPs``), mult-adds are half of them; no forward/backward size.

    Example:
        >>> import jnn, jnn.nn as nn
        >>> jnn.summary(nn.Linear(784, 128), input_size=(64, 784)).total_params
        100480
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary expects a jnn.nn.Module, got {type(model).__name__}")
    if mode not in ("eval", "train"):
        raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")
    inputs = _inputs(example_inputs, input_size, dtypes)
    if any(getattr(m, "has_uninitialized_params", lambda: False)() for m in model.modules()):
        _materialize(model, inputs, kwargs)
    lowered, shapes = _lower(model, inputs, kwargs, mode)
    flops = None
    if count_flops:
        flops = _flops_from(lowered.cost_analysis())
        if flops is None:  # a backend that only analyses compiled programs
            flops = _flops_from(lowered.compile().cost_analysis())
    input_bytes = sum(int(np.prod(x.shape)) * np.dtype(x.dtype).itemsize
                      for x in jax.tree_util.tree_leaves((inputs, kwargs)) if hasattr(x, "dtype"))
    return ModelStatistics(_layer_rows(model, shapes), list(model.parameters()),
                           list(model.buffers()), input_bytes, flops, depth, col_width)


def _materialize(model: Module, inputs: tuple, kwargs: dict) -> None:
    """torch's first forward, which materializes lazy modules: eagerly, in eval mode."""
    concrete = jax.tree_util.tree_map(
        lambda x: jnp.zeros(x.shape, x.dtype) if isinstance(x, jax.ShapeDtypeStruct) else x,
        inputs)
    flags = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        model(*concrete, **kwargs)
    finally:
        for m, flag in flags:
            if m.training != flag:
                m.training = flag
