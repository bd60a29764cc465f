"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` (torch.nn.modules.rnn).

One pure function, :func:`_rnn`, runs every layer and direction: the input projection of
the whole sequence as one matmul, then a ``jax.lax.scan`` over time for the recurrence.
It is wrapped by :func:`~jnn.nn.functional._dispatch.dispatched`, so an eager forward is
one cached compiled call (dropout between layers draws from jnn's generator as
``F.dropout`` does).  Not yet: ``PackedSequence`` inputs and the ``*Cell`` classes.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import jax
import jax.numpy as jnp

from jnn import _precision
from jnn.nn import functional as F
from jnn.nn import init
from jnn.nn.functional._dispatch import dispatched
from jnn.nn.modules.linear import _empty
from jnn.nn.modules.module import Module
from jnn.nn.parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _cell(mode: str, xt: jax.Array, h: jax.Array, c: Any, w_hh: jax.Array,
          b_hh: Any, w_hr: Any) -> tuple[jax.Array, Any]:
    """One time step; ``xt`` is the input's projection ``x W_ih^T + b_ih`` (torch's gate
    order: LSTM ``i, f, g, o``; GRU ``r, z, n``, with ``b_hn`` inside ``r * (...)``)."""
    hh = jnp.matmul(h, w_hh.T, precision=_precision.matmul(w_hh))
    if b_hh is not None:
        hh = hh + b_hh
    if mode == "LSTM":
        i, f, g, o = jnp.split(xt + hh, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h if w_hr is None
                else jnp.matmul(h, w_hr.T, precision=_precision.matmul(w_hr))), c
    if mode == "GRU":
        x_r, x_z, x_n = jnp.split(xt, 3, axis=-1)
        h_r, h_z, h_n = jnp.split(hh, 3, axis=-1)
        r = jax.nn.sigmoid(x_r + h_r)
        z = jax.nn.sigmoid(x_z + h_z)
        n = jnp.tanh(x_n + r * h_n)
        return (1 - z) * n + z * h, c
    pre = xt + hh
    return (jnp.tanh(pre) if mode == "RNN_TANH" else jax.nn.relu(pre)), c


def _rnn_impl(input: jax.Array, hx: jax.Array, cx: Any, *weights: jax.Array, mode: str,
              num_layers: int, bidirectional: bool, has_bias: bool, has_proj: bool,
              dropout: float, training: bool) -> tuple[jax.Array, jax.Array, Any]:
    """``input`` ``(L, N, H_in)``; ``hx``/``cx`` ``(D * num_layers, N, H)``; ``weights`` in
    torch's ``_flat_weights`` order.  Returns ``(output, h_n, c_n)`` (``c_n`` ``None``
    unless LSTM)."""
    per_direction = 2 + 2 * has_bias + has_proj
    directions = 2 if bidirectional else 1
    x, h_n, c_n = input, [], []
    for layer in range(num_layers):
        if layer > 0 and dropout > 0 and training:  # torch: between layers, not after the last
            x = F.dropout(x, dropout, True)
        outs = []
        for direction in range(directions):
            k = layer * directions + direction
            w = weights[k * per_direction:(k + 1) * per_direction]
            w_ih, w_hh = w[0], w[1]
            b_ih, b_hh = (w[2], w[3]) if has_bias else (None, None)
            w_hr = w[-1] if has_proj else None
            xs = jnp.matmul(x, w_ih.T, precision=_precision.matmul(w_ih))
            if b_ih is not None:
                xs = xs + b_ih

            def step(carry, xt, w_hh=w_hh, b_hh=b_hh, w_hr=w_hr):
                h, c = _cell(mode, xt, *carry, w_hh, b_hh, w_hr)
                return (h, c), h

            c0 = None if cx is None else cx[k]
            (h, c), ys = jax.lax.scan(step, (hx[k], c0), xs, reverse=direction == 1)
            outs.append(ys)
            h_n.append(h)
            c_n.append(c)
        x = outs[0] if directions == 1 else jnp.concatenate(outs, axis=-1)
    return x, jnp.stack(h_n), (None if cx is None else jnp.stack(c_n))


_rnn = dispatched(_rnn_impl)


def _check_args(mode: str, input_size: Any, hidden_size: Any, num_layers: int, bias: Any,
                batch_first: Any, dropout: Any, proj_size: int) -> None:
    """torch's ``RNNBase.__init__`` checks, in its order and wording."""
    if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
            or isinstance(dropout, bool)):
        raise ValueError("dropout should be a number in range [0, 1] representing the "
                         "probability of an element being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                      "non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}", stacklevel=4)
    for name, value in (("bias", bias), ("batch_first", batch_first)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} should be of type bool, got: {type(value).__name__}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(value, int):
            raise TypeError(f"{name} should be of type int, got: {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"{name} must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable "
                         "projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")
    if mode not in _GATES:
        raise ValueError("Unrecognized RNN mode: " + mode)


class RNNBase(Module):
    """The recurrent layers' shared state and forward (torch's ``RNNBase``).

    Args:
        mode: ``'LSTM'``, ``'GRU'``, ``'RNN_TANH'`` or ``'RNN_RELU'``.
        input_size: features of the input, :math:`H_{in}`.
        hidden_size: features of the hidden state, :math:`H`.
        num_layers: stacked recurrent layers. Default 1.
        bias: if ``False``, no ``bias_ih``/``bias_hh``. Default ``True``.
        batch_first: inputs and outputs as :math:`(N, L, *)` instead of :math:`(L, N, *)`.
        dropout: dropout on each layer's output but the last, in training. Default 0.
        bidirectional: a second, reversed pass per layer. Default ``False``.
        proj_size: LSTM only: project the hidden state to this size. Default 0 (off).
        device, dtype: where and of what type the parameters are created.

    Attributes:
        weight_ih_l[k], weight_hh_l[k], bias_ih_l[k], bias_hh_l[k] (``_reverse`` for the
        second direction), weight_hr_l[k] with ``proj_size``: torch's shapes, each
        initialised from :math:`\\mathcal{U}(-\\sqrt{k}, \\sqrt{k})`, :math:`k = 1/H`.

    PyTorch: ``torch.nn.RNNBase`` (same parameters, state_dict keys, errors and repr);
    dropout masks come from JAX's PRNG.
    """

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        _check_args(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                    proj_size)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        real_hidden_size = proj_size if proj_size > 0 else hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            layer_input_size = input_size if layer == 0 else real_hidden_size * directions
            for direction in range(directions):
                suffix = "_reverse" if direction == 1 else ""
                shapes = {"weight_ih": (gate_size, layer_input_size),
                          "weight_hh": (gate_size, real_hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size > 0:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                names = []
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(_empty(shape, dtype, device)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """A no-op: torch compacts cuDNN's weight buffer here; XLA has none."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _run(self, input: Any, hx: Any, cx: Any) -> tuple[jax.Array, jax.Array, Any]:
        """Checks shapes as torch's ``check_forward_args`` does, then runs :func:`_rnn`
        on time-major, batched arrays; returns them in the caller's layout."""
        input = jnp.asarray(input)
        dtype = self._flat_weight(0).dtype
        if input.dtype != dtype:
            raise ValueError(f"RNN input dtype ({_torch_dtype(input.dtype)}) does not match "
                             f"weight dtype ({_torch_dtype(dtype)}). Convert input: "
                             f"input.to({_torch_dtype(dtype)}), or convert model: "
                             f"model.to({_torch_dtype(input.dtype)})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError("input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")
        x = jnp.swapaxes(input, 0, 1) if self.batch_first else input
        rows = (2 if self.bidirectional else 1) * self.num_layers
        h_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        expected = (rows, x.shape[1], h_size)
        if hx is None:
            hx = jnp.zeros(expected, input.dtype)
            cx = None if self.mode != "LSTM" else jnp.zeros(
                (rows, x.shape[1], self.hidden_size), input.dtype)
        else:
            hx, cx = jnp.asarray(hx), (None if cx is None else jnp.asarray(cx))
            which = "hidden[0] size" if self.mode == "LSTM" else "hidden size"
            _check_size(hx, expected, which)
            if cx is not None:
                _check_size(cx, (rows, x.shape[1], self.hidden_size), "hidden[1] size")
        weights = [self._flat_weight(i) for i in range(len(self._flat_weights_names))]
        out, h_n, c_n = _rnn(x, hx, cx, *weights, mode=self.mode,
                             num_layers=self.num_layers, bidirectional=self.bidirectional,
                             has_bias=self.bias, has_proj=self.proj_size > 0,
                             dropout=self.dropout,
                             training=self.training)
        return (jnp.swapaxes(out, 0, 1) if self.batch_first else out), h_n, c_n

    def _flat_weight(self, index: int) -> jax.Array:
        return getattr(self, self._flat_weights_names[index])

    def _batch(self, input: Any, hidden: tuple, kind: str) -> tuple[Any, bool, tuple]:
        """torch's dimension checks; an unbatched input gets a batch of one (at dim 1
        of the hidden state)."""
        ndim = jnp.ndim(input)
        if ndim not in (2, 3):
            got = "D tensor instead" if self.mode.startswith("RNN") else "D instead"
            raise ValueError(f"{kind}: Expected input to be 2D or 3D, got {ndim}{got}")
        batched = ndim == 3
        if any(h is not None for h in hidden):
            dims = [jnp.ndim(h) for h in hidden]
            want, what = (3, "batched 3-D") if batched else (2, "unbatched 2-D")
            if any(d != want for d in dims):
                if len(dims) == 2:
                    raise RuntimeError(f"For {what} input, hx and cx should also be "
                                       f"{want}-D but got ({dims[0]}-D, {dims[1]}-D) tensors")
                raise RuntimeError(f"For {what} input, hx should also be {want}-D but got "
                                   f"{dims[0]}-D tensor")
        if not batched:
            input = jnp.expand_dims(jnp.asarray(input), 0 if self.batch_first else 1)
            hidden = tuple(None if h is None else jnp.expand_dims(jnp.asarray(h), 1)
                           for h in hidden)
        return input, batched, hidden

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


def _torch_dtype(dtype: Any) -> str:
    return f"torch.{jnp.dtype(dtype).name}"


def _check_size(h: jax.Array, expected: tuple[int, ...], which: str) -> None:
    if tuple(h.shape) != expected:
        raise RuntimeError(f"Expected {which} {expected}, got {list(h.shape)}")


def _unbatch(module: RNNBase, batched: bool, out: jax.Array, *hidden: jax.Array) -> tuple:
    """Drops the batch of one that :meth:`RNNBase._batch` added, as torch's forward."""
    if batched:
        return (out, *hidden)
    return (jnp.squeeze(out, 0 if module.batch_first else 1),
            *(jnp.squeeze(h, 1) for h in hidden))


class RNN(RNNBase):
    """An Elman RNN: :math:`h_t = \\tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})`
    (``nonlinearity='relu'``: ReLU instead of tanh), per layer.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        device, dtype: as :class:`RNNBase`.
        nonlinearity: ``'tanh'`` or ``'relu'``. Default ``'tanh'``.

    Shape:
        - Input: :math:`(L, N, H_{in})`, :math:`(N, L, H_{in})` with ``batch_first``, or
          unbatched :math:`(L, H_{in})`; ``hx``: :math:`(D \\cdot \\text{num\\_layers}, N, H)`
          (or :math:`(D \\cdot \\text{num\\_layers}, H)`), zeros if omitted.
        - Output: ``(output, h_n)``: :math:`(L, N, D \\cdot H)` and ``hx``'s shape.

    PyTorch: ``torch.nn.RNN`` (its repr omits ``nonlinearity``, as torch's).

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.RNN(10, 20, 2)(jnp.ones((5, 3, 10)))[0].shape
        (5, 3, 20)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if self.nonlinearity not in modes:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from "
                             "'tanh' or 'relu'.")
        super().__init__(modes[self.nonlinearity], *args, **kwargs)

    def forward(self, input: jax.Array, hx: jax.Array | None = None) -> tuple:
        input, batched, (hx,) = self._batch(input, (hx,), "RNN")
        out, h_n, _ = self._run(input, hx, None)
        return _unbatch(self, batched, out, h_n)


class LSTM(RNNBase):
    """A long short-term memory RNN, per layer (torch's gates and order ``i, f, g, o``):
    :math:`c_t = f_t \\odot c_{t-1} + i_t \\odot g_t`, :math:`h_t = o_t \\odot \\tanh(c_t)`
    (times ``W_{hr}^T`` with ``proj_size``).

    Args:
        as :class:`RNNBase`, ``proj_size`` included.

    Shape:
        - Input: as :class:`RNN`; ``(h_0, c_0)``: :math:`(D \\cdot \\text{num\\_layers}, N,
          H_{out})` and :math:`(D \\cdot \\text{num\\_layers}, N, H)`, zeros if omitted
          (:math:`H_{out}` is ``proj_size`` if set, else :math:`H`).
        - Output: ``(output, (h_n, c_n))``, output :math:`(L, N, D \\cdot H_{out})`.

    PyTorch: ``torch.nn.LSTM``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> out, (h, c) = nn.LSTM(10, 20, 2)(jnp.ones((5, 3, 10)))
        >>> out.shape, h.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input: jax.Array, hx: tuple | None = None) -> tuple:
        hidden = (None, None) if hx is None else tuple(hx)
        input, batched, (h0, c0) = self._batch(input, hidden, "LSTM")
        out, h_n, c_n = self._run(input, h0, c0)
        out, h_n, c_n = _unbatch(self, batched, out, h_n, c_n)
        return out, (h_n, c_n)


class GRU(RNNBase):
    """A gated recurrent unit RNN, per layer (torch's gates ``r, z, n``):
    :math:`n_t = \\tanh(W_{in} x_t + b_{in} + r_t \\odot (W_{hn} h_{t-1} + b_{hn}))`,
    :math:`h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}`.

    Args:
        as :class:`RNNBase` (no ``proj_size``).

    Shape:
        as :class:`RNN`.

    PyTorch: ``torch.nn.GRU``.

    Example:
        >>> import jax.numpy as jnp, jnn.nn as nn
        >>> nn.GRU(10, 20, 2)(jnp.ones((5, 3, 10)))[1].shape
        (2, 3, 20)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input: jax.Array, hx: jax.Array | None = None) -> tuple:
        input, batched, (hx,) = self._batch(input, (hx,), "GRU")
        out, h_n, _ = self._run(input, hx, None)
        return _unbatch(self, batched, out, h_n)
