"""``jnn.save`` / ``jnn.load`` (jnn/serialization.py).

torch is the oracle of what a user gets back: the same Python structure goes through
``torch.save``/``torch.load`` and through jnn, and the two results must agree in types, keys
and values. The file format is checked against the safetensors library itself.
"""

from __future__ import annotations

import collections
import inspect
import io
import json
import os
import pickle
import re
import stat

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import safetensors
import safetensors.numpy
import safetensors.torch
import torch

import jnn
import jnn.nn as nn
import jnn.nn.functional as F
from jnn import _serialization_format as fmt
from jnn import serialization

OrderedDict = collections.OrderedDict
RNG = np.random.default_rng(0)


# -- helpers ----------------------------------------------------------------------------
def _bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    jnn.save(obj, buffer)
    return buffer.getvalue()


def _roundtrip(obj: object, **kwargs: object) -> object:
    return jnn.load(io.BytesIO(_bytes(obj)), **kwargs)


def _torch_roundtrip(obj: object, weights_only: bool = True) -> object:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=weights_only)


def _skeleton(x: object, values: bool = True) -> object:
    """Types, keys and values, arrays as (kind, dtype, shape, bytes): comparable across
    torch and jnn, and exact (NaN == NaN, -0.0 != 0.0)."""
    if isinstance(x, torch.Tensor):
        dtype = str(x.dtype).removeprefix("torch.")
        data = x.detach().reshape(-1).view(torch.uint8).numpy()  # any dtype, by its bits
        return ("array", dtype, tuple(x.shape), data.tobytes() if values else None)
    if isinstance(x, (jax.Array, np.ndarray, np.generic)):
        kind = "numpy" if isinstance(x, (np.ndarray, np.generic)) else "array"
        kind += "_scalar" if isinstance(x, np.generic) else ""
        data = np.asarray(x)
        return (kind, data.dtype.name, data.shape, data.tobytes() if values else None)
    if isinstance(x, dict):
        items = [(_skeleton(k), _skeleton(v, values)) for k, v in x.items()]
        return (type(x).__name__, items, _skeleton(getattr(x, "_metadata", None)))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_skeleton(v, values) for v in x])
    if isinstance(x, float):
        return ("float", repr(x))
    return (type(x).__name__, x)


def _checkpoint(array: object) -> dict:
    """What torch users save, with arrays made by ``array(numpy_array)``."""
    rng = np.random.default_rng(1)  # the same values at every call
    w, b = rng.standard_normal((3, 2), np.float32), rng.standard_normal(3, np.float32)
    model = OrderedDict([("0.weight", array(w)), ("0.bias", array(b))])
    model._metadata = OrderedDict([("", {"version": 1}), ("0", {"version": 1})])
    optimizer = {
        "state": {0: {"step": array(np.array(3.0, np.float32)), "exp_avg": array(w)},
                  1: {"step": array(np.array(3.0, np.float32)), "exp_avg": array(b)}},
        "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0,
                          "amsgrad": False, "foreach": None, "params": [0, 1]}],
    }
    odd = {(1, "a"): [], 2.5: {}, None: (), False: OrderedDict(), -7: "negative"}
    scalars = (1.0, float("nan"), float("-inf"), -0.0, None, True, "s", 10**30, 1e300)
    return {"epoch": 3, "model": model, "optimizer": optimizer, "loss": 0.25,
            "odd": odd, "scalars": scalars, "empty": array(np.zeros((0, 3), np.float32))}


def _craft(header: dict, data: bytes = b"") -> bytes:
    """A safetensors file written by hand (for tampered files)."""
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def _jnn_header(structure: object, tensors: dict) -> dict:
    header = {"__metadata__": {"jnn": json.dumps({"format": 1, "structure": structure})}}
    header.update(tensors)
    return header


# -- structure: what comes back is what torch gives back ----------------------------------
def test_checkpoint_matches_torch_roundtrip():
    ours = _roundtrip(_checkpoint(jnp.asarray))
    theirs = _torch_roundtrip(_checkpoint(torch.from_numpy))
    assert _skeleton(ours) == _skeleton(theirs)
    assert _skeleton(ours) == _skeleton(_checkpoint(jnp.asarray))  # exact, by construction
    assert type(ours["optimizer"]["param_groups"][0]["betas"]) is tuple
    assert list(ours["optimizer"]["state"]) == [0, 1]
    assert ours["model"]._metadata == theirs["model"]._metadata


@pytest.mark.parametrize("obj", [3, None, "text", 2.5, [], (), {}, OrderedDict(), [[(1,)]]])
def test_top_level_values_match_torch(obj):
    assert _skeleton(_roundtrip(obj)) == _skeleton(_torch_roundtrip(obj))


def test_array_on_its_own_and_numpy_kinds_match_torch():
    array = RNG.standard_normal((2, 3)).astype(np.float32)
    assert _skeleton(_roundtrip(jnp.asarray(array))) == _skeleton(torch.from_numpy(array))
    # torch pickles numpy as numpy: arrays and scalars stay numpy, with their dtype
    obj = {"x": array, "s": np.float32(2.5), "b": np.bool_(True), "i": np.int64(-3)}
    ours, theirs = _roundtrip(obj), _torch_roundtrip(obj, weights_only=False)
    assert _skeleton(ours) == _skeleton(theirs) == _skeleton(obj)
    assert ours["x"].flags.writeable
    ours["x"][0, 0] = 7.0  # writable, shares nothing with the caller's array
    assert array[0, 0] != 7.0


def test_same_array_twice_loads_as_one_object_as_torch():
    x, t = jnp.arange(3.0), torch.arange(3.0)
    theirs = _torch_roundtrip({"a": t, "b": [t]})
    assert theirs["a"] is theirs["b"][0]
    ours = _roundtrip({"a": x, "b": [x]})
    assert ours["a"] is ours["b"][0]
    tensors = safetensors.deserialize(_bytes({"a": x, "b": [x]}))
    assert [name for name, _ in tensors] == ["a"]  # stored once
    # containers are not shared (documented): equal, but two objects
    shared = [1]
    loaded = _roundtrip([shared, shared])
    assert loaded == [[1], [1]] and loaded[0] is not loaded[1]


def test_parameter_saved_as_its_array():
    p = nn.Parameter(jnp.arange(4.0))
    loaded = _roundtrip({"p": p})["p"]
    assert isinstance(loaded, jax.Array)
    np.testing.assert_array_equal(loaded, np.arange(4.0))


def test_format_structure_is_the_documented_json(tmp_path):
    path = tmp_path / "doc.safetensors"
    jnn.save({"a": (1, 2.0, float("inf")), 3: [None, True]}, path)
    with safetensors.safe_open(str(path), "np") as handle:  # the library reads our files
        meta = handle.metadata()
    assert list(meta) == ["jnn"]
    assert json.loads(meta["jnn"]) == {"format": 1, "structure": {"dict": [
        ["a", {"tuple": [1, 2.0, {"float": "inf"}]}], [3, [None, True]]]}}
    assert _bytes(_checkpoint(jnp.asarray)) == _bytes(_checkpoint(jnp.asarray))  # deterministic
    node = json.loads(_metadata(_bytes([jnp.ones((2,), jnp.bfloat16)]))["jnn"])["structure"]
    assert node == [{"tensor": "0", "kind": "jax", "dtype": "bfloat16", "shape": [2],
                     "device": "cpu"}]


def _metadata(data: bytes) -> dict:
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + size])["__metadata__"]


# -- dtypes -----------------------------------------------------------------------------
def _values(dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "b":
        return np.array([[True, False, True], [False, False, True]])
    base = np.array([[0, 1, 2], [3, 5, 7]])
    if dtype.name in ("int2", "uint2", "int4", "uint4"):
        base = base % 2  # in range for the narrowest
    if dtype.name.startswith(("float", "bfloat", "complex")):
        base = np.array([[0.0, 1.5, -0.0], [np.inf, np.nan, 0.25]])
        if dtype.name == "float8_e8m0fnu":
            base = np.abs(base) + 1
    return base.astype(dtype)


@pytest.mark.parametrize("name", sorted(fmt.DTYPES))
def test_every_dtype_roundtrips_bit_exactly(name):
    dtype = fmt.DTYPES[name]
    host = _values(dtype)
    with jax.enable_x64(True):  # int64, uint64, float64, complex128 as jax arrays
        try:
            device = jnp.asarray(host)
        except Exception:  # noqa: BLE001 - a dtype this jaxlib cannot hold: numpy only
            device = None
        obj = {"numpy": host, "scalar": host.reshape(-1)[0], "empty": host[:0]}
        if device is not None:
            obj.update(jax=device, jax_0d=device[0, 0], jax_empty=device[:0])
        loaded = _roundtrip(obj)
    assert _skeleton(loaded) == _skeleton(obj)


def test_torch_reads_native_dtypes_from_a_jnn_file(tmp_path):
    """Every dtype stored with a safetensors code reads back in torch with the same bits."""
    names = [n for n in fmt.NATIVE_CODES if n in fmt.DTYPES and hasattr(torch, n)]
    obj = OrderedDict((n, _values(fmt.DTYPES[n])) for n in names)
    path = tmp_path / "dtypes.safetensors"
    jnn.save(obj, path)
    theirs = safetensors.torch.load_file(str(path))
    assert sorted(theirs) == sorted(names)
    for n in names:
        assert _skeleton(theirs[n]) == _skeleton(torch.from_numpy(obj[n].view(np.uint8))
                                                 .view(getattr(torch, n))), n


def test_int64_with_x64_and_without():
    big = np.array([2**40, -3], np.int64)
    with jax.enable_x64(True):
        data = _bytes({"big": jnp.asarray(big), "small": jnp.asarray(big[1:])})
        loaded = jnn.load(io.BytesIO(data))
        assert loaded["big"].dtype == jnp.int64
        np.testing.assert_array_equal(loaded["big"], big)
    small = jnn.load(io.BytesIO(_bytes({"small": jnp.asarray(big[1:])})))["small"]
    assert small.dtype == jnp.int32  # JAX's default integer, as jnn's state_dict loading
    with pytest.raises(OverflowError, match="jax_enable_x64"):
        jnn.load(io.BytesIO(data))


# -- modules and optimizers -------------------------------------------------------------
def test_state_dict_roundtrip_keeps_metadata_for_version_hooks(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    sd = model.state_dict()
    path = tmp_path / "model.pt"
    jnn.save(sd, path)
    loaded = jnn.load(path)
    assert type(loaded) is OrderedDict and list(loaded) == list(sd)
    assert loaded._metadata == sd._metadata
    assert _skeleton(loaded) == _skeleton(sd)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert str(fresh.load_state_dict(loaded)) == "<All keys matched successfully>"
    # a version-1 BatchNorm checkpoint (no num_batches_tracked) loads through BatchNorm's
    # version hook only if _metadata survived the round trip, in torch and in jnn
    old = model.state_dict()
    del old["1.num_batches_tracked"]
    old._metadata["1"]["version"] = 1
    jnn.save(old, path)
    fresh.load_state_dict(jnn.load(path))
    torch_model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    torch_old = OrderedDict((k, torch.from_numpy(np.array(v))) for k, v in old.items())
    torch_old._metadata = old._metadata
    torch_model.load_state_dict(_torch_roundtrip(torch_old))
    assert int(fresh[1].num_batches_tracked) == int(torch_model[1].num_batches_tracked) == 0


def test_torch_loads_a_jnn_state_dict_through_safetensors(tmp_path):
    model = nn.Linear(3, 2)
    path = tmp_path / "linear.safetensors"
    jnn.save(model.state_dict(), path)
    torch_model = torch.nn.Linear(3, 2)
    torch_model.load_state_dict(safetensors.torch.load_file(str(path)))
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(torch_model(torch.from_numpy(x)).detach().numpy(),
                               np.asarray(model(jnp.asarray(x))), rtol=1e-5, atol=1e-6)


def test_jnn_reads_a_plain_safetensors_file(tmp_path):
    path = tmp_path / "plain.safetensors"
    tensors = {"b": np.ones(2, np.float32), "a": np.arange(6, dtype=np.int32).reshape(2, 3)}
    safetensors.numpy.save_file(tensors, str(path))
    loaded = jnn.load(path)
    assert type(loaded) is OrderedDict and sorted(loaded) == ["a", "b"]
    for name, value in tensors.items():
        assert _skeleton(loaded[name]) == _skeleton(jnp.asarray(value))


def _training(seed: int) -> tuple:
    jnn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = jnn.optim.Adam(model.parameters(), lr=0.05)

    @jnn.compile
    def step(x: jax.Array, y: jax.Array) -> jax.Array:
        def closure() -> jax.Array:
            optimizer.zero_grad()
            return F.cross_entropy(model(x), y)
        return optimizer.step(closure)

    return model, optimizer, step


def test_compiled_training_resumes_identically(tmp_path):
    model, optimizer, step = _training(0)
    x = jnp.asarray(RNG.standard_normal((6, 4)).astype(np.float32))
    y = jnp.asarray(RNG.integers(0, 3, 6).astype(np.int32))
    for _ in range(3):
        step(x, y)
    jnn.save(model.state_dict(), tmp_path / "model.pt")
    jnn.save(optimizer.state_dict(), tmp_path / "optim.pt")
    after = [float(step(x, y)) for _ in range(2)]
    expected = {k: np.asarray(v) for k, v in model.state_dict().items()}
    # back to the checkpoint, in the same objects (the compiled step is reused) ...
    model.load_state_dict(jnn.load(tmp_path / "model.pt"))
    optimizer.load_state_dict(jnn.load(tmp_path / "optim.pt"))
    assert [float(step(x, y)) for _ in range(2)] == after
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), expected[key], err_msg=key)
    # ... and the optimizer state is what torch's Adam keeps, in type and structure
    torch_model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8),
                                      torch.nn.ReLU(), torch.nn.Linear(8, 3))
    torch_optimizer = torch.optim.Adam(torch_model.parameters(), lr=0.05)
    torch.nn.functional.cross_entropy(torch_model(torch.from_numpy(np.array(x))),
                                      torch.from_numpy(np.array(y)).long()).backward()
    torch_optimizer.step()
    ours = jnn.load(tmp_path / "optim.pt")
    theirs = _torch_roundtrip(torch_optimizer.state_dict())
    assert _skeleton(ours, values=False) == _skeleton(theirs, values=False)


def test_a_checkpoint_with_the_rng_state_resumes_dropout_identically(tmp_path):
    """torch's checkpoints keep ``torch.get_rng_state()`` so that a resumed run draws the
    same dropout masks.  jnn's state is a typed PRNG key array: jnn.save stores its key
    data and implementation (it raised "Cannot interpret 'key<fry>' as a data type")."""
    def build():
        model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
        optimizer = jnn.optim.SGD(model.parameters(), lr=0.1)
        step = jnn.compile(lambda x, y: optimizer.step(lambda: (
            optimizer.zero_grad(), F.cross_entropy(model(x), y))[1]))
        return model, optimizer, step

    jnn.manual_seed(0)
    model, optimizer, step = build()
    own = jnn.Generator().manual_seed(7)
    x = jnp.asarray(RNG.standard_normal((6, 4)).astype(np.float32))
    y = jnp.asarray(RNG.integers(0, 3, 6).astype(np.int32))
    for _ in range(3):
        step(x, y)
    jnn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
              "rng": jnn.get_rng_state(), "own": own.get_state(),
              "rbg": jax.random.key(3, impl="rbg")}, tmp_path / "ckpt.pt")
    after = [float(step(x, y)) for _ in range(3)]
    draws = np.asarray(jnn.randn(4, generator=own))
    expected = {k: np.asarray(v) for k, v in model.state_dict().items()}

    jnn.manual_seed(123)  # a fresh process: other objects, another RNG state
    model, optimizer, step = build()
    ckpt = jnn.load(tmp_path / "ckpt.pt")
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    jnn.set_rng_state(ckpt["rng"])
    own = jnn.Generator()
    own.set_state(ckpt["own"])
    assert [float(step(x, y)) for _ in range(3)] == after
    np.testing.assert_array_equal(np.asarray(jnn.randn(4, generator=own)), draws)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(np.asarray(value), expected[key], err_msg=key)
    assert str(jax.random.key_impl(ckpt["rbg"])) == "rbg"
    np.testing.assert_array_equal(jax.random.key_data(ckpt["rbg"]),
                                  jax.random.key_data(jax.random.key(3, impl="rbg")))


@pytest.mark.parametrize("make", [
    lambda lr, opt: lr.ReduceLROnPlateau(opt, patience=1),  # 'best': inf
    lambda lr, opt: lr.SequentialLR(opt, [lr.LinearLR(opt, total_iters=2),
                                          lr.ExponentialLR(opt, 0.9)], milestones=[2]),
    # milestones are a collections.Counter: jnn.save refused it
    lambda lr, opt: lr.MultiStepLR(opt, milestones=[2, 2, 5], gamma=0.5),
    lambda lr, opt: lr.ChainedScheduler([lr.ExponentialLR(opt, 0.9),
                                         lr.MultiStepLR(opt, milestones=[3])]),
])
def test_scheduler_state_matches_torch(make):
    def state(module: object, params: object) -> dict:
        return make(module.lr_scheduler, module.SGD(params, lr=0.1)).state_dict()

    ours = state(jnn.optim, nn.Linear(2, 2).parameters())
    theirs = state(torch.optim, torch.nn.Linear(2, 2).parameters())
    assert _skeleton(_roundtrip(ours)) == _skeleton(_torch_roundtrip(theirs)) == _skeleton(ours)


def test_large_state_dict_round_trip(tmp_path):
    # Speed is not asserted here (a shared CI machine makes wall-clock checks flaky): a
    # 700-array state dict takes ~15 ms to save and ~30 ms to load on this 2-core machine.
    model = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8))
                            for _ in range(100)])
    sd = model.state_dict()
    path = tmp_path / "big.pt"
    jnn.save(sd, path)
    loaded = jnn.load(path)
    assert len(sd) == 700 and _skeleton(loaded) == _skeleton(sd)
    model.load_state_dict(loaded)
    for k, v in sd.items():
        np.testing.assert_array_equal(np.asarray(model.state_dict()[k]), np.asarray(v))


# -- files and atomic writes --------------------------------------------------------------
def test_paths_and_file_objects(tmp_path):
    obj = {"w": jnp.ones(2)}
    for target in (str(tmp_path / "a.pt"), tmp_path / "b.pt", os.fsencode(tmp_path / "c.pt")):
        jnn.save(obj, target)
        assert _skeleton(jnn.load(target)) == _skeleton(obj)
    with open(tmp_path / "d.pt", "wb") as handle:
        jnn.save(obj, handle)
    with open(tmp_path / "d.pt", "rb") as handle:
        assert _skeleton(jnn.load(handle)) == _skeleton(obj)
    with open(tmp_path / "e.pt", "w") as handle, pytest.raises(TypeError, match="binary"):
        jnn.save(obj, handle)
    with pytest.raises(FileNotFoundError):
        jnn.load(tmp_path / "missing.pt")


@pytest.mark.parametrize("f", [3, None])
def test_a_target_that_is_no_file_raises_torchs_error(f, tmp_path):
    """torch's type, and its words up to where they name torch (jnn then says what it takes)."""
    with pytest.raises(AttributeError) as theirs:
        torch.save({}, f)
    with pytest.raises(AttributeError, match=f"^{re.escape(str(theirs.value))}"):
        jnn.save({}, f)
    with pytest.raises(AttributeError) as theirs:
        torch.load(f)
    words = str(theirs.value).split("torch.load")[0]
    with pytest.raises(AttributeError, match=f"^{re.escape(words)}"):
        jnn.load(f)


def test_saving_onto_a_directory_is_a_runtime_error_as_torchs(tmp_path):
    with pytest.raises(RuntimeError) as theirs:
        torch.save({}, str(tmp_path))
    tail = str(theirs.value).split(". ")[-1]  # (torch's first words name its C++ source)
    with pytest.raises(RuntimeError, match=re.escape(tail)):
        jnn.save({}, str(tmp_path))


def test_load_refuses_what_torchs_unpickler_refuses(tmp_path):
    target = tmp_path / "a.pt"
    torch.save({}, target)
    assert torch.load(target, encoding="latin1") == {}
    with pytest.raises(TypeError) as theirs:
        torch.load(target, colour="red")
    jnn.save({}, target)
    assert jnn.load(target, encoding="latin1", fix_imports=True) == {}
    unexpected = str(theirs.value).split("__init__() ")[-1]
    with pytest.raises(TypeError, match=re.escape(unexpected)):
        jnn.load(target, colour="red")


def test_missing_directory_error_is_torchs(tmp_path):
    target = str(tmp_path / "no" / "x.pt")
    with pytest.raises(RuntimeError) as theirs:
        torch.save({}, target)
    with pytest.raises(RuntimeError) as ours:
        jnn.save({}, target)
    assert str(ours.value) == str(theirs.value)


def _only(directory: object) -> list[str]:
    return sorted(os.listdir(directory))


def test_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    jnn.save({"w": jnp.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"found at obj\['deep'\]\[0\]\['f'\]"):
        jnn.save({"w": jnp.zeros(3), "deep": [{"f": lambda: 0}]}, path)

    def write_half_then_fail(specs: dict, target: str, metadata: dict) -> None:
        with open(target, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(serialization, "_write_file", write_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        jnn.save({"w": jnp.zeros(3)}, path)
    monkeypatch.undo()

    def fail_replace(src: object, dst: object) -> None:
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(OSError, match="rename failed"):
        jnn.save({"w": jnp.zeros(3)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and _only(tmp_path) == ["ckpt.pt"]
    np.testing.assert_array_equal(jnn.load(path)["w"], np.ones(3))


def test_save_keeps_permissions_and_symlinks(tmp_path):
    path = tmp_path / "ckpt.pt"
    jnn.save({}, path)
    with open(tmp_path / "plain", "wb"):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    path.chmod(0o640)
    jnn.save({"a": 1}, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    link = tmp_path / "link.pt"
    link.symlink_to(path)
    jnn.save({"a": 2}, link)
    assert link.is_symlink() and jnn.load(path) == {"a": 2}


# -- what cannot be saved ---------------------------------------------------------------
class _Thing:
    pass


@pytest.mark.parametrize("value, says", [
    (lambda: 0, "function"),
    (nn.Linear(2, 2), "model.state_dict()"),
    (_Thing(), "_Thing"),
    ({1, 2}, "set"),
    (b"bytes", "bytes"),
    (1j, "complex"),
    (collections.namedtuple("Point", "x y")(1, 2), "Point"),
    (collections.defaultdict(list), "defaultdict"),
    (np.array([object()]), "dtype object"),
    (torch.ones(2), "t.numpy()"),
    (nn.LazyLinear(2).weight, "lazy module"),
    ({frozenset(): 1}, "dict key of type frozenset"),
])
def test_unsupported_objects_raise_type_error(value, says, tmp_path):
    with pytest.raises(TypeError, match="jnn.save cannot save") as info:
        jnn.save({"a": [value]}, tmp_path / "x.pt")
    message = str(info.value)
    assert says in message and "model.state_dict()" in message
    assert "obj['a'][0]" in message
    assert _only(tmp_path) == []


def test_optimizer_cycle_and_tracer_are_refused():
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"optimizer.state_dict\(\)"):
        jnn.save(jnn.optim.SGD(model.parameters(), lr=0.1), io.BytesIO())
    cycle: list = []
    cycle.append(cycle)
    with pytest.raises(TypeError, match="reference cycle"):
        jnn.save(cycle, io.BytesIO())

    @jax.jit
    def inside(x: jax.Array) -> jax.Array:
        jnn.save({"x": x}, io.BytesIO())
        return x

    with pytest.raises(TypeError, match="traced array"):
        inside(jnp.ones(2))


# -- what cannot be loaded ----------------------------------------------------------------
_GOOD = _bytes({"w": jnp.arange(3.0)})
_F32 = {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}
_W = {"tensor": "w", "kind": "jax", "dtype": "float32", "shape": [3], "device": "cpu"}
_DATA = np.arange(3, dtype=np.float32).tobytes()


def _header_with(structure: object, **entry: object) -> bytes:
    return _craft(_jnn_header(structure, {"w": {**_F32, **entry}}), _DATA)


@pytest.mark.parametrize("data, problem", [
    (_GOOD[:5], "5 bytes long"),
    (_GOOD[:30], "truncated"),
    (_GOOD[:-3], "truncated"),
    (_GOOD + b"extra", "trailing bytes"),
    (b"\xff" * 8 + _GOOD[8:], "not a safetensors file"),
    (b"hello, world! not a checkpoint", "not a safetensors file"),
    (pickle.dumps({"a": 1}, protocol=4), "looks like a pickle"),
    (b"\x05\x00\x00\x00\x00\x00\x00\x00{oops", "not valid JSON"),
    (_craft([]), "not a JSON object"),  # type: ignore[arg-type]
    (_craft({"w": {**_F32, "dtype": "X9"}}, _DATA), "unsupported dtype 'X9'"),
    (_craft({"w": {**_F32, "shape": [4]}}, _DATA), "needs 16"),
    (_craft({"w": {**_F32, "shape": [-3]}}, _DATA), "bad shape"),
    (_craft({"w": {**_F32, "data_offsets": [0]}}, _DATA), "bad data_offsets"),
    (_craft({"w": _F32, "v": _F32}, _DATA), "overlapping or missing"),
    (_craft({"w": _F32, "__metadata__": {"a": 1}}, _DATA), "map of strings"),
    (_header_with({"dict": [["a", {**_W, "tensor": "nope"}]]}), "does not hold"),
    (_header_with({**_W, "dtype": "float16"}), "stored as F32"),
    (_header_with({**_W, "shape": [2, 2]}), "needs 16"),
    (_header_with({**_W, "kind": "pickle"}), "kind 'pickle'"),
    (_header_with({**_W, "kind": "key_evil"}), "kind 'key_evil'"),
    (_header_with({**_W, "kind": "key_threefry2x32"}), "PRNG key's data must be uint32"),
    (_header_with({**_W, "kind": "key_rbg", "dtype": "uint32"}), "last dimension of 4"),
    (_header_with({**_W, "dtype": "object"}), "unsupported dtype 'object'"),
    (_header_with({"set": [1, 2]}), "unknown structure node"),
    (_header_with({"dict": [[[1], 2]]}), "not hashable"),
    (_header_with({"dict": [[1]]}), "[key, value] pair"),
    (_header_with({"odict": [], "attrs": [["__class__", 1]]}), "bad OrderedDict attribute"),
    (_header_with({"float": "1.5"}), "unknown structure node"),
    (_craft({"__metadata__": {"jnn": '{"format": 1, "structure": [NaN]}'}}), "NaN"),
    (_craft({"__metadata__": {"jnn": '{"format": 1, '}}), "not valid JSON"),
    (_craft({"__metadata__": {"jnn": '{"format": 2, "structure": 1}'}}), "format 2"),
    (_craft({"__metadata__": {"jnn": '[1]'}}), "format None"),
    (_craft({"__metadata__": {"jnn": '{"format": 1, "structure": ' + "[" * 5000 + "]" * 5000
                                     + "}"}}), "nested too deeply"),
    (_craft({"w": {"dtype": "F32", "shape": [0, 10**30], "data_offsets": [0, 0]}}), "shape"),
    (_craft({"w": {"dtype": "F32", "shape": [2**40], "data_offsets": [0, 2**42]}}), "truncated"),
])
def test_corrupt_files_raise_clear_errors(data, problem, tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(data)
    with pytest.raises(RuntimeError, match="jnn.load cannot read") as info:
        jnn.load(path)
    assert problem in str(info.value) and str(path) in str(info.value)
    with pytest.raises(RuntimeError, match="the BytesIO"):  # the same from a stream
        jnn.load(io.BytesIO(data))


def test_an_empty_file_raises_eof_error_as_torch(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    with pytest.raises(Exception) as theirs:
        torch.load(path)
    assert type(theirs.value) is EOFError
    with pytest.raises(EOFError, match="jnn.load cannot read .*empty.pt.*0 bytes") as ours:
        jnn.load(path)
    assert type(ours.value) is EOFError
    with pytest.raises(EOFError, match="the BytesIO: the file is empty"):  # from a stream too
        jnn.load(io.BytesIO(b""))


class _Exploit:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("zipfile", [True, False])
def test_torch_and_pickle_files_are_refused_without_running_them(tmp_path, zipfile):
    marker = str(tmp_path / "pwned")
    path = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2), "x": _Exploit(marker)}, path,
               _use_new_zipfile_serialization=zipfile)
    for loader in (lambda: jnn.load(path), lambda: jnn.load(path, weights_only=False)):
        with pytest.raises(RuntimeError, match="written by torch.save") as info:
            loader()
        assert "jnn.save" in str(info.value)
    path.write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(RuntimeError, match="jnn.load cannot read"):
        jnn.load(path)
    assert not os.path.exists(marker)


# -- map_location -------------------------------------------------------------------------
def test_map_location_forms():
    cpu = jax.devices("cpu")[0]
    data = _bytes({"j": jnp.ones(2), "n": np.ones(2)})
    seen = []

    def keep_on_cpu(array: jax.Array, location: str) -> jax.Array:
        seen.append((array.devices(), location))
        return array

    forms = [None, "cpu", cpu, torch.device("cpu"), {"cpu": "cpu"}, {"cuda:0": "cpu"},
             keep_on_cpu, lambda array, location: None,
             lambda array, location: np.asarray(array)]
    for form in forms:
        loaded = jnn.load(io.BytesIO(data), map_location=form)
        assert loaded["j"].devices() == {cpu}, form
        assert isinstance(loaded["n"], np.ndarray)  # numpy stays on the host
    assert seen == [({cpu}, "cpu")]


def test_map_location_errors():
    data = _bytes({"j": jnp.ones(2)})
    buffer = io.BytesIO()
    torch.save({"t": torch.ones(2)}, buffer)
    for bad in (1.5, 3, [1], "bogus"):  # torch calls a non-device; an unknown tag it names
        buffer.seek(0)
        with pytest.raises(Exception) as theirs:
            torch.load(buffer, map_location=bad)
        with pytest.raises(type(theirs.value), match=re.escape(str(theirs.value))):
            jnn.load(io.BytesIO(data), map_location=bad)
    with pytest.raises(TypeError, match="must return a jax.Array"):
        jnn.load(io.BytesIO(data), map_location=lambda array, location: "cuda")
    # other data than it was given: torch refuses what is not the storage it passed
    for other in (np.zeros(3, np.float32), np.ones(2, np.float64), jnp.zeros((2, 1))):
        with pytest.raises(TypeError, match="must return the array it was given"):
            jnn.load(io.BytesIO(data), map_location=lambda array, location, other=other: other)
    moved = jnn.load(io.BytesIO(data), map_location=lambda array, location: np.asarray(array))
    np.testing.assert_array_equal(np.asarray(moved["j"]), np.ones(2))
    if not any(d.platform == "gpu" for d in jax.devices()):
        with pytest.raises(RuntimeError, match="no JAX device of kind 'gpu'"):
            jnn.load(io.BytesIO(data), map_location="cuda:0")


def test_signatures_are_torchs():
    for ours, theirs in ((jnn.save, torch.save), (jnn.load, torch.load)):
        ours_params = inspect.signature(ours).parameters.values()
        theirs_params = inspect.signature(theirs).parameters.values()
        assert [(p.name, p.kind) for p in ours_params] == [(p.name, p.kind)
                                                           for p in theirs_params]
    data = _bytes({"a": 1})
    assert jnn.load(io.BytesIO(data), None, pickle, weights_only=False, mmap=False,
                    encoding="latin1") == {"a": 1}
    buffer = io.BytesIO()
    jnn.save({"a": 1}, buffer, pickle, 4, False, True)
    assert buffer.getvalue() == data


def _saved(lib) -> bytes:
    buffer = io.BytesIO()
    lib.save({"a": 1}, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("call", [
    lambda lib, path: lib.load(io.BytesIO(_saved(lib)), mmap=True),
    lambda lib, path: lib.save({"a": 1}, path, pickle_protocol=99),
    lambda lib, path: lib.save({"a": 1}, path, pickle_protocol="x"),
], ids=["mmap_of_a_file_object", "pickle_protocol_too_high", "pickle_protocol_not_an_int"])
def test_checked_arguments_raise_as_torch_before_the_file_is_touched(call, tmp_path):
    """``mmap=True`` needs a path and ``pickle_protocol`` is checked, in torch: jnn accepted
    both (they are otherwise ignored); a refused save writes nothing."""
    with pytest.raises(Exception) as expected:
        call(torch, tmp_path / "t.pt")
    with pytest.raises(type(expected.value), match=re.escape(str(expected.value))):
        call(jnn, tmp_path / "j.pt")
    assert not (tmp_path / "j.pt").exists()


def test_mmap_with_a_path_loads(tmp_path):
    jnn.save({"w": jnp.ones(3)}, tmp_path / "m.pt")
    loaded = jnn.load(tmp_path / "m.pt", mmap=True)
    np.testing.assert_array_equal(np.asarray(loaded["w"]), np.ones(3))


def test_an_optimizers_param_groups_save_and_load_as_plain_lists_and_dicts(tmp_path):
    """``torch.save(opt.param_groups)`` works; jnn's groups (versioned containers, see
    ``jnn._state.GroupDict``) are stored and loaded as the plain list and dicts they are."""
    model = jnn.nn.Linear(3, 2)
    opt = jnn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    jnn.save({"groups": opt.param_groups, "first": opt.param_groups[0]}, tmp_path / "g.pt")
    loaded = jnn.load(tmp_path / "g.pt")
    assert type(loaded["groups"]) is list and type(loaded["first"]) is dict
    assert {k: v for k, v in loaded["first"].items() if k != "params"} == {
        k: v for k, v in opt.param_groups[0].items() if k != "params"}
    for saved, p in zip(loaded["first"]["params"], model.parameters()):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(p.data))
