"""jnn's dtype names, default dtype, 64-bit rule, ``jnn.device`` and ``jnn.cuda`` vs torch."""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn
import jnn.cuda
from jnn._tensor_functions import dtypes
from jnn.nn.modules._casting import resolve_device

NAMES = ["float32", "float16", "bfloat16", "float64", "int8", "int16", "int32", "int64",
         "uint8", "complex64", "complex128", "bool", "float", "double", "half", "long", "int",
         "short", "cfloat", "cdouble"]


@pytest.mark.parametrize("name", NAMES)
def test_dtype_names_are_torchs(name: str) -> None:
    ours = jnp.dtype(getattr(jnn, name))
    theirs = str(getattr(torch, name)).removeprefix("torch.")
    assert ours == np.dtype(theirs if theirs != "bool" else np.bool_)


@pytest.fixture
def default_dtype() -> Iterator[None]:
    yield
    jnn.set_default_dtype(jnn.float32)
    torch.set_default_dtype(torch.float32)


CREATIONS: list[Callable] = [
    lambda t: t.zeros(2), lambda t: t.tensor([1.5, 2.0]), lambda t: t.arange(0.0, 3),
    lambda t: t.linspace(0, 1, 3), lambda t: t.full((2,), 1.5), lambda t: t.eye(2),
    lambda t: t.rand(2), lambda t: t.randn(2), lambda t: t.normal(0.0, 1.0, (2,)),
    lambda t: t.exp(t.arange(3)), lambda t: t.tensor([1, 2]),
]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_set_default_dtype_drives_creation_as_torch(dtype: str, default_dtype: None) -> None:
    jnn.set_default_dtype(getattr(jnn, dtype))
    torch.set_default_dtype(getattr(torch, dtype))
    assert jnp.dtype(jnn.get_default_dtype()) == np.dtype(dtype)
    for make in CREATIONS:
        theirs = str(make(torch).dtype).removeprefix("torch.")
        assert make(jnn).dtype == jax.dtypes.canonicalize_dtype(np.dtype(theirs))
    assert jnn.finfo().eps == torch.finfo().eps


def test_set_default_dtype_is_process_wide_and_checked(default_dtype: None) -> None:
    with pytest.raises(TypeError, match="only floating-point types are supported as the "
                                        "default type"):
        jnn.set_default_dtype(jnn.int32)
    jnn.set_default_dtype(jnn.float16)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(jnn.get_default_dtype()))
    thread.start()
    thread.join()
    assert seen == [jnp.float16]  # as torch's: one setting for every thread


@pytest.fixture
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dtypes, "_warned", set())


def test_64_bit_request_without_x64_warns_once(fresh_warnings: None) -> None:
    with pytest.warns(UserWarning, match=r"int64 was requested .* uses int32") as record:
        assert jnn.zeros(2, dtype=jnn.long).dtype == jnp.int32
    assert record[0].filename == __file__  # points at the caller, not at jnn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert jnn.arange(3, dtype=jnn.int64).dtype == jnp.int32  # warned already
        # torch's implicit int64 (Python ints, indices, sums) is silently int32.
        assert jnn.tensor([1, 2]).dtype == jnn.arange(3).dtype == jnp.int32
        assert jnn.sum(jnp.arange(3)).dtype == jnn.argmax(jnp.ones(3)).dtype == jnp.int32
    with pytest.warns(UserWarning, match="float64 was requested"):
        jnn.set_default_dtype(jnn.float64)
    try:
        assert jnn.get_default_dtype() == jnp.float64
        assert jnn.zeros(2).dtype == jnp.float32
    finally:
        jnn.set_default_dtype(jnn.float32)


@pytest.mark.parametrize("call", [
    lambda: jnn.tensor(2**40), lambda: jnn.tensor([1, 2**31]), lambda: jnn.tensor([[1], [-2**33]]),
    lambda: jnn.arange(2**31, 2**31 + 3), lambda: jnn.full((2,), 2**33),
    lambda: jnn.randint(0, 2**31 + 5, (2,)),
], ids=["tensor", "tensor-list", "tensor-nested", "arange", "full", "randint"])
def test_int64_values_beyond_int32_without_x64_raise_not_wrap(call: Callable) -> None:
    """torch keeps these in int64; JAX without x64 would wrap them to int32 silently."""
    with pytest.raises(OverflowError, match=r"does not fit JAX's default int32 .*"
                                            r"jax_enable_x64"):
        call()
    with jax.enable_x64(True):
        assert call().dtype == jnp.int64


def test_x64_on_gives_torchs_64_bit_dtypes(fresh_warnings: None) -> None:
    with jax.enable_x64(True), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert jnn.tensor([1, 2]).dtype == jnp.int64
        assert jnn.arange(4).dtype == jnn.randint(3, (2,)).dtype == jnp.int64
        assert jnn.sum(jnp.arange(3, dtype=jnp.int32)).dtype == jnp.int64
        assert jnn.max(jnp.ones((2, 2)), 1).indices.dtype == jnp.int64
        assert jnn.zeros(2, dtype=jnn.float64).dtype == jnp.float64
        assert jnn.from_numpy(np.zeros(2)).dtype == jnp.float64
        assert jnn.tensor(2.5).dtype == jnp.float32  # the default dtype stays float32


def test_finfo_iinfo_is_floating_point() -> None:
    for name in ("float16", "bfloat16", "float32"):
        ours, theirs = jnn.finfo(getattr(jnn, name)), torch.finfo(getattr(torch, name))
        assert (ours.eps, ours.max, ours.tiny, ours.bits) == (theirs.eps, theirs.max,
                                                              theirs.tiny, theirs.bits)
    assert (jnn.iinfo(jnn.int8).min, jnn.iinfo(jnn.uint8).max) == (-128, 255)
    assert jnn.is_floating_point(jnp.ones(1, jnp.bfloat16))
    assert not jnn.is_floating_point(jnp.ones(1, jnp.int32))
    assert jnn.is_complex(jnp.ones(1, jnp.complex64))
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        jnn.is_floating_point(1.0)


# -- devices ----------------------------------------------------------------------------------

DEVICES = [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 1), ("cpu", 0), ("mps",), ("meta",)]


@pytest.mark.parametrize("args", DEVICES, ids=[str(a) for a in DEVICES])
def test_device_matches_torch(args: tuple) -> None:
    ours, theirs = jnn.device(*args), torch.device(*args)
    assert (ours.type, ours.index) == (theirs.type, theirs.index)
    assert str(ours) == str(theirs) and repr(ours) == repr(theirs)
    assert jnn.device(ours) == ours and hash(jnn.device(ours)) == hash(ours)
    assert ours == jnn.device(str(theirs)) and ours != str(theirs)


def test_device_equality_and_pickle() -> None:
    import pickle

    assert jnn.device("cpu") != jnn.device("cpu", 0)  # as torch
    assert pickle.loads(pickle.dumps(jnn.device("cuda", 2))) == jnn.device("cuda:2")
    assert jnn.device(jax.devices("cpu")[0]) == jnn.device("cpu", 0)


@pytest.mark.parametrize("args", [("foo",), ("cuda:x",), ("cuda:-1",), ("cuda", -1),
                                  ("cuda:1", 2), ("CPU",), ("cuda ",), (1.5,)])
def test_device_errors_match_torch(args: tuple) -> None:
    with pytest.raises(Exception) as theirs:
        torch.device(*args)
    first = str(theirs.value).split("\n")[0]
    pattern = None if isinstance(theirs.value, TypeError) else re.escape(first)
    with pytest.raises(type(theirs.value), match=pattern):
        jnn.device(*args)


def test_device_arguments_place_arrays() -> None:
    cpu = jax.devices("cpu")[0]
    assert resolve_device(jnn.device("cpu")) == cpu
    for dev in ("cpu", jnn.device("cpu"), cpu, jnn.device("cpu", 0)):
        for made in (jnn.zeros(2, device=dev), jnn.tensor([1.0], device=dev),
                     jnn.randn(2, device=dev), jnn.arange(3, device=dev)):
            assert made.devices() == {cpu}
    layer = jnn.nn.Linear(2, 3, device=jnn.device("cpu"))
    assert layer.weight.data.devices() == {cpu}
    if not jnn.cuda.is_available():
        with pytest.raises(RuntimeError, match="no JAX device of kind 'gpu'"):
            jnn.zeros(2, device=jnn.device("cuda"))


def test_cuda_module() -> None:
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    assert jnn.cuda.is_available() == bool(gpus)
    assert jnn.cuda.device_count() == len(gpus)
    jnn.cuda.manual_seed(11)
    assert jnn.initial_seed() == 11
    jnn.cuda.manual_seed_all(12)
    assert jnn.initial_seed() == 12
    if gpus:  # exercised on a GPU machine
        assert jnn.cuda.current_device() == 0
        jnn.cuda.synchronize()
        assert isinstance(jnn.cuda.get_device_name(), str)
        assert jnn.cuda.memory_allocated() >= 0
        major, minor = jnn.cuda.get_device_capability()
        props = jnn.cuda.get_device_properties(0)
        assert (props.major, props.minor) == (major, minor) and props.name
        assert jnn.cuda.is_bf16_supported() == (major >= 8)
        free, total = jnn.cuda.mem_get_info()
        assert 0 <= free <= total
        jnn.cuda.set_device(0)
        assert jnn.cuda.current_device() == 0 and jnn.cuda.is_initialized()
    else:
        for call in (jnn.cuda.current_device, jnn.cuda.synchronize, jnn.cuda.get_device_name,
                     jnn.cuda.get_device_capability, jnn.cuda.get_device_properties,
                     jnn.cuda.mem_get_info, lambda: jnn.cuda.set_device(0)):
            with pytest.raises(RuntimeError, match="no GPU device is available"):
                call()
        # what a script logs or calls unconditionally answers as torch's does without CUDA
        for name in ("memory_allocated", "max_memory_allocated", "memory_reserved",
                     "max_memory_reserved", "empty_cache", "is_bf16_supported",
                     "is_initialized", "device_count"):
            assert getattr(jnn.cuda, name)() == getattr(torch.cuda, name)(), name


def test_cuda_memory_counters_read_xlas_pool_as_torchs_reserved(monkeypatch):
    """On a GPU, torch's "reserved" is its caching allocator's pool: XLA's is ``pool_bytes``
    (the keys are those of XLA's GPU allocator statistics; the values are chosen here: on
    an H200, ``bytes_reserved`` read 0 while torch's pool held 20 MiB)."""
    stats = {"bytes_in_use": 4194560, "peak_bytes_in_use": 4194560, "bytes_limit": 112583507968,
             "bytes_reserved": 0, "peak_bytes_reserved": 0, "pool_bytes": 20971520,
             "peak_pool_bytes": 25165824, "largest_alloc_size": 4194304}

    class Gpu:
        platform, device_kind, id = "gpu", "NVIDIA H200", 0

        def memory_stats(self):
            return stats

    monkeypatch.setattr(jnn.cuda, "_gpus", lambda: [Gpu()])
    monkeypatch.setattr(jnn.cuda, "_gpu", lambda device=None: Gpu())
    assert jnn.cuda.memory_allocated() == 4194560
    assert jnn.cuda.max_memory_allocated() == 4194560
    assert jnn.cuda.memory_reserved() == 20971520
    assert jnn.cuda.max_memory_reserved() == 25165824
    assert jnn.cuda.mem_get_info() == (112583507968 - 4194560, 112583507968)
    no_pool = {"bytes_in_use": 1024, "peak_bytes_in_use": 2048}  # a platform allocator
    stats = no_pool
    assert jnn.cuda.memory_reserved() == 1024 and jnn.cuda.max_memory_reserved() == 2048


@pytest.mark.parametrize("build", [
    lambda lib: lib.Linear(3, 2),
    lambda lib: lib.Conv2d(1, 2, 3),
    lambda lib: lib.BatchNorm1d(3),
    lambda lib: lib.LayerNorm(4),
    lambda lib: lib.Embedding(5, 2),
])
def test_default_dtype_reaches_layers_as_in_torch(build):
    torch_before, jnn_before = torch.get_default_dtype(), jnn.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float16)
        jnn.set_default_dtype(jnn.float16)
        theirs = {k: str(v.dtype).removeprefix("torch.") for k, v in
                  build(torch.nn).state_dict().items()}
        ours = {k: str(v.dtype) for k, v in build(jnn.nn).state_dict().items()}
    finally:
        torch.set_default_dtype(torch_before)
        jnn.set_default_dtype(jnn_before)
    theirs = {k: ("int32" if v == "int64" else v) for k, v in theirs.items()}  # x64 is off
    assert ours == theirs
