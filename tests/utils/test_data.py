"""jnn.utils.data against torch.utils.data: datasets, samplers, collation, DataLoader.

Orders without randomness (``shuffle=False``, given samplers) must give torch's batches;
random orders use another generator, so they are checked by torch's structure (lengths,
batch sizes) and by invariants (a permutation, reproducible under a seed, new per epoch).
"""

from __future__ import annotations

import collections
import gc
import re
import threading
import time
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.utils.data as tud

import jnn
import jnn.utils.data as jud

X = np.random.default_rng(0).standard_normal((37, 5)).astype(np.float32)
Y = (np.arange(37) % 3).astype(np.int64)
THREAD_NAME = "jnn.utils.data.DataLoader"


class Point(NamedTuple):
    x: Any
    y: Any


class T:
    """Marks an array that is a tensor: a torch tensor for torch, a jax array for jnn."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


def _for(tree: Any, framework: str) -> Any:
    """A sample tree with each ``T`` made a torch tensor or a jax array."""
    if isinstance(tree, T):
        return torch.from_numpy(tree.array) if framework == "torch" else jnp.asarray(tree.array)
    if isinstance(tree, dict):
        return type(tree)((k, _for(v, framework)) for k, v in tree.items())
    if isinstance(tree, Point):
        return Point(*(_for(v, framework) for v in tree))
    if isinstance(tree, (list, tuple)):
        return type(tree)(_for(v, framework) for v in tree)
    return tree


def assert_like_torch(ours: Any, theirs: Any) -> None:
    """Same structure and types, jax arrays for tensors with JAX's canonical dtypes."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, jax.Array), type(ours)
        expected = theirs.numpy()
        assert ours.shape == expected.shape
        assert ours.dtype == jax.dtypes.canonicalize_dtype(expected.dtype)
        np.testing.assert_allclose(np.asarray(ours), expected.astype(ours.dtype), rtol=1e-6)
        return
    assert type(ours) is type(theirs), (type(ours), type(theirs))
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs)
        for key in theirs:
            assert_like_torch(ours[key], theirs[key])
    elif isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert_like_torch(a, b)
    elif isinstance(theirs, np.ndarray):
        np.testing.assert_array_equal(ours, theirs)
    else:
        assert ours == theirs


def _norm(message: str) -> str:
    """An error message with object reprs (``<... at 0x...>``) blanked out."""
    return re.sub(r"<[^<>]*>", "<obj>", message)


def assert_same_data_error(fn: Any, exact: bool = True) -> None:
    """``fn(module)`` raises the same type with the same message for torch and jnn (or,
    not ``exact``, torch's message followed by more)."""
    with pytest.raises(Exception) as theirs:
        fn(tud)
    with pytest.raises(type(theirs.value)) as ours:
        fn(jud)
    assert type(ours.value) is type(theirs.value)
    if exact:
        assert _norm(str(ours.value)) == _norm(str(theirs.value))
    assert _norm(str(ours.value)).startswith(_norm(str(theirs.value)))
    assert re.search(re.escape(_norm(str(theirs.value))), _norm(str(ours.value)))


def _datasets(m: Any) -> Any:
    if m is tud:
        return m.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    return m.TensorDataset(X, Y)


def _loader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def _wait_no_threads(timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while _loader_threads() and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.01)
    assert not _loader_threads()


# --------------------------------------------------------------------------- collation

COLLATE_CASES = {
    "ints": [0, 1, 2, 3],
    "floats": [0.5, 1.5, -2.0],
    "bools": [True, False, True],
    "int_then_float": [1, 2.5],
    "strings": ["a", "bc"],
    "bytes": [b"a", b"bc"],
    "np_float32": [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)],
    "np_float64": [np.arange(3.0), np.arange(3.0) * 2],
    "np_int64": [np.arange(4), np.arange(4) + 1],
    "np_uint8_bool": [(np.arange(3, dtype=np.uint8), np.array([True, False, True]))] * 2,
    "np_scalars": [(np.float32(1.5), np.int64(3), np.float64(2.0))] * 2,
    "tensors": [T(X[0]), T(X[1]), T(X[2])],
    "tensor_int": [T(Y[:4]), T(Y[4:8])],
    "dicts": [{"a": 0, "b": T(X[0])}, {"a": 1, "b": T(X[1])}],
    "ordered_dict": [collections.OrderedDict(x=1.0, y=2), collections.OrderedDict(x=3.0, y=4)],
    "namedtuple": [Point(0, T(X[0])), Point(1, T(X[1]))],
    "tuples": [(0, 1), (2, 3)],
    "lists": [[0, 1], [2, 3]],
    "nested": [{"img": T(X[i]), "label": i, "meta": ("s", 2.5, [i, i + 1])} for i in range(3)],
}


@pytest.mark.parametrize("case", list(COLLATE_CASES))
def test_default_collate_matches_torch(case: str) -> None:
    batch = COLLATE_CASES[case]
    assert_like_torch(jud.default_collate(_for(batch, "jnn")),
                      tud.default_collate(_for(batch, "torch")))


CONVERT_CASES = {
    "np_array": np.arange(6.0).reshape(2, 3),
    "np_scalar": np.float32(2.5),
    "int": 3,
    "string_array": np.array(["a", "b"]),
    "tuple": (np.arange(3), 1, "s"),
    "namedtuple": Point(np.arange(2), np.float64(1.0)),
    "dict_list": {"a": [np.arange(2), np.int64(7)], "b": "text"},
}


@pytest.mark.parametrize("case", list(CONVERT_CASES))
def test_default_convert_matches_torch(case: str) -> None:
    data = CONVERT_CASES[case]
    assert_like_torch(jud.default_convert(data), tud.default_convert(data))


COLLATE_ERRORS = {
    "shapes": lambda m, t: m.default_collate([t(np.zeros(3, np.float32)),
                                              t(np.zeros(4, np.float32))]),
    "np_shapes": lambda m, t: m.default_collate([np.zeros((2, 3)), np.zeros((3, 2))]),
    "sequence_sizes": lambda m, t: m.default_collate([[1, 2], [3]]),
    "object": lambda m, t: m.default_collate([object, object]),
    "none": lambda m, t: m.default_collate([None, None]),
    "string_array": lambda m, t: m.default_collate([np.array(["a"]), np.array(["b"])]),
    "empty": lambda m, t: m.default_collate([]),
}


@pytest.mark.parametrize("case", list(COLLATE_ERRORS))
def test_collate_errors_match_torch(case: str) -> None:
    def tensor(m: Any) -> Any:
        return torch.from_numpy if m is tud else jnp.asarray

    # collate's "batch must contain tensors, ..." then says which tensors it means
    assert_same_data_error(lambda m: COLLATE_ERRORS[case](m, tensor(m)), exact=False)


def test_collate_dtypes_follow_x64_and_refuse_wrapping() -> None:
    assert jud.default_collate([1.0, 2.0]).dtype == jnp.float32
    assert jud.default_collate([1, 2]).dtype == jnp.int32
    with jax.enable_x64(True):
        assert jud.default_collate([1.0, 2.0]).dtype == jnp.float64  # torch's dtypes
        assert jud.default_collate([2**40, 1]).dtype == jnp.int64
    with pytest.raises(OverflowError, match="jax_enable_x64"):
        jud.default_collate([2**40, 1])


def test_collate_fn_map_is_extensible() -> None:
    class Box:
        def __init__(self, v: float) -> None:
            self.v = v

    def collate_box(batch: list, *, collate_fn_map: Any = None) -> np.ndarray:
        return np.asarray([b.v for b in batch], np.float32)

    fn_map = {**jud.default_collate_fn_map, Box: collate_box}
    out = jud.collate([(Box(1.0), 2), (Box(3.0), 4)], collate_fn_map=fn_map)
    assert isinstance(out[0], jax.Array) and out[0].tolist() == [1.0, 3.0]
    assert out[1].tolist() == [2, 4]


# --------------------------------------------------------------------------- datasets

def test_datasets_match_torch() -> None:
    ours, theirs = _datasets(jud), _datasets(tud)
    assert len(ours) == len(theirs)
    np.testing.assert_array_equal(ours[3][0], theirs[3][0].numpy())
    cat_o, cat_t = ours + ours, theirs + theirs
    assert isinstance(cat_o, jud.ConcatDataset)
    assert len(cat_o) == len(cat_t) and cat_o.cumulative_sizes == cat_t.cumulative_sizes
    for i in (0, 36, 37, 73, -1, -74):
        np.testing.assert_array_equal(cat_o[i][0], cat_t[i][0].numpy())
    sub_o, sub_t = jud.Subset(ours, [5, 1, 9]), tud.Subset(theirs, [5, 1, 9])
    assert len(sub_o) == 3 and int(sub_o[1][1]) == int(sub_t[1][1])
    stack_o = jud.StackDataset(a=range(3), b="xyz")
    assert stack_o[1] == tud.StackDataset(a=range(3), b="xyz")[1] == {"a": 1, "b": "y"}
    assert jud.StackDataset(range(3), "xyz")[2] == (2, "z")


def _stream(base: type, n: int, reported: int | None = None) -> Any:
    class Stream(base):  # type: ignore[misc, valid-type]
        def __iter__(self) -> Any:
            return iter({"x": np.float32(i), "i": i} for i in range(n))

        def __repr__(self) -> str:
            return "Stream"

    if reported is not None:
        Stream.__len__ = lambda self: reported  # type: ignore[method-assign]
    return Stream()


def test_chain_dataset_and_iterable_add() -> None:
    chained = _stream(jud.IterableDataset, 2) + _stream(jud.IterableDataset, 3)
    assert isinstance(chained, jud.ChainDataset)
    assert [d["i"] for d in chained] == [0, 1, 0, 1, 2]
    assert_same_data_error(lambda m: list(m.ChainDataset([range(3)])))


DATASET_ERRORS = {
    "tensor_sizes": lambda m: m.TensorDataset(*[
        (torch.zeros(3), torch.zeros(4)) if m is tud else (np.zeros(3), np.zeros(4))][0]),
    "concat_empty": lambda m: m.ConcatDataset([]),
    "concat_iterable": lambda m: m.ConcatDataset([_stream(m.IterableDataset, 2)]),
    "concat_index": lambda m: m.ConcatDataset([range(3)])[-4],
    "getitem": lambda m: m.Dataset()[0],
    "stack_both": lambda m: m.StackDataset(range(2), b=range(2)),
    "stack_none": lambda m: m.StackDataset(),
    "stack_sizes": lambda m: m.StackDataset(range(2), range(3)),
    "subset_override": lambda m: type("S", (m.Subset,), {"__getitem__": lambda s, i: i})(
        range(3), [0]),
    "split_sum": lambda m: m.random_split(range(10), [3, 3]),
    "split_fraction": lambda m: m.random_split(range(10), [1.5, -0.5]),
    "split_fraction_sum": lambda m: m.random_split(range(10), [0.5, 0.6]),
    # indices out of range raise as torch's tensor indexing (JAX would clamp them)
    "tensor_index_high": lambda m: _datasets(m)[37],
    "tensor_index_negative": lambda m: _datasets(m)[-38],
    "tensor_index_float": lambda m: _datasets(m)[1.5],
    "tensor_index_str": lambda m: _datasets(m)["a"],
    "tensor_index_list": lambda m: _datasets(m)[[0, 40]],
    "tensor_index_nested_list": lambda m: _datasets(m)[[[0, 40]]],
    "tensor_index_array": lambda m: _datasets(m)[_index(m, [3, -40])],
    "tensor_index_float_array": lambda m: _datasets(m)[_index(m, [1.5])],
    "tensor_index_tuple": lambda m: _datasets(m)[0, 9],
    "tensor_index_too_many": lambda m: _datasets(m)[0, 1, 2],
    "tensor_list": lambda m: m.TensorDataset([1, 2]),
    "tensor_0d": lambda m: m.TensorDataset(_index(m, 1.5)),
    "subset_index": lambda m: m.Subset(_datasets(m), [40])[0],
    "subset_negative": lambda m: m.Subset(_datasets(m), [-40])[0],
    "stack_index": lambda m: m.StackDataset(_datasets(m))[37],
    "loader_sampler": lambda m: list(m.DataLoader(_datasets(m), sampler=[0, 37])),
    "loader_batch_sampler": lambda m: list(m.DataLoader(_datasets(m), batch_sampler=[[0, 90]])),
    "loader_subset": lambda m: list(m.DataLoader(m.Subset(_datasets(m), [1, -38]),
                                                 batch_size=2)),
}


def _index(m: Any, values: list) -> Any:
    return torch.tensor(values) if m is tud else jnp.asarray(values)


@pytest.mark.parametrize("case", list(DATASET_ERRORS))
def test_dataset_errors_match_torch(case: str) -> None:
    assert_same_data_error(DATASET_ERRORS[case])


@pytest.mark.parametrize(("n", "lengths"), [
    (10, [3, 7]), (10, [0.3, 0.3, 0.4]), (30, [0.3, 0.3, 0.4]), (7, [0.5, 0.5]),
    (5, [0.1, 0.1, 0.8]), (3, [0.1, 0.1, 0.8]), (11, [0.2] * 5), (0, [0, 0])])
def test_random_split_lengths_and_warnings_match_torch(n: int, lengths: list) -> None:
    with warnings.catch_warnings(record=True) as theirs_w:
        warnings.simplefilter("always")
        theirs = tud.random_split(range(n), lengths)
    with warnings.catch_warnings(record=True) as ours_w:
        warnings.simplefilter("always")
        ours = jud.random_split(range(n), lengths)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert [str(w.message) for w in ours_w] == [str(w.message) for w in theirs_w]
    assert all(w.filename == __file__ for w in ours_w)  # points at the caller, as torch
    assert all(isinstance(s, jud.Subset) for s in ours)
    assert sorted(i for s in ours for i in s) == list(range(n))


def test_random_split_reproducible() -> None:
    def split(generator: Any = None) -> list:
        return [list(s) for s in jud.random_split(range(20), [0.5, 0.5], generator=generator)]

    jnn.manual_seed(3)
    first = split()
    jnn.manual_seed(3)
    assert split() == first
    assert split() != first  # the global generator moved on
    a = split(jnn.random.Generator(7))
    assert a == split(jnn.random.Generator(7)) and a != split(jnn.random.Generator(8))
    numpy_gen = np.random.default_rng(1)  # a NumPy generator is used as it is
    assert sorted(sum(split(numpy_gen), [])) == list(range(20))
    with pytest.raises(TypeError, match="jnn.random.Generator"):
        split(torch.Generator())


# --------------------------------------------------------------------------- samplers

def _sampler_pairs(m: Any) -> dict:
    gen = {"generator": torch.Generator().manual_seed(0)} if m is tud else {}
    ds = range(10)
    return {
        "sequential": m.SequentialSampler(ds),
        "random": m.RandomSampler(ds, **gen),
        "random_more": m.RandomSampler(ds, num_samples=23, **gen),
        "random_less": m.RandomSampler(ds, num_samples=4, **gen),
        "random_replacement": m.RandomSampler(ds, replacement=True, num_samples=70, **gen),
        "subset": m.SubsetRandomSampler([4, 8, 15, 16, 23], **gen),
        "weighted": m.WeightedRandomSampler([0.1, 0.9, 0.4, 0.7, 3.0, 0.6], 9, **gen),
        "weighted_unique": m.WeightedRandomSampler([0.9, 0.4, 0.05, 0.2], 4,
                                                   replacement=False, **gen),
        "batch": m.BatchSampler(m.SequentialSampler(ds), 3, False),
        "batch_drop": m.BatchSampler(m.SequentialSampler(ds), 3, True),
        "batch_random": m.BatchSampler(m.RandomSampler(ds, **gen), 4, False),
    }


@pytest.mark.parametrize("name", list(_sampler_pairs(tud)))
def test_sampler_lengths_and_structure_match_torch(name: str) -> None:
    ours, theirs = _sampler_pairs(jud)[name], _sampler_pairs(tud)[name]
    out_o, out_t = list(ours), list(theirs)
    assert len(ours) == len(theirs) == len(out_o) == len(out_t)
    if name.startswith("batch"):
        assert [len(b) for b in out_o] == [len(b) for b in out_t]
        out_o, out_t = [i for b in out_o for i in b], [i for b in out_t for i in b]
    assert all(type(i) is int for i in out_o)
    if name in ("sequential", "batch", "batch_drop"):
        assert out_o == out_t
    elif name.startswith("random") and name != "random_replacement" or name == "batch_random":
        # consecutive whole permutations, the last one cut short (torch's structure)
        for out in (out_o, out_t):
            for start in range(0, len(out), 10):
                chunk = out[start:start + 10]
                assert len(set(chunk)) == len(chunk) and set(chunk) <= set(range(10))
    elif name == "random_replacement":
        assert set(out_o) <= set(range(10)) and set(out_t) <= set(range(10))
    elif name == "weighted":
        assert set(out_o) <= set(range(6)) and set(out_t) <= set(range(6))
    else:  # every index once, in some order
        assert sorted(out_o) == sorted(out_t)


def test_weighted_sampler_zero_weights_like_torch() -> None:
    weights = [0.0, 1.0, 0.0, 2.0, 3.0]
    for m, gen in ((tud, torch.Generator().manual_seed(0)), (jud, jnn.random.Generator(0))):
        without = list(m.WeightedRandomSampler(weights, 5, replacement=False, generator=gen))
        assert set(without[:3]) == {1, 3, 4} and set(without[3:]) == {0, 2}
        assert set(m.WeightedRandomSampler(weights, 200, generator=gen)) <= {1, 3, 4}
    counts = np.bincount(list(jud.WeightedRandomSampler([1.0, 3.0], 4000)), minlength=2)
    assert abs(counts[1] / 4000 - 0.75) < 0.04


SAMPLER_ERRORS = {
    "random_replacement": lambda m: m.RandomSampler(range(3), replacement=1),
    "random_zero": lambda m: m.RandomSampler(range(3), num_samples=0),
    "random_float": lambda m: m.RandomSampler(range(3), num_samples=1.5),
    "random_empty": lambda m: m.RandomSampler([]),
    "random_empty_replacement": lambda m: list(m.RandomSampler(range(0), replacement=True,
                                                               num_samples=3)),
    "weighted_zero": lambda m: m.WeightedRandomSampler([1.0], 0),
    "weighted_bool": lambda m: m.WeightedRandomSampler([1.0], True),
    "weighted_replacement": lambda m: m.WeightedRandomSampler([1.0], 1, replacement=1),
    "weighted_2d": lambda m: m.WeightedRandomSampler([[1.0, 2.0]], 1),
    "weighted_negative": lambda m: list(m.WeightedRandomSampler([1.0, -1.0], 2)),
    "weighted_nan": lambda m: list(m.WeightedRandomSampler([1.0, float("nan")], 2)),
    "weighted_inf": lambda m: list(m.WeightedRandomSampler([1.0, float("inf")], 2)),
    "weighted_sum": lambda m: list(m.WeightedRandomSampler([0.0, 0.0], 2)),
    "weighted_too_many": lambda m: list(m.WeightedRandomSampler([1.0, 2.0], 3,
                                                                replacement=False)),
    "batch_size": lambda m: m.BatchSampler(range(3), 0, False),
    "batch_size_bool": lambda m: m.BatchSampler(range(3), True, False),
    "batch_drop_last": lambda m: m.BatchSampler(range(3), 2, 1),
    "base_iter": lambda m: iter(m.Sampler()),
}


@pytest.mark.parametrize("case", list(SAMPLER_ERRORS))
def test_sampler_errors_match_torch(case: str) -> None:
    assert_same_data_error(SAMPLER_ERRORS[case])


def test_weights_given_as_a_string_are_torchs_type_error() -> None:
    with pytest.raises(TypeError) as theirs:
        tud.WeightedRandomSampler("ab", 2)
    with pytest.raises(TypeError, match=f"^{re.escape(str(theirs.value))}"):
        jud.WeightedRandomSampler("ab", 2)


def test_sampler_draw_refused_inside_traces() -> None:
    with pytest.raises(RuntimeError, match="inside a traced function"):
        jnn.compile(lambda: list(jud.RandomSampler(range(4))))()

    @jax.jit
    def traced(key: jax.Array) -> list:
        with jnn.random.use_key(key):
            return list(jud.RandomSampler(range(4)))

    with pytest.raises(RuntimeError, match="iterate the DataLoader outside"):
        traced(jax.random.key(0))


# --------------------------------------------------------------------------- DataLoader

LOADER_OPTIONS = [
    {"batch_size": 1}, {"batch_size": 7}, {"batch_size": 7, "drop_last": True},
    {"batch_size": 37}, {"batch_size": 64}, {"batch_size": 64, "drop_last": True},
    {"batch_size": None}, {"batch_size": 5, "sampler": [3, 1, 4, 1, 5, 9, 2, 6]},
    {"batch_sampler": [[0, 1], [5, 2, 7], [36]]}, {"batch_size": 8, "pin_memory": True},
]


@pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true")
@pytest.mark.parametrize("options", LOADER_OPTIONS, ids=str)
@pytest.mark.parametrize("num_workers", [0, 2])
def test_loader_batches_match_torch(options: dict, num_workers: int) -> None:
    ours = jud.DataLoader(_datasets(jud), num_workers=num_workers, **options)
    theirs = tud.DataLoader(_datasets(tud), **options)
    assert len(ours) == len(theirs)
    out_o, out_t = list(ours), list(theirs)
    assert len(out_o) == len(out_t)
    for a, b in zip(out_o, out_t, strict=True):
        assert_like_torch(a, b)


def _subset_and_concat(m: Any) -> Any:
    base = _datasets(m)
    return m.Subset(m.ConcatDataset([base, m.Subset(base, list(range(30, 0, -3)))]),
                    list(range(0, 47, 2)))


class _DictDataset:
    def __len__(self) -> int:
        return 9

    def __getitem__(self, i: int) -> dict:
        return {"x": X[i], "label": int(Y[i]), "name": f"s{i}", "pair": (i, float(i) / 2)}


@pytest.mark.parametrize("make", [
    _subset_and_concat,
    lambda m: m.Subset(_datasets(m), [36, 0, 5, 5, 12, 3, 30]),
    lambda m: _DictDataset(),
    lambda m: _datasets(tud) if m is tud else m.TensorDataset(jnp.asarray(X), jnp.asarray(Y)),
], ids=["subset_concat", "subset_fast_path", "dicts", "jax_tensors"])
def test_loader_over_composed_datasets_matches_torch(make: Any) -> None:
    ours = list(jud.DataLoader(make(jud), batch_size=4))
    theirs = list(tud.DataLoader(make(tud), batch_size=4))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert_like_torch(a, b)


def test_loader_custom_collate_and_worker_info() -> None:
    seen = []

    def collate(batch: list) -> list:
        seen.append(jud.get_worker_info())
        return [int(y) for _, y in batch]

    loader = jud.DataLoader(_datasets(jud), batch_size=10, collate_fn=collate)
    assert list(loader) == [list(Y[i:i + 10]) for i in range(0, 37, 10)]
    assert seen == [None] * 4 and jud.get_worker_info() is None


@pytest.mark.parametrize(("n", "reported", "options"), [
    (10, None, {"batch_size": 3}), (10, None, {"batch_size": 3, "drop_last": True}),
    (9, 9, {"batch_size": 3}), (10, 10, {"batch_size": 4, "drop_last": True}),
    (5, 5, {"batch_size": None}), (7, 7, {"batch_size": 1}), (0, 0, {"batch_size": 2}),
])
def test_iterable_dataset_batches_match_torch(n: int, reported: int | None,
                                              options: dict) -> None:
    ours = jud.DataLoader(_stream(jud.IterableDataset, n, reported), **options)
    theirs = tud.DataLoader(_stream(tud.IterableDataset, n, reported), **options)
    if reported is not None:
        assert len(ours) == len(theirs)
    out_o, out_t = list(ours), list(theirs)
    assert len(out_o) == len(out_t)
    for a, b in zip(out_o, out_t, strict=True):
        assert_like_torch(a, b)


def test_threaded_options_accepted_and_batches_unchanged() -> None:
    theirs = list(tud.DataLoader(_datasets(tud), batch_size=10))
    ours = jud.DataLoader(_datasets(jud), batch_size=10, num_workers=3, persistent_workers=True,
                          prefetch_factor=4, in_order=False, pin_memory_device="cuda")
    for _epoch in range(2):
        out = list(ours)
        assert len(out) == len(theirs)
        for a, b in zip(out, theirs, strict=True):
            assert_like_torch(a, b)
    stream = jud.DataLoader(_stream(jud.IterableDataset, 7), batch_size=3, num_workers=1)
    for a, b in zip(list(stream), list(tud.DataLoader(_stream(tud.IterableDataset, 7),
                                                      batch_size=3)), strict=True):
        assert_like_torch(a, b)
    _wait_no_threads()


def test_iterable_length_warning_matches_torch() -> None:
    def run(m: Any) -> list[str]:
        loader = m.DataLoader(_stream(m.IterableDataset, 4, reported=2), batch_size=None)
        assert len(loader) == 2
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            list(loader)
        return [str(w.message) for w in caught]

    theirs = run(tud)
    assert run(jud) == theirs and len(theirs) == 2


LOADER_ERRORS = {
    "num_workers": {"num_workers": -1},
    "timeout": {"timeout": -1},
    "prefetch_without_workers": {"prefetch_factor": 2},
    "prefetch_negative": {"num_workers": 1, "prefetch_factor": -1},
    "persistent": {"persistent_workers": True},
    "sampler_shuffle": {"sampler": [0, 1], "shuffle": True},
    "batch_sampler_batch_size": {"batch_sampler": [[0]], "batch_size": 2},
    "batch_sampler_shuffle": {"batch_sampler": [[0]], "shuffle": True},
    "batch_sampler_sampler": {"batch_sampler": [[0]], "sampler": [0]},
    "batch_sampler_drop_last": {"batch_sampler": [[0]], "drop_last": True},
    "no_batch_drop_last": {"batch_size": None, "drop_last": True},
    "batch_size_zero": {"batch_size": 0},
    "batch_size_bool": {"batch_size": True},
    "drop_last_int": {"batch_size": 2, "drop_last": 1},
    "context_without_workers": {"multiprocessing_context": "spawn"},
    "context_name": {"num_workers": 1, "multiprocessing_context": "bogus"},
    "context_type": {"num_workers": 1, "multiprocessing_context": 3},
}


@pytest.mark.parametrize("case", list(LOADER_ERRORS))
def test_loader_argument_errors_match_torch(case: str) -> None:
    assert_same_data_error(lambda m: m.DataLoader(_datasets(m), **LOADER_ERRORS[case]))


# torch's worker iterator dies half-made, and its __del__ then complains: not jnn's concern
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_prefetch_factor_zero_with_workers_fails_at_iter_like_torch() -> None:
    assert_same_data_error(
        lambda m: iter(m.DataLoader(_datasets(m), num_workers=1, prefetch_factor=0)))
    gc.collect()  # torch's complaint lands here, not in a later test


def test_float_sampler_indices_are_torchs_index_error() -> None:
    for sampler in ([0.0, 1.0], [0, 1.5]):
        assert_same_data_error(
            lambda m, sampler=sampler: list(m.DataLoader(_datasets(m), batch_size=2,
                                                         sampler=sampler)))


@pytest.mark.parametrize("options", [
    {"shuffle": True}, {"sampler": [0, 1]}, {"batch_sampler": [[0]]}])
def test_iterable_dataset_option_errors_match_torch(options: dict) -> None:
    assert_same_data_error(lambda m: m.DataLoader(_stream(m.IterableDataset, 3), **options))


def test_loader_frozen_attributes_and_timeout_without_workers() -> None:
    def set_batch_size(m: Any) -> None:
        m.DataLoader(_datasets(m)).batch_size = 3

    assert_same_data_error(set_batch_size)
    assert_same_data_error(lambda m: iter(m.DataLoader(_datasets(m), timeout=1)))
    loader = jud.DataLoader(_datasets(jud))
    loader.num_workers = 1  # not frozen in torch either
    assert loader.num_workers == 1


def _indices(loader: jud.DataLoader) -> list[int]:
    return [int(i) for batch in loader for i in np.asarray(batch[0])]


def test_shuffle_is_a_fresh_reproducible_permutation_per_epoch() -> None:
    data = jud.TensorDataset(np.arange(37))
    loader = jud.DataLoader(data, batch_size=8, shuffle=True)
    theirs = tud.DataLoader(tud.TensorDataset(torch.arange(37)), batch_size=8, shuffle=True)
    assert [len(b[0]) for b in loader] == [len(b[0]) for b in theirs] == [8, 8, 8, 8, 5]
    jnn.manual_seed(0)
    first, second = _indices(loader), _indices(loader)
    assert sorted(first) == sorted(second) == list(range(37))
    assert first != second and first != list(range(37))
    jnn.manual_seed(0)
    assert _indices(loader) == first
    threaded = jud.DataLoader(data, batch_size=8, shuffle=True, num_workers=2)
    jnn.manual_seed(0)
    assert _indices(threaded) == first  # drawn in the calling thread, in program order
    own = [_indices(jud.DataLoader(data, batch_size=8, shuffle=True,
                                   generator=jnn.random.Generator(5))) for _ in range(2)]
    assert own[0] == own[1] and sorted(own[0]) == list(range(37))


class _Failing:
    """Raises at one index, like a corrupt file in an image folder."""

    def __init__(self, bad: int, delay: float = 0.0) -> None:
        self.bad, self.delay = bad, delay

    def __len__(self) -> int:
        return 20

    def __getitem__(self, i: int) -> int:
        time.sleep(self.delay)
        if i == self.bad:
            raise ValueError(f"cannot read sample {i}")
        return i


@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataset_exception_raised_at_its_batch_like_torch(num_workers: int) -> None:
    def run(m: Any, **kwargs: Any) -> tuple[list, str, list]:
        it = iter(m.DataLoader(_Failing(13), batch_size=4, **kwargs))
        before = [np.asarray(next(it)).tolist() for _ in range(3)]
        with pytest.raises(ValueError, match="cannot read sample 13") as caught:
            next(it)
        after = [np.asarray(b).tolist() for b in it]  # loading goes on, as in torch
        return before, str(caught.value), after

    assert run(jud, num_workers=num_workers) == run(tud)
    _wait_no_threads()


def test_loading_thread_ends_after_break_exception_and_gc() -> None:
    _wait_no_threads()
    loader = jud.DataLoader(_datasets(jud), batch_size=2, num_workers=1, prefetch_factor=1)
    for i, _ in enumerate(loader):
        if i == 1:
            break
    _wait_no_threads()
    it = iter(loader)  # started, never consumed
    assert _loader_threads()
    del it
    _wait_no_threads()
    with pytest.raises(ValueError):
        for _ in jud.DataLoader(_Failing(3), batch_size=2, num_workers=1):
            pass
    _wait_no_threads()
    assert len(list(loader)) == 19
    _wait_no_threads()


def test_threaded_loader_timeout_and_worker_init_fn() -> None:
    calls: list = []

    def init(worker_id: int) -> None:
        calls.append((worker_id, threading.current_thread().name))

    slow = jud.DataLoader(_Failing(-1, delay=0.3), num_workers=1, timeout=0.05,
                          worker_init_fn=init)
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0\.05 seconds"):
        next(iter(slow))
    assert calls == [(0, THREAD_NAME)]
    list(jud.DataLoader(range(3), worker_init_fn=init))
    assert len(calls) == 1  # torch calls it only in workers
    _wait_no_threads()


def test_epoch_over_digits_sized_data_takes_milliseconds() -> None:
    x = np.random.default_rng(0).standard_normal((1797, 64)).astype(np.float32)
    y = np.arange(1797) % 10
    loader = jud.DataLoader(jud.TensorDataset(x, y), batch_size=64, shuffle=True)
    batches = list(loader)
    assert len(batches) == 29 and batches[-1][0].shape == (5, 64)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _batch in loader:
            pass
        best = min(best, time.perf_counter() - start)
    assert best < 0.1, f"{best * 1e3:.1f} ms per epoch"  # ~3 ms; stacking per sample: far more


def test_tensor_dataset_indexing_still_matches_torch() -> None:
    ours = jud.TensorDataset(jnp.asarray(X), jnp.asarray(Y))
    theirs = _datasets(tud)
    for index in (0, -1, 36, slice(2, 50), [0, -1], [True] * 36 + [False], (3,),
                  np.int64(-37), None, ...):
        assert_like_torch(list(ours[index]), list(theirs[index]))
    with pytest.raises(IndexError, match="index 37 is out of bounds for dimension 0 with size 37"):
        ours[jnp.asarray(37)]


# --------------------------------------------------------------------------- batched reads

def _base(m: Any, kind: str = "jax") -> Any:
    if m is tud:
        return tud.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    convert = jnp.asarray if kind == "jax" else np.asarray
    return jud.TensorDataset(convert(X), convert(Y))


def _ix(m: Any, values: list) -> Any:
    return torch.tensor(values) if m is tud else jnp.asarray(values)


REVERSED = list(range(36, -1, -1))
BATCHED = {
    "tensor": lambda m, b: b,
    "concat": lambda m, b: m.ConcatDataset([b, b]),
    "concat_uneven": lambda m, b: m.ConcatDataset([m.Subset(b, [4, 2]), m.Subset(b, []), b]),
    "stack": lambda m, b: m.StackDataset(b, b),
    "stack_dict": lambda m, b: m.StackDataset(y=b, x=m.Subset(b, REVERSED)),
    "subset_array": lambda m, b: m.Subset(b, _ix(m, REVERSED)),
    "subset_numpy": lambda m, b: m.Subset(b, np.asarray(REVERSED)),
    "subset_torch": lambda m, b: m.Subset(b, torch.tensor(REVERSED)),
    "raw_array": lambda m, b: torch.from_numpy(X) if m is tud else jnp.asarray(X),
    "raw_numpy": lambda m, b: X,
    "nested": lambda m, b: m.Subset(m.ConcatDataset([
        m.StackDataset(b, m.Subset(b, _ix(m, REVERSED))), m.StackDataset(b, b)]),
        list(range(0, 74, 3))),
    # read sample by sample (a list, a range inside): the same batches
    "concat_list": lambda m, b: m.ConcatDataset([b, [
        _for((T(X[i]), T(np.asarray(Y[i]))), "torch" if m is tud else "jnn") for i in range(5)]]),
    "stack_range": lambda m, b: m.StackDataset(b, range(37)),
    "concat_dtypes": lambda m, b: m.ConcatDataset([
        m.TensorDataset(*(_for([T(X)], "torch" if m is tud else "jnn"))),
        m.TensorDataset(*(_for([T(X.astype(np.float64))], "torch" if m is tud else "jnn")))]),
}


class _PerSample:
    """``dataset`` read only through ``__getitem__`` (the path batched reads must equal)."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> Any:
        return self.dataset[i]


def _order(n: int) -> list[int]:
    """Every index, out of order, with negative ones."""
    return list(range(0, n, 3)) + list(range(n - 1, 0, -3)) + [-1, -n, 1]


def assert_identical(ours: Any, expected: Any) -> None:
    """Same structure, types, dtypes and values (jnn against jnn)."""
    assert type(ours) is type(expected), (type(ours), type(expected))
    if isinstance(expected, dict):
        assert list(ours) == list(expected)
        for key in expected:
            assert_identical(ours[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert len(ours) == len(expected)
        for a, b in zip(ours, expected, strict=True):
            assert_identical(a, b)
    elif isinstance(expected, (jax.Array, np.ndarray, np.generic)):
        assert ours.dtype == expected.dtype and ours.shape == expected.shape
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(expected))
    else:
        assert ours == expected


@pytest.mark.parametrize("kind", ["jax", "numpy"])
@pytest.mark.parametrize("case", list(BATCHED))
def test_batched_reads_equal_per_sample_reads_and_torch(case: str, kind: str) -> None:
    ours, theirs = BATCHED[case](jud, _base(jud, kind)), BATCHED[case](tud, _base(tud))
    order = _order(len(theirs))
    loaded = list(jud.DataLoader(ours, batch_size=5, sampler=order))
    for a, b in zip(loaded, tud.DataLoader(theirs, batch_size=5, sampler=order), strict=True):
        assert_like_torch(a, b)
    per_sample = jud.DataLoader(_PerSample(ours), batch_size=5, sampler=order)
    for a, b in zip(loaded, per_sample, strict=True):
        assert_identical(a, b)
    if hasattr(ours, "__getitems__"):  # the samples themselves, as __getitem__ gives them
        assert_identical(ours.__getitems__(order), [ours[i] for i in order])
    if hasattr(theirs, "__getitems__") and kind == "jax":  # torch's StackDataset, Subset
        for a, b in zip(ours.__getitems__(order), theirs.__getitems__(order), strict=True):
            assert_like_torch(a, b)


class _Counted(np.ndarray):
    """An array that counts its per-sample reads (``a[i]``)."""

    reads = 0

    def __getitem__(self, index: Any) -> Any:
        type(self).reads += 1
        return super().__getitem__(index)


@pytest.mark.parametrize("case", ["tensor", "concat", "concat_uneven", "stack", "stack_dict",
                                  "subset_array", "subset_numpy", "nested"])
def test_loader_reads_composed_datasets_one_gather_per_array(case: str) -> None:
    base = jud.TensorDataset(X.view(_Counted), Y.view(_Counted))
    _Counted.reads = 0
    batches = list(jud.DataLoader(BATCHED[case](jud, base), batch_size=8, shuffle=True))
    assert batches and _Counted.reads == 0
    assert len(list(jud.DataLoader(X.view(_Counted), batch_size=8))) == 5
    assert _Counted.reads == 0


def test_epoch_over_wrapped_jax_arrays_takes_milliseconds() -> None:
    x = np.random.default_rng(0).standard_normal((1797, 64)).astype(np.float32)
    base = jud.TensorDataset(jnp.asarray(x), jnp.asarray(np.arange(1797) % 10))
    for dataset in (jud.StackDataset(base, base), jud.ConcatDataset([base, base]),
                    jud.Subset(base, jnp.arange(1797)), jnp.asarray(x)):
        loader = jud.DataLoader(dataset, batch_size=64, shuffle=True)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _batch in loader:
                pass
            best = min(best, time.perf_counter() - start)
        # ~5-20 ms; sample by sample, one device dispatch per array per sample: ~0.3-1 s
        assert best < 0.2, f"{type(dataset).__name__}: {best * 1e3:.1f} ms per epoch"


def test_batched_reads_keep_subclass_reads_and_index_errors() -> None:
    class Doubled(jud.TensorDataset):
        def __getitem__(self, index: Any) -> tuple:
            return tuple(2 * t for t in super().__getitem__(index))

    doubled = Doubled(X)
    batch = next(iter(jud.DataLoader(doubled, batch_size=3)))
    np.testing.assert_array_equal(batch[0], 2 * X[:3])
    np.testing.assert_array_equal(doubled.__getitems__([1])[0][0], 2 * X[1])
    cat = jud.ConcatDataset([doubled, _base(jud)])
    np.testing.assert_array_equal(next(iter(jud.DataLoader(cat, batch_size=2)))[0], 2 * X[:2])
    for make in (lambda m: _base(m, "jax") if m is jud else _base(m),
                 lambda m: m.StackDataset(_base(m), _base(m)),
                 lambda m: m.ConcatDataset([_base(m), _base(m)]),
                 lambda m: m.Subset(_base(m), [0, 1])):
        assert_same_data_error(
            lambda m, make=make: list(m.DataLoader(make(m), batch_size=2, sampler=[0, 99])))
    assert_same_data_error(
        lambda m: list(m.DataLoader(m.ConcatDataset([_base(m)]), batch_size=2,
                                    sampler=[0, -99])))


def test_stack_dataset_getitems_matches_torch() -> None:
    for make in (lambda m: m.StackDataset(range(3), range(10, 13)),
                 lambda m: m.StackDataset(a=range(3), b=m.Subset("xyz", [2, 1, 0]))):
        assert make(jud).__getitems__([0, 2]) == make(tud).__getitems__([0, 2])

    class Short:
        def __len__(self) -> int:
            return 3

        def __getitems__(self, indices: list) -> list:
            return [0]

    assert_same_data_error(lambda m: m.StackDataset(range(3), Short()).__getitems__([0, 1]))


# --------------------------------------------------------------------------- dtypes

def test_collate_refuses_float64_overflow_to_inf() -> None:
    fix = r"jax\.config\.update\('jax_enable_x64', True\)"
    for batch in ([1e39, 0.0], [np.array([1e39]), np.array([1.0])],
                  [np.float64(-1e300), np.float64(0.0)], [{"x": (0.0, -3.5e38)}] * 2):
        with pytest.raises(OverflowError, match=fix):
            jud.default_collate(batch)
    with pytest.raises(OverflowError, match=fix):
        jud.default_convert(np.array([1e39]))
    with pytest.raises(OverflowError, match=fix):
        list(jud.DataLoader(jud.TensorDataset(np.array([[1e39], [0.0]])), batch_size=2))
    # inf, nan and values that round to float32's max stay what they are, as in torch
    batch = [np.inf, -np.inf, np.nan, 3.4028235e38, 3.40282356e38]
    assert_like_torch(jud.default_collate(batch), tud.default_collate(batch))
    with jax.enable_x64(True):
        for batch in ([1e39, 0.0], [np.array([1e39]), np.array([1.0])]):
            ours, theirs = jud.default_collate(batch), tud.default_collate(batch)
            assert ours.dtype == jnp.float64
            np.testing.assert_array_equal(ours, theirs.numpy())


# --------------------------------------------------------------------------- torch samples

class _TorchSamples:
    """A ported dataset: samples hold torch tensors (torchvision's ``ToTensor``)."""

    def __len__(self) -> int:
        return 5

    def __getitem__(self, i: int) -> Any:
        return {"img": torch.from_numpy(X[i]).reshape(5, 1), "label": torch.tensor(int(Y[i])),
                "pair": (torch.ones(2, requires_grad=True) * i, float(i))}


@pytest.mark.parametrize("batch_size", [2, None])
def test_torch_tensor_samples_load_like_torch(batch_size: int | None) -> None:
    for make in (lambda m: _TorchSamples(), lambda m: [torch.arange(3.0) + i for i in range(5)],
                 lambda m: m.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))):
        ours = list(jud.DataLoader(make(jud), batch_size=batch_size))
        theirs = list(tud.DataLoader(make(tud), batch_size=batch_size))
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):  # jax arrays where torch has tensors
            assert_like_torch(a, jax.tree_util.tree_map(
                lambda t: t.detach() if isinstance(t, torch.Tensor) else t, b))
    bf16 = jud.default_collate([torch.ones(2, dtype=torch.bfloat16)] * 3)
    assert bf16.dtype == jnp.bfloat16 and bf16.shape == (3, 2)


def test_collate_error_says_which_tensors() -> None:
    with pytest.raises(TypeError, match=r"found <class 'object'> \(tensors: jax arrays, or "
                                        r"torch tensors"):
        jud.default_collate([object(), object()])
