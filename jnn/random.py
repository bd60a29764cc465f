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
        device: torch's first argument (``'cpu'``, ``'cuda'``, a ``jnn.device``): accepted
            for ported code and checked to exist; a JAX key lives wherever it is used.
            An int here is taken as ``seed`` (jnn's shorthand, ``Generator(7)``).
        seed: initial seed (default 0, torch's default seed is nondeterministic; jnn's
            is fixed so that a program without ``manual_seed`` is still reproducible).

    PyTorch: ``torch.Generator(device='cpu')``; the numbers differ from torch's.
    """

    def __init__(self, device: Any = None, seed: int = 0) -> None:
        if isinstance(device, int) and not isinstance(device, bool):
            device, seed = None, device
        if device is not None:
            from jnn.nn.modules._casting import resolve_device

            resolve_device(device)
        self._initial_seed = int(seed)
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
                self._key_value = (jax.random.key(self._initial_seed) if data is None
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
        self._initial_seed = int(seed)
        with jax.ensure_compile_time_eval():
            self.key = jax.random.key(self._initial_seed)
        return self

    def initial_seed(self) -> int:
        return self._initial_seed

    def get_state(self) -> jax.Array:
        return self.key

    def set_state(self, key: jax.Array) -> Generator:
        self.key = key
        return self

    def next_key(self) -> jax.Array:
        """Split the generator's key: keep one half, return the other.

        Atomic across threads (a compiled call that traces holds the same lock and swaps
        a traced key in meanwhile: another thread must never draw from that).
        """
        with _state.LOCK:
            return self._next_key()

    def _next_key(self) -> jax.Array:
        if not isinstance(self.key, jax.core.Tracer):
            from jnn.nn.functional._dispatch import needs_key

            needs_key()  # inside an eager F.* call's first trace: it threads the key from now on
        key, sub = jax.random.split(self.key)
        if (isinstance(key, jax.core.Tracer) and not isinstance(self.key, jax.core.Tracer)
                and _state.state.write_log is None):
            # A concrete key used inside jax.jit/grad/vmap: storing the traced half
            # would leak a tracer, and keeping the old key would bake one fixed mask
            # into the compiled program.  Neither is what a torch user expects.
            raise RuntimeError(
                "jnn's global random generator was used inside a JAX transformation "
                "(jax.jit, jax.grad, jax.vmap, ...) that does not thread its key. Use "
                "jnn.compile(fn), which threads the generator state through the program, "
                "or pass a key explicitly: `with jnn.random.use_key(key): out = model(x)`, "
                "or call model.eval() so that dropout draws no randomness."
            )
        self.key = key
        return sub


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed jnn's global generator, like ``torch.manual_seed``; returns the generator."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the global generator from the OS entropy pool and return the seed."""
    import secrets

    s = secrets.randbits(63)
    default_generator.manual_seed(s)
    return s


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> jax.Array:
    """The global generator's key (a JAX PRNG key array)."""
    return default_generator.get_state()


def set_rng_state(new_state: jax.Array) -> None:
    default_generator.set_state(new_state)


def next_key(generator: Generator | None = None) -> jax.Array:
    """A fresh PRNG key from ``generator`` (default: the global generator)."""
    return (generator or default_generator).next_key()


@contextlib.contextmanager
def fork_rng(enabled: bool = True) -> Iterator[None]:
    """Restore the global generator's state on exit, like ``torch.random.fork_rng``."""
    if not enabled:
        yield
        return
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
    g = generator or default_generator
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
    g = generator or default_generator
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
    g = generator or default_generator
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
