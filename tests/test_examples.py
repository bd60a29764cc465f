"""The examples (``examples/``) in their quick mode, and the README's snippets.

Each example is imported from its file and its ``main`` run in quick mode; the test checks
the numbers it returns against what it printed and against what the program promises.

The README's snippets are read from README.md itself: a fenced ``python`` block preceded by
``<!-- test: NAME -->`` is executed here.  The porting guide's pairs (``NAME/torch`` and
``NAME/jnn``) run in twin contexts -- the same model weights and data, in torch and in jnn
-- and must leave equal results; the tensor-methods table is evaluated row by row, each
jnn form against the torch form on the same arrays.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import re
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
README = (ROOT / "README.md").read_text()


def load_example(relative: str):
    """Import ``examples/<relative>`` as a module (the examples are not a package)."""
    name = "example_" + re.sub(r"\W", "_", relative.removesuffix(".py"))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / relative)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def printed_floats(pattern: str, text: str) -> list[float]:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the output:\n{text}"
    return [float(group) for group in match.groups()]


# -- the examples -------------------------------------------------------------------------
def test_train_digits_quick(tmp_path, capsys):
    example = load_example("train_digits.py")
    result = example.main(["--quick", "--out-dir", str(tmp_path), "--seed", "1"])
    out = capsys.readouterr().out
    assert "Total params: 53,194" in out  # jnn.summary's table
    accuracy, reloaded = printed_floats(
        r"test accuracy (\d+\.\d+)%  \(reloaded from .*digits_cnn\.safetensors: (\d+\.\d+)%\)",
        out)
    assert accuracy == reloaded == round(100 * result["test_accuracies"][-1], 2)
    assert result["reloaded_accuracy"] == result["test_accuracies"][-1]
    epochs = re.findall(r"epoch +(\d+)/2  train loss (\d+\.\d+)  test accuracy", out)
    assert [int(e) for e, _ in epochs] == [1, 2]
    assert [float(loss) for _, loss in epochs] == pytest.approx(result["train_losses"],
                                                                abs=1e-4)
    losses = result["train_losses"]
    assert losses[1] < losses[0] and accuracy > 30  # 2 epochs of 5 batches: well above 10 %
    assert result["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    weights = jnn.load(result["weights"])
    assert list(weights) == list(example.DigitsCNN().state_dict())


def test_train_digits_options(monkeypatch, capsys):
    example = load_example("train_digits.py")
    with pytest.raises(SystemExit):
        example.parse_args(["--help"])
    help_text = capsys.readouterr().out
    for option in ("--epochs", "--batch-size", "--lr", "--seed", "--out-dir", "--quick"):
        assert option in help_text
    assert not example.parse_args([]).quick
    monkeypatch.setenv("JNN_EXAMPLES_QUICK", "1")
    assert example.parse_args([]).quick


def test_port_from_pytorch(capsys, monkeypatch):
    example = load_example("port_from_pytorch.py")
    result = example.main(quick=True)
    out = capsys.readouterr().out
    diff, = printed_floats(r"outputs differ by at most (\S+)\n", out)
    assert diff == pytest.approx(result["output_diff"], rel=0.01) and diff < 1e-5
    assert len(result["losses"]) == 2
    for jnn_loss, torch_loss in result["losses"]:
        assert jnn_loss == pytest.approx(torch_loss, rel=1e-5)
    ms = printed_floats(r"jnn\.compile (\d+\.\d) ms, torch eager (\d+\.\d) ms", out)
    assert ms == [round(result["jnn_ms"], 1), round(result["torch_ms"], 1)]

    # Without torch; a one-layer model in the jnn program, to keep the compile short.
    monkeypatch.setattr(example, "torch_program", lambda: None)
    program = example.jnn_program()
    program.Net = lambda: jnn.nn.Sequential(jnn.nn.Flatten(), jnn.nn.Linear(784, 10),
                                            jnn.nn.LogSoftmax(dim=1))
    monkeypatch.setattr(example, "jnn_program", lambda: program)
    result = example.main(quick=True)
    out = capsys.readouterr().out
    assert out.startswith("torch is not installed: running the jnn half only\n")
    assert "torch eager" not in out and result["jnn_ms"] > 0


def test_ensemble_vmap(capsys):
    result = load_example("ensemble_vmap.py").main(quick=True)
    out = capsys.readouterr().out
    vmap_s, loop_s, speedup, diff = printed_floats(
        r"vmap (\S+) s, Python loop (\S+) s, speed-up (\S+)x; same weights \(max diff (\S+)\)",
        out)
    assert diff == pytest.approx(result["max_diff"], rel=0.1) and diff < 1e-4
    assert speedup == pytest.approx(result["loop_s"] / result["vmap_s"], abs=0.1)
    member, ensemble = printed_floats(r"a member (\S+) on average, .* prediction (\S+)\n", out)
    assert member == pytest.approx(result["member_mse"], abs=1e-4)
    assert ensemble <= member  # the mean's error never exceeds the mean error (Jensen)


def test_per_example_gradients(capsys):
    result = load_example("per_example_gradients.py").main(quick=True)
    out = capsys.readouterr().out
    check, = printed_floats(r"vs the batch gradient: max difference (\S+)\n", out)
    assert check == pytest.approx(result["gradient_check"], rel=0.1) and check < 1e-6
    clipped, accuracy = printed_floats(
        r"epoch  2: +(\S+)% of the examples clipped, test accuracy (\S+)%", out)
    assert 0 <= clipped <= 100 and accuracy == round(100 * result["test_accuracy"], 2)
    assert accuracy > 20  # 2 noisy epochs of 5 batches: above chance (10 %)


def test_from_the_docs_mlp_and_perceptron(capsys):
    result = load_example("from_the_docs/mlp_and_perceptron.py").main(quick=True)
    out = capsys.readouterr().out
    assert "Sequential: (2, 10)\nMLP: (2, 10)\n" in out
    assert "Linear(in_features=20, out_features=256, bias=True)" in result["mlp_repr"]
    assert result["perceptron_parameters"] == ["layer1.w", "layer1.b", "layer2.w", "layer2.b"]
    assert result["perceptron_shape"] == (2, 1) and "Perceptron: (2, 1)" in out


def test_from_the_docs_conv_net_adam(capsys):
    result = load_example("from_the_docs/conv_net_adam.py").main(quick=True)
    out = capsys.readouterr().out
    losses = result["eager_losses"] + result["compiled_losses"]
    assert len(losses) == 4 and all(math.isfinite(loss) for loss in losses)
    assert f"Epoch 1, Loss: {losses[0]}" in out
    assert f"Epoch 4 (compiled), Loss: {losses[-1]}" in out


def test_from_the_docs_param_groups(capsys):
    result = load_example("from_the_docs/param_groups.py").main(quick=True)
    out = capsys.readouterr().out
    assert result["lrs"] == [1e-5, 1e-2] and "learning rates per group: [1e-05, 0.01]" in out
    # one step of lr 1e-5 moves a weight 1000 times less than one of lr 1e-2 (same scale)
    assert result["moved"]["features"] < 1e-3 * 10 * result["moved"]["classifier"]
    assert all(math.isfinite(loss) for loss in result["losses"])
    assert math.isfinite(result["custom_updater_loss"])


def test_from_the_docs_hooks(capsys):
    result = load_example("from_the_docs/hooks.py").main(quick=True)
    out = capsys.readouterr().out
    assert "captured layer2 output (4, 16, 8, 8)" in out
    assert "the hook no longer runs: True" in out
    assert result["pre_hook_calls"] == ["Sequential"] and result["pre_hook_diff"] < 1e-5
    assert result["layer2_shape"] == (4, 16, 8, 8)
    assert result["captured"] == {}  # the compiled function returned it, nothing left behind


def test_from_the_docs_named_modules(capsys):
    result = load_example("from_the_docs/named_modules.py").main(quick=True)
    capsys.readouterr()
    assert result["children"] == ["conv", "conv1"]
    assert result["modules"] == ["", "conv"]  # one module under two names: listed once
    assert result["state_dict_keys"] == ["conv.weight", "conv.bias", "conv1.weight",
                                         "conv1.bias"]
    assert result["linear_weight"] == [[1.0, 1.0], [1.0, 1.0]]
    assert result["sequential_names"] == [["conv", "batchnorm", "relu"], ["0", "1", "2"],
                                          ["conv1", "batchnorm", "relu"]]
    assert result["eval_modes"] == [False, False, False]


def test_from_the_docs_save_load(tmp_path, capsys):
    result = load_example("from_the_docs/save_load.py").main(quick=True, out_dir=tmp_path)
    out = capsys.readouterr().out
    assert result["same_outputs"] and "gives the same outputs: True" in out
    original, restored = result["losses"]
    assert original == restored and result["epoch"] == 2
    assert result["files"] == ["checkpoint.pth", "net.pth"]
    assert "jnn.save(net, 'net_all.pth'): TypeError" in out


def test_from_the_docs_tour(capsys):
    result = load_example("from_the_docs/tour.py").main(quick=True)
    out = capsys.readouterr().out
    shapes = result["shapes"]
    assert shapes["conv"] == (1, 3, 3, 3) and shapes["maxpool"] == (1, 1, 2, 2)
    assert shapes["sequential"] == shapes["modulelist"] == (1, 5)
    assert shapes["F.conv2d"] == (1, 3, 3, 3) and shapes["with_param"] == (1, 10)
    assert "my_param (10, 10)" in out
    assert all(math.isfinite(v) for v in result["losses"].values())


# -- the README ---------------------------------------------------------------------------
BLOCKS = dict(re.findall(r"<!-- test: (\S+) -->\n```python\n(.*?)```", README, re.S))


def test_readme_blocks_are_all_tested():
    pairs = ["backward", "autograd-backward", "aux", "vjp", "gan", "accumulation", "devices",
             "save", "imports"]
    expected = {f"{name}/{lib}" for name in pairs for lib in ("torch", "jnn")}
    assert set(BLOCKS) == expected | {"first-program", "compile/jnn"}


def test_readme_commands():
    indented = re.findall(r"^    (pip install -e .*)$", README, re.M)
    assert indented[0] == "pip install -e '.[examples]' && python examples/train_digits.py"
    assert [c for c in indented if "pytest" in c][0] == "pip install -e '.[test]' && pytest -n 2"
    for path in set(re.findall(r"examples/[\w/]+(?:\.py)?", README)):
        assert (ROOT / path).exists(), path
    for name in re.findall(r"`(\w+\.py)`", README.split("from_the_docs/", 1)[1][:400]):
        assert (EXAMPLES / "from_the_docs" / name).exists(), name
    assert "train_demo" not in README


def test_readme_first_program():
    namespace = {}
    exec(BLOCKS["first-program"], namespace)
    assert namespace["loss"].item() < 0.5  # 100 Adam steps on one batch: memorised


def test_readme_imports():
    for lib in ("torch", "jnn"):
        namespace = {}
        exec(BLOCKS[f"imports/{lib}"], namespace)
        assert {"nn", "F", "optim", "DataLoader", "TensorDataset", lib} <= set(namespace)


def _twin_contexts(lr=0.1):
    """The same Linear(4, 3), SGD, CrossEntropyLoss and data in torch and in jnn."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4), dtype=np.float32)
    y = rng.integers(0, 3, 8)
    torch.manual_seed(0)
    t_model, model = torch.nn.Linear(4, 3), jnn.nn.Linear(4, 3)
    model.load_state_dict(t_model.state_dict())
    t = dict(torch=torch, nn=torch.nn, model=t_model, criterion=torch.nn.CrossEntropyLoss(),
             optimizer=torch.optim.SGD(t_model.parameters(), lr=lr, momentum=0.9),
             x=torch.from_numpy(x), y=torch.from_numpy(y))
    t["micro_batches"] = [(t["x"][:4], t["y"][:4]), (t["x"][4:], t["y"][4:])]
    j = dict(jnn=jnn, jax=jax, jnp=jnp, nn=jnn.nn, model=model,
             criterion=jnn.nn.CrossEntropyLoss(),
             optimizer=jnn.optim.SGD(model.parameters(), lr=lr, momentum=0.9),
             x=jnp.asarray(x), y=jnp.asarray(y))
    j["micro_batches"] = [(j["x"][:4], j["y"][:4]), (j["x"][4:], j["y"][4:])]
    return t, j


def _assert_models_match(t_model, model, grads=False):
    for (name, tp), (_, p) in zip(t_model.named_parameters(), model.named_parameters()):
        np.testing.assert_allclose(np.asarray(p.data), tp.detach().numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)
        if grads:
            np.testing.assert_allclose(np.asarray(p.grad), tp.grad.numpy(), rtol=1e-5,
                                       atol=1e-6, err_msg=f"{name}.grad")


def _run_pair(name, t, j):
    exec(BLOCKS[f"{name}/torch"], t)
    exec(BLOCKS[f"{name}/jnn"], j)


@pytest.mark.parametrize("name", ["backward", "autograd-backward", "aux", "accumulation"])
def test_porting_guide_backward(name):
    t, j = _twin_contexts()
    for _ in range(2):  # twice: the second step uses the momentum buffers
        _run_pair(name, t, j)
        _assert_models_match(t["model"], j["model"], grads=True)
    if name == "aux":
        assert t["correct"] == j["correct"]
    if name != "accumulation":
        assert float(j["loss"]) == pytest.approx(t["loss"].item(), rel=1e-5)


def test_porting_guide_vjp():
    t, j = _twin_contexts()
    _run_pair("vjp", t, j)
    _assert_models_match(t["model"], j["model"], grads=True)


def test_porting_guide_gan():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((6, 4), dtype=np.float32)
    noise = rng.standard_normal((6, 2), dtype=np.float32)
    contexts = []
    for lib, as_array in [(torch, torch.from_numpy), (jnn, jnp.asarray)]:
        lib.manual_seed(0)
        netG = lib.nn.Sequential(lib.nn.Linear(2, 4), lib.nn.Tanh())
        netD = lib.nn.Sequential(lib.nn.Linear(4, 1), lib.nn.Sigmoid())
        contexts.append(dict(
            torch=torch, jnn=jnn, jnp=jnp, netG=netG, netD=netD, criterion=lib.nn.BCELoss(),
            optimizerD=lib.optim.SGD(netD.parameters(), lr=0.1),
            optimizerG=lib.optim.SGD(netG.parameters(), lr=0.1),
            real=as_array(real), noise=as_array(noise)))
    t, j = contexts
    for net in ("netG", "netD"):
        j[net].load_state_dict(t[net].state_dict())
    for _ in range(2):
        _run_pair("gan", t, j)
        _assert_models_match(t["netD"], j["netD"], grads=True)
        _assert_models_match(t["netG"], j["netG"], grads=True)
        assert j["D_x"] == pytest.approx(t["D_x"], rel=1e-5)
        for loss in ("errD_real", "errD_fake", "errG"):
            assert float(j[loss]) == pytest.approx(t[loss].item(), rel=1e-5), loss


def test_porting_guide_devices():
    t, j = _twin_contexts()
    _run_pair("devices", t, j)
    assert str(j["device"]) == str(t["device"])
    np.testing.assert_allclose(np.asarray(j["model"](j["x"])),
                               t["model"](t["x"]).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_porting_guide_save(tmp_path):
    t, j = _twin_contexts()
    _run_pair("backward", t, j)  # a step first: the optimizer has momentum buffers
    t["path"], j["path"] = tmp_path / "torch.pt", tmp_path / "jnn.pt"
    _run_pair("save", t, j)
    assert j["path"].exists()
    _run_pair("backward", t, j)  # the reloaded optimizer continues as torch's does
    _assert_models_match(t["model"], j["model"], grads=True)
    t_buffer = t["optimizer"].state_dict()["state"][0]["momentum_buffer"].numpy()
    np.testing.assert_allclose(j["optimizer"].state_dict()["state"][0]["momentum_buffer"],
                               t_buffer, rtol=1e-5, atol=1e-6)


def test_porting_guide_compile():
    t, j = _twin_contexts()
    rng = np.random.default_rng(1)
    j.update(DataLoader=jnn.utils.data.DataLoader, TensorDataset=jnn.utils.data.TensorDataset,
             inputs=jnp.asarray(rng.standard_normal((18, 4), dtype=np.float32)),
             targets=jnp.asarray(rng.integers(0, 3, 18)))
    before = np.asarray(j["model"].weight.data)
    exec(BLOCKS["compile/jnn"], j)
    assert j["train_step"].compile_count == 1  # drop_last: one shape, one program
    assert math.isfinite(j["loss"].item())
    assert not np.allclose(before, j["model"].weight.data)


# -- the tensor-methods table -------------------------------------------------------------
def _table_rows() -> list[tuple[list[str], list[str]]]:
    table = README.split("<!-- test: tensor-methods -->\n", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines()[2:]:
        cells = line.strip("|").split(" | ")
        rows.append((re.findall(r"`([^`]+)`", cells[0]), re.findall(r"`([^`]+)`", cells[1])))
    return rows


def _arrays(lib):
    rng = np.random.default_rng(0)
    values = dict(x=rng.standard_normal((2, 3, 4), dtype=np.float32),
                  y=rng.standard_normal((2, 3, 4), dtype=np.float32),
                  m=rng.random((2, 3, 4)) > 0.5, b=rng.standard_normal(4, dtype=np.float32),
                  a=rng.standard_normal((3, 4), dtype=np.float32),
                  w=rng.standard_normal((4, 5), dtype=np.float32))
    grad = rng.standard_normal(3, dtype=np.float32)
    if lib == "torch":
        namespace = {k: torch.from_numpy(v) for k, v in values.items()}
        namespace["p"] = torch.nn.Parameter(torch.from_numpy(grad * 2))
        namespace["p"].grad = torch.from_numpy(grad)
        return dict(namespace, torch=torch, lr=0.1)
    namespace = {k: jnp.asarray(v) for k, v in values.items()}
    namespace["p"] = jnn.nn.Parameter(jnp.asarray(grad * 2))
    namespace["p"].grad = jnp.asarray(grad)
    return dict(namespace, jnn=jnn, jnp=jnp, jax=jax, np=np, lr=0.1)


def _run_code(code: str, namespace: dict):
    """An expression's value; for a statement, the value of what it assigned."""
    try:
        return eval(code, namespace)
    except SyntaxError:
        pass
    statement = ast.parse(code).body[0]
    exec(code, namespace)
    target = statement.targets[0] if isinstance(statement, ast.Assign) else statement.target
    while isinstance(target, ast.Subscript):
        target = target.value
    return eval(ast.unparse(target), namespace)


def _as_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    if isinstance(value, (tuple, list)) and not isinstance(value, torch.Size):
        return [_as_numpy(v) for v in value]
    return np.asarray(value)


def test_tensor_methods_table_rows_parse():
    rows = _table_rows()
    assert len(rows) >= 30
    assert all(len(torch_forms) == 1 and jnn_forms for torch_forms, jnn_forms in rows)
    torch_code = " ".join(forms[0] for forms, _ in rows)
    torch_names = set(re.findall(r"\.\w+\(", torch_code)) | ({"["} if "[" in torch_code else set())
    for method in (".view(", ".size(", ".unsqueeze(", ".transpose(", ".permute(", ".repeat(",
                   ".expand_as(", ".masked_fill(", ".float(", ".item(", ".add_(", "["):
        assert method in torch_names, method


@pytest.mark.parametrize("row", _table_rows(), ids=lambda row: row[0][0])
def test_tensor_methods_table(row):
    torch_forms, jnn_forms = row
    with torch.no_grad():
        expected = _as_numpy(_run_code(torch_forms[0], _arrays("torch")))
    for form in jnn_forms:
        got = _as_numpy(_run_code(form, _arrays("jnn")))
        if isinstance(expected, list):
            assert len(got) == len(expected), form
            for g, e in zip(got, expected):
                np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=form)
        else:
            assert np.shape(got) == np.shape(expected), form
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=form)


# -- examples and README agree -------------------------------------------------------------
def test_every_example_is_in_the_readme_and_has_a_test():
    tested = set(re.findall(r'load_example\("([\w/]+\.py)"\)', Path(__file__).read_text()))
    for path in sorted(EXAMPLES.rglob("*.py")):
        relative = path.relative_to(EXAMPLES).as_posix()
        assert relative in tested, f"{relative} has no test"
        assert path.name in README, f"{relative} is not in the README"
        module = ast.parse(path.read_text())
        assert ast.get_docstring(module), f"{relative} has no docstring"

