"""jnn's global random number generator, torch.random style.

JAX has no hidden RNG state, so jnn keeps one: a :class:`Generator` holding a PRNG key.
Each draw splits the key, keeps one half and uses the other, so consecutive draws differ
and ``jnn.manual_seed(s)`` makes a run reproducible.  Under ``jnn.compile`` the key is
threaded in and out of the program as state; under a plain ``jax.jit`` use
:func:`use_key` to supply a (traced) key explicitly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax._src import core as _core

from jnn import _state

__all__ = [
    "Generator",
    "default_generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "fork_rng",
    "use_key",
    "next_key",
    "scan",
    "fori_loop",
    "randn",
    "rand",
]


class Generator:
    """A source of PRNG keys, like ``torch.Generator``.

    Args:
        device: torch's only argument (``'cpu'``, ``'cuda'``, a ``jnn.device``): accepted
            for ported code and checked to exist; a JAX key lives wherever it is used.
            A positional int is taken as ``seed`` (jnn's shorthand, ``Generator(7)``);
            ``device=<int>`` is an accelerator index, as in torch.
        seed: initial seed, keyword only (default 0, torch's default seed is
            nondeterministic; jnn's is fixed so that a program without ``manual_seed`` is
            still reproducible).

    PyTorch: ``torch.Generator(device='cpu')``, with its errors; the numbers differ from
    torch's.
    """

    def __init__(self, *args: Any, device: Any = None, seed: int = 0) -> None:
        # torch's signature is Generator(device=None): a second positional argument is
        # refused, not taken as a seed.
        if len(args) > 1:
            raise TypeError("Generator() takes from 0 to 1 positional arguments but "
                            f"{len(args)} were given")
        position = ""
        if args:
            if device is not None:
                raise TypeError("Generator() got multiple values for argument 'device'")
            (device,), position = args, " (position 1)"
            if isinstance(device, int) and not isinstance(device, bool):
                device, seed = None, device
        _check_device(device, position)
        self._initial_seed = _check_seed(seed)
        self._key_value: jax.Array | None = None  # made on first use: keeps import fast
        self._key_data: jax.Array | None = None

    # The key is held as a typed key (what draws use) and/or its raw uint32 data (what a
    # compiled program takes and returns: a typed key costs more to pass); whichever is
    # missing is made from the other on first use.
    _key_data: jax.Array | None = None

    def _raw_key(self) -> jax.Array:
        """The key slot itself, made on first use (no write-back of compiled state)."""
        if self._key_value is None:
            data = self._key_data
            # First use may happen inside a trace: the seed's key must still be concrete.
            with jax.ensure_compile_time_eval():
                self._key_value = (_key_from_seed(self._initial_seed) if data is None
                                   else jax.random.wrap_key_data(data))
        return self._key_value

    def _raw_key_data(self) -> jax.Array:
        """The key's raw data, as a compiled program threads it."""
        data = self._key_data
        if data is None:
            key = self._raw_key()
            with jax.ensure_compile_time_eval():
                data = jax.random.key_data(key)
            if not isinstance(key, jax.core.Tracer):
                self._key_data = data
        return data

    def _set_key_data(self, data: jax.Array) -> None:
        if isinstance(data, jax.core.Tracer):
            # Inside a program's trace: wrap now, at this trace's level.  Wrapped later,
            # inside a nested trace (an autograd dry run), the key would belong to that
            # trace and escape with it.
            self._key_data, self._key_value = data, jax.random.wrap_key_data(data)
        else:
            self._key_data, self._key_value = data, None

    @property
    def _key(self) -> jax.Array:
        # (jnn.compile threads keys as direct cells: the slot is always the newest key)
        key = self._raw_key()
        if type(key) is _state.LostState:
            raise key.error()
        return key

    @_key.setter
    def _key(self, value: jax.Array) -> None:
        self._key_value, self._key_data = value, None

    # copy.deepcopy and pickle see the key as a typed key (the raw data is made again).
    def __getstate__(self) -> dict:
        return {"_initial_seed": self._initial_seed, "_key_value": self._key}

    @property
    def key(self) -> jax.Array:
        """The current PRNG key (state that ``jnn.compile`` threads through programs)."""
        return self._key

    @key.setter
    def key(self, value: jax.Array) -> None:
        if _state.state.write_log is not None:
            _state.log_write(self, "key", self._key)
        self._key = value

    def manual_seed(self, seed: int) -> Generator:
        """Seed this generator and return it; ``seed`` is a Python int in
        ``[-2**63, 2**64)``, negatives wrapping to ``seed + 2**64`` (torch's rules)."""
        seed = _check_seed(seed)
        with jax.ensure_compile_time_eval():
            key = _key_from_seed(seed)
        self._initial_seed = seed
        self.key = key
        return self

    def seed(self) -> int:
        """Seed this generator from the OS entropy pool and return the (64-bit) seed."""
        import secrets

        s = secrets.randbits(64)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._initial_seed

    def get_state(self) -> jax.Array:
        """The current state: a JAX PRNG key (torch's is a ByteTensor)."""
        return self.key

    def set_state(self, new_state: jax.Array) -> Generator:
        """Restore a state from :meth:`get_state` (a JAX PRNG key, or its uint32 data)."""
        self.key = _check_state(new_state)
        return self

    def next_key(self) -> jax.Array:
        """Split the generator's key: keep one half, return the other.

        Atomic across threads (a compiled call that traces holds the same lock and swaps
        a traced key in meanwhile: another thread must never draw from that).
        """
        with _state.LOCK:
            return self._next_key()

    def _next_key(self) -> jax.Array:
        old = self.key
        if not isinstance(old, jax.core.Tracer) or old._trace is not _core.trace_ctx.trace:
            from jnn.nn.functional._dispatch import needs_key

            # Inside an eager F.* call's first trace: it threads the key from now on (a
            # traced key of another trace too: a jnn.random.scan body's, in eager
            # autograd, must not become a constant of it)
            needs_key()
        key, sub = jax.random.split(old)
        if isinstance(key, jax.core.Tracer) and _state.state.write_log is None and (
                not isinstance(old, jax.core.Tracer) or key._trace is not old._trace):
            # A key used inside a jax.jit/grad/vmap, or inside a loop body (jax.lax.scan,
            # fori_loop, while_loop: traced once, run many times) within a compiled
            # program: storing the traced half would leak a tracer, and keeping the old key
            # would bake one fixed mask into every call or iteration.  Neither is what a
            # torch user expects.
            raise RuntimeError(
                "jnn's global random generator was used inside a JAX transformation "
                "(jax.jit, jax.grad, jax.vmap, or a jax.lax.scan / fori_loop / while_loop "
                "body) that does not thread its key. Use jnn.compile(fn), which threads the "
                "generator state through the program; for a loop body drawing random "
                "numbers (dropout in an RNN cell), jnn.random.scan / jnn.random.fori_loop, "
                "which thread the key through the loop; or pass a key explicitly: "
                "`with jnn.random.use_key(key): out = model(x)`; or call model.eval() so that "
                "dropout draws no randomness."
            )
        self.key = key
        return sub


def _type_name(value: Any) -> str:
    from jnn.nn.functional._utils import type_name  # imported here: jnn.nn imports this

    return "Tensor" if isinstance(value, jax.Array) else type_name(value)


def _check_seed(seed: Any) -> int:
    """torch's ``Generator.manual_seed`` rules: a Python int (not a bool, not a numpy int)
    in ``[-2**63, 2**64)``; negatives are stored as their uint64 value."""
    if isinstance(seed, np.integer):
        raise TypeError("an integer is required")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise RuntimeError(f"manual_seed expected a long, but got {_type_name(seed)}")
    if not -(2**63) <= seed < 2**64:
        raise ValueError("Overflow when unpacking long long")
    return seed % 2**64


def _key_from_seed(seed: int) -> jax.Array:
    """The key of a uint64 seed.  ``jax.random.key`` takes an int64 and, with x64 off, keeps
    only its low 32 bits (seeds 0 and 2**32 would share a stream, unlike torch's); threefry's
    key from a seed is its (high, low) 32-bit words, built here directly."""
    if jax.config.jax_default_prng_impl == "threefry2x32":
        words = np.array([seed >> 32, seed & 0xFFFFFFFF], np.uint32)
        return jax.random.wrap_key_data(words)
    return jax.random.key(seed - 2**64 if seed >= 2**63 else seed)


def _check_device(device: Any, position: str) -> None:
    """torch's ``Generator(device=...)`` checks: its argument types and error messages."""
    if device is None or isinstance(device, jax.Device):
        return
    if isinstance(device, bytes):  # torch's parser takes bytes as a device string
        device = device.decode()
    from jnn._tensor_functions.device import device as device_cls
    from jnn.nn.modules._casting import resolve_device

    is_device = type(device).__name__ == "device" and hasattr(device, "type")
    if isinstance(device, (int, np.integer)) and not isinstance(device, bool):
        if device < 0:
            raise RuntimeError("Device index must not be negative")
        device_cls(int(device))  # an accelerator index: torch refuses it without one
    elif not (isinstance(device, str) or is_device):
        raise TypeError(f"Generator(): argument 'device'{position} must be torch.device, "
                        f"not {_type_name(device)}")
    elif device == "":
        raise RuntimeError("Device string must not be empty")
    elif (device_cls(device) if isinstance(device, str) else device).type == "cpu":
        return  # torch's CPU generator ignores the index ('cpu:1' is accepted)
    resolve_device(device)


_STATE_HINT = (" (jnn's generator state is the JAX PRNG key that get_state() returns, or "
               "its uint32 key data)")


def _check_state(state: Any) -> jax.Array:
    """A ``set_state`` argument as the generator's typed key, refused as torch refuses a
    state of the wrong type, dtype or size (torch: a ByteTensor of 5056 bytes)."""
    if not isinstance(state, (jax.Array, np.ndarray)):
        raise TypeError(f"expected a torch.ByteTensor, but got {_type_name(state)}"
                        + _STATE_HINT)
    like = jax.eval_shape(lambda: jax.random.key(0))
    data = jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0)))
    typed = jnp.issubdtype(state.dtype, jax.dtypes.prng_key)
    if typed and state.dtype != like.dtype:
        raise TypeError(f"RNG state is a JAX PRNG key of another implementation ({state.dtype}"
                        f"): this generator's keys are {like.dtype}" + _STATE_HINT)
    size = 1 if typed else data.size
    if state.dtype == np.uint8:  # torch's ByteTensor: its size is what torch checks
        raise RuntimeError(f"Expected a JAX PRNG key state of size {size} but found the "
                           f"input RNG state size to be {state.size}" + _STATE_HINT)
    if not typed and state.dtype != data.dtype:
        raise TypeError("RNG state must be a torch.ByteTensor" + _STATE_HINT)
    if state.size != size:
        raise RuntimeError(f"Expected a JAX PRNG key state of size {size} but found the "
                           f"input RNG state size to be {state.size}")
    # (computed at trace time for a concrete state: a key set inside jnn.compile's trace
    # stays concrete, as it was before these checks)
    with jax.ensure_compile_time_eval():
        if typed:
            return state if state.shape == () else jnp.reshape(state, ())
        return jax.random.wrap_key_data(jnp.reshape(jnp.asarray(state), data.shape))


def check_generator(generator: Any, name: str | None = None, overloaded: bool = True
                    ) -> Generator:
    """A ``generator=`` argument as a :class:`Generator` (None: the global one), refused
    with torch's argument-parser error otherwise (``overloaded``: torch's function has
    several signatures, so its parser reports an invalid combination)."""
    if generator is None:
        return default_generator
    if isinstance(generator, Generator):
        return generator
    shown = _type_name(generator)
    if shown == "torch._C.Generator":
        shown = "torch.Generator (jnn draws only from a jnn.Generator)"
    if name is not None and overloaded:
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"generator={shown}, but expected a jnn.Generator or None")
    where = "" if name is None else f"{name}(): "
    raise TypeError(f"{where}argument 'generator' must be torch.Generator, not {shown}")


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed jnn's global generator, like ``torch.manual_seed``; returns the generator.

    As torch, ``seed`` goes through ``int()`` first (``1.5``, ``'7'`` and numpy ints are
    accepted), then :meth:`Generator.manual_seed`'s range check.
    """
    if getattr(seed, "ndim", 0):  # an array: one element, of any rank, as torch's item()
        if seed.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        seed = seed.reshape(())
    return default_generator.manual_seed(int(seed))


def seed() -> int:
    """Seed the global generator from the OS entropy pool and return the (64-bit) seed."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> jax.Array:
    """The global generator's key (a JAX PRNG key array)."""
    return default_generator.get_state()


def set_rng_state(new_state: jax.Array) -> None:
    default_generator.set_state(new_state)


def next_key(generator: Generator | None = None) -> jax.Array:
    """A fresh PRNG key from ``generator`` (default: the global generator)."""
    return check_generator(generator).next_key()


@contextlib.contextmanager
def fork_rng(devices: Any = None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str | None = None
             ) -> Iterator[None]:
    """Restore the global generator's state on exit, like ``torch.random.fork_rng``.

    Args:
        devices: accepted for torch's signature (jnn's one generator serves every device).
        enabled: if false, nothing is forked.
        device_type: checked as torch does; ``'meta'`` forks nothing (torch's rule).
    """
    if device_type is not None:
        from jnn._tensor_functions.device import device as device_cls

        device_cls(device_type)  # torch's error for an unknown device type
    if device_type == "meta" or not enabled:
        yield
        return
    if devices is not None:
        devices = list(devices)  # torch reads the iterable once, eagerly
    saved = default_generator.key
    try:
        yield
    finally:
        default_generator.key = saved


@contextlib.contextmanager
def use_key(key: jax.Array, generator: Generator | None = None) -> Iterator[None]:
    """Draw from ``key`` (which may be a tracer) inside the block, then restore.

    This is how randomness (dropout) reaches a model under a plain ``jax.jit``::

        @jax.jit
        def f(model, x, key):
            with jnn.random.use_key(key):
                return model(x)
    """
    g = check_generator(generator)
    if not jnp.issubdtype(jnp.asarray(key).dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key) if key.dtype == jnp.uint32 else key
    saved = g.key
    g.key = key
    try:
        yield
    finally:
        g.key = saved


def scan(f: Callable, init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int = 1, *, generator: Generator | None = None
         ) -> tuple[Any, Any]:
    """``jax.lax.scan`` whose body may draw from jnn's generator (dropout in an RNN cell).

    A scan body is traced once and run many times, so a key drawn from the generator
    inside it would be one fixed key (and storing it would leak a tracer). This threads
    the generator's key through the carry instead: each iteration draws fresh keys, and
    the generator advances once for the whole loop. Works eagerly, under ``jax.jit`` with
    :func:`use_key`, and under ``jnn.compile``.
    """
    g = check_generator(generator)
    start = g.next_key()

    def body(carry: tuple, x: Any) -> tuple:
        inner, key = carry
        with use_key(key, g):
            inner, y = f(inner, x)
            key = g.key  # the key after this iteration's draws
        return (inner, key), y

    (out, _), ys = jax.lax.scan(body, (init, start), xs, length=length, reverse=reverse,
                                unroll=unroll)
    return out, ys


def fori_loop(lower: int, upper: int, body_fun: Callable, init_val: Any, *,
              generator: Generator | None = None) -> Any:
    """``jax.lax.fori_loop`` whose body may draw from jnn's generator (see :func:`scan`)."""
    g = check_generator(generator)
    start = g.next_key()

    def body(i: Any, carry: tuple) -> tuple:
        value, key = carry
        with use_key(key, g):
            value = body_fun(i, value)
            key = g.key
        return value, key

    return jax.lax.fori_loop(lower, upper, body, (init_val, start))[0]


def _draw(name: str, sampler: Callable, sizes: tuple, size: Any, generator: Generator | None,
          out: Any, dtype: Any, device: Any, requires_grad: bool) -> jax.Array:
    # Imported here: jnn._tensor_functions imports this module.
    from jnn._tensor_functions import _common, creation, dtypes

    check_generator(generator, name)
    shape = _common.parse_size(sizes, name, size)
    dt = dtypes.default_float() if dtype is None else dtypes.resolve_dtype(dtype)
    if not jnp.issubdtype(dt, jnp.floating):
        raise NotImplementedError(f"\"{name}\" not implemented for '{dtypes.torch_name(dt)}'")
    creation.check_requires_grad(requires_grad, dt)
    _common.refuse_out(out, name)
    return _common.place(sampler(next_key(generator), shape, dt), device)


def randn(*sizes: Any, size: Sequence[int] | None = None, generator: Generator | None = None,
          out: Any = None, dtype: Any = None, layout: Any = None, device: Any = None,
          requires_grad: bool = False, pin_memory: bool = False) -> jax.Array:
    """Standard-normal samples: ``randn(2, 3)``, ``randn((2, 3))``, ``randn(size=(2, 3))``.

    Args:
        sizes / size: the shape.
        generator: the :class:`Generator` to draw from (default: the global one; under
            ``jnn.compile`` its key is threaded through the program).
        dtype: a float dtype, default ``jnn.get_default_dtype()``.
        device: where to place the result.
        out: refused (JAX arrays are immutable: use the return value).
        layout, requires_grad, pin_memory: accepted and ignored (gradients come from
            ``jnn.autograd``; ``requires_grad`` is refused for non-float dtypes, as torch).

    PyTorch: ``torch.randn``; the values differ from torch's (another random stream).
    """
    return _draw("randn", jax.random.normal, sizes, size, generator, out, dtype, device,
                 requires_grad)


def rand(*sizes: Any, size: Sequence[int] | None = None, generator: Generator | None = None,
         out: Any = None, dtype: Any = None, layout: Any = None, device: Any = None,
         requires_grad: bool = False, pin_memory: bool = False) -> jax.Array:
    """Uniform samples on [0, 1); arguments as :func:`randn`.

    PyTorch: ``torch.rand``; the values differ from torch's (another random stream).
    """
    return _draw("rand", jax.random.uniform, sizes, size, generator, out, dtype, device,
                 requires_grad)
