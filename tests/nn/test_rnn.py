"""RNN, LSTM and GRU against torch: outputs, hidden states, gradients, state_dict keys,
repr (``tests.oracle.check_modules``), unbatched inputs, and torch's errors."""

import numpy as np
import pytest
import torch

import jnn
from tests.oracle import check_modules

CASES = [
    ("LSTM", dict(num_layers=2)),
    ("GRU", dict(num_layers=2)),
    ("RNN", dict(nonlinearity="relu")),
    ("LSTM", dict(proj_size=3, bidirectional=True, batch_first=True)),
    ("GRU", dict(bidirectional=True, bias=False, num_layers=2)),
]
SKIP = {"bfloat16": "float32 is the reference here", "float64": "as bfloat16"}


@pytest.mark.parametrize("cls, kwargs", CASES, ids=[f"{c}-{k}" for c, k in CASES])
def test_matches_torch(cls, kwargs):
    torch.manual_seed(0)
    t = getattr(torch.nn, cls)(5, 6, **kwargs)
    j = getattr(jnn.nn, cls)(5, 6, **kwargs)
    shape = (3, 4, 5)
    # (torch's CPU LSTM warns that oneDNN lacks projections: its backend, not the layer)
    check_modules(t, j, [shape], modes=("train", "eval"), skip_checks=SKIP,
                  check_warnings="proj_size" not in kwargs)


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_unbatched_and_given_hidden_state(cls):
    torch.manual_seed(0)
    t, j = getattr(torch.nn, cls)(5, 6, 2), getattr(jnn.nn, cls)(5, 6, 2)
    j.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5), dtype=np.float32)
    h = rng.standard_normal((2, 6), dtype=np.float32)
    hidden = (h, 0.5 * h) if cls == "LSTM" else h
    t_hidden = tuple(map(torch.from_numpy, hidden)) if cls == "LSTM" else torch.from_numpy(h)
    t_out, t_h = t(torch.from_numpy(x), t_hidden)
    out, h_n = j(x, hidden)
    np.testing.assert_allclose(np.asarray(out), t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    for a, b in zip(h_n if cls == "LSTM" else (h_n,), t_h if cls == "LSTM" else (t_h,)):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make, x, hx, error, match", [
    (lambda nn: nn.LSTM(5, 6, dropout=1.5), None, None, ValueError, "dropout should be"),
    (lambda nn: nn.GRU(5, 0), None, None, ValueError, "hidden_size must be greater"),
    (lambda nn: nn.GRU(5, 6, proj_size=2), None, None, ValueError, "only supported for LSTM"),
    (lambda nn: nn.RNN(5, 6, 1, "gelu"), None, None, ValueError, "Unknown nonlinearity"),
    (lambda nn: nn.LSTM(5, 6, proj_size=6), None, None, ValueError, "proj_size has to be"),
    (lambda nn: nn.LSTM(5, 6), (2, 3, 4, 5), None, ValueError, "Expected input to be 2D or 3D"),
    (lambda nn: nn.GRU(5, 6), (2, 3, 4), None, RuntimeError, r"input.size\(-1\) must be"),
    (lambda nn: nn.GRU(5, 6), (2, 3, 5), (1, 2, 6), RuntimeError,
     r"Expected hidden size \(1, 3, 6\), got \[1, 2, 6\]"),
    (lambda nn: nn.RNN(5, 6), (2, 5), (1, 1, 6), RuntimeError, "should also be 2-D"),
])
def test_errors_match_torch(make, x, hx, error, match):
    for lib, arr in ((torch, torch.zeros), (jnn, np.zeros)):
        with pytest.raises(error, match=match):
            module = make(lib.nn)
            args = [arr(x, dtype=lib.float32)] + ([] if hx is None else
                                                   [arr(hx, dtype=lib.float32)])
            module(*args)


def test_dropout_between_layers_only_in_training():
    jnn.manual_seed(0)
    lstm = jnn.nn.LSTM(4, 8, 2, dropout=0.5)
    x = np.ones((3, 2, 4), np.float32)
    a, b = lstm(x)[0], lstm(x)[0]
    assert not np.allclose(np.asarray(a), np.asarray(b))  # fresh masks per call
    lstm.eval()
    np.testing.assert_array_equal(np.asarray(lstm(x)[0]), np.asarray(lstm(x)[0]))
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater"):
        jnn.nn.GRU(4, 8, 1, dropout=0.2)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_input_of_another_dtype_raises_torchs_error(cls):
    messages = []
    for lib, x in ((torch, torch.zeros(2, 1, 3, dtype=torch.float16)),
                   (jnn, np.zeros((2, 1, 3), np.float16))):
        with pytest.raises(ValueError) as info:
            getattr(lib.nn, cls)(3, 4)(x)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
