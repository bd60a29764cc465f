"""Eager ``optimizer.step(closure)`` / ``jnn.autograd.backward(closure)`` compiled once a
closure repeats (jnn/_eager_step.py): the same numbers as op-by-op differentiation, one
trace per closure code, and a correct eager fallback (reported once) where compiling would
be wrong."""

# The closures below are built in loops on purpose (the torch idiom being ported): each is
# called within its own iteration, so late binding of loop variables is what is tested.
# ruff: noqa: B023

from __future__ import annotations

import copy
import io
import types
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import jnn
import jnn.nn as nn
from jnn import _eager_step
from jnn._eager_step import ClosureCompileWarning

RNG = np.random.default_rng(0)
XS = [jnp.asarray(RNG.standard_normal((8, 4)), jnp.float32) for _ in range(6)]
Y = jnp.asarray(RNG.standard_normal((8, 1)), jnp.float32)


def _pair(dropout: bool = False):
    jnn.manual_seed(0)
    layers = [nn.Linear(4, 16), nn.ReLU()]
    layers += [nn.Dropout(0.3)] if dropout else []
    model = nn.Sequential(*layers, nn.Linear(16, 1))
    return model, copy.deepcopy(model)


def _op_by_op(fn):
    _eager_step.set_closure_compilation(False)
    try:
        return fn()
    finally:
        _eager_step.set_closure_compilation(True)


def _train(model, steps=6, opt_cls=jnn.optim.Adam):
    opt = opt_cls(model.parameters(), lr=1e-2)
    losses = []
    for i in range(steps):
        x = XS[i]

        def closure():
            opt.zero_grad()
            return jnp.mean((model(x) - Y) ** 2)

        losses.append(float(opt.step(closure)))
    return losses, opt


def _programs(opt):
    return list(_eager_step.programs_of(opt).values())


@pytest.mark.parametrize("opt_cls", [jnn.optim.Adam, jnn.optim.SGD])
def test_repeated_closure_compiles_once_and_equals_op_by_op(opt_cls):
    a, b = _pair()
    got, opt = _train(a, opt_cls=opt_cls)
    want, _ = _op_by_op(lambda: _train(b, opt_cls=opt_cls))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6, atol=1e-7)
    (prog,) = _programs(opt)
    assert prog.trace_count == 1 and prog.off is None


def test_dropout_draws_the_same_keys_compiled_and_op_by_op():
    a, b = _pair(dropout=True)
    jnn.manual_seed(5)
    got, _ = _train(a)
    jnn.manual_seed(5)
    want, _ = _op_by_op(lambda: _train(b))
    np.testing.assert_allclose(got, want, rtol=1e-6)


GLOBAL_X = XS[0]


def test_global_arrays_are_inputs_not_constants():
    global GLOBAL_X
    a, b = _pair()
    results = []
    for model in (a, b):
        opt = jnn.optim.SGD(model.parameters(), lr=0.1)

        def closure(model=model, opt=opt):
            opt.zero_grad()
            return jnp.mean((model(GLOBAL_X) - Y) ** 2)

        run = (lambda f: f()) if model is a else _op_by_op
        losses = []
        for i in range(5):
            GLOBAL_X = XS[i]
            losses.append(run(lambda: float(opt.step(closure))))
        results.append(losses)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


class _Holder:
    pass


def test_array_in_an_object_attribute_is_an_input_and_never_stale():
    """`model(holder.x)` with a new array in the attribute each step: the compiled closure
    takes it as an input (one trace), with op by op's numbers."""
    a, b = _pair()
    results = []
    for model in (a, b):
        holder = _Holder()
        opt = jnn.optim.SGD(model.parameters(), lr=0.1)

        def closure():
            opt.zero_grad()
            return jnp.mean((model(holder.x) - Y) ** 2)

        losses = []
        for i in range(5):
            holder.x = XS[i]
            if model is a:
                with warnings.catch_warnings():
                    warnings.simplefilter("error", ClosureCompileWarning)
                    losses.append(float(opt.step(closure)))
            else:
                losses.append(_op_by_op(lambda: float(opt.step(closure))))
        results.append(losses)
        if model is a:
            (program,) = _eager_step.programs_of(opt).values()
            assert program.off is None and program.trace_count == 1
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_closure_that_needs_values_falls_back_with_one_warning():
    model, _ = _pair()
    opt = jnn.optim.SGD(model.parameters(), lr=0.1)
    seen = []
    x = XS[0]

    def closure():
        opt.zero_grad()
        if float(jnp.abs(x).max()) > 1e6:  # reads its input's value: cannot be traced
            raise ValueError("input out of range")
        seen.append(1)
        return jnp.mean((model(x) - Y) ** 2)

    opt.step(closure)
    opt.step(closure)
    with pytest.warns(ClosureCompileWarning, match="compiling it failed"):
        opt.step(closure)
    opt.step(closure)
    assert _programs(opt)[0].off is not None
    assert len(seen) >= 4  # the eager steps ran the closure's Python


def test_error_in_a_compiled_closure_changes_nothing_and_keeps_compiling():
    model, _ = _pair()
    opt = jnn.optim.Adam(model.parameters(), lr=1e-2)
    xs = [XS[0], XS[1], XS[2], jnp.ones((8, 3)), XS[3]]
    for x in xs:
        def closure():
            opt.zero_grad()
            return jnp.mean((model(x) - Y) ** 2)

        if x.shape[1] == 3:
            before = [np.asarray(p.data) for p in model.parameters()]
            # torch's whole text (pytest matches notes too: no JAX traceback note)
            with pytest.raises(RuntimeError, match=r"^mat1 and mat2 shapes cannot be "
                               r"multiplied \(8x3 and 4x16\)$"):
                opt.step(closure)
            for p, q in zip(model.parameters(), before):
                np.testing.assert_array_equal(p.data, q)
        else:
            opt.step(closure)
    assert _programs(opt)[0].off is None


def test_changing_python_number_stops_compiling_after_a_few_traces():
    model, ref = _pair()
    results, opts = [], []
    for m in (model, ref):
        opt = jnn.optim.SGD(m.parameters(), lr=0.1)
        opts.append(opt)
        losses = []
        for i in range(10):
            scale = float(i + 1)

            def closure():
                opt.zero_grad()
                return scale * jnp.mean((m(XS[0]) - Y) ** 2)

            if m is model:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    losses.append(float(opt.step(closure)))
                if caught:
                    assert "traced" in str(caught[0].message)
            else:
                losses.append(_op_by_op(lambda: float(opt.step(closure))))
        results.append(losses)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)
    (prog,) = _programs(opts[0])
    assert prog.off is not None and prog.trace_count == _eager_step.MAX_TRACES + 1
    assert _programs(opts[1]) == []  # compilation off: nothing compiled


def test_a_global_python_number_the_closure_reads_is_never_stale():
    """A module-level training loop: ``scale`` is a *global* the closure reads.  Each new
    value is part of the compiled program's key (re-traced, then op by op), never the
    value of the first trace."""
    global SCALE
    model, ref = _pair()
    results = []
    for m in (model, ref):
        opt = jnn.optim.SGD(m.parameters(), lr=0.1)
        losses = []
        for i in range(8):
            SCALE = float(i % 3 + 1)  # 1, 2, 3, 1, ...: the third call is the first compiled

            def closure():
                opt.zero_grad()
                return SCALE * jnp.mean((m(XS[0]) - Y) ** 2)

            run = (lambda f: f()) if m is model else _op_by_op
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ClosureCompileWarning)
                losses.append(run(lambda: float(opt.step(closure))))
        results.append(losses)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


SCALE = 1.0


def test_backward_closure_accumulates_like_op_by_op():
    a, b = _pair()

    def run(model):
        for i in range(5):
            x = XS[i]

            def closure():
                return jnp.mean((model(x) - Y) ** 2)

            jnn.autograd.backward(closure)  # no zero_grad: .grad accumulates
        return [np.asarray(p.grad) for p in model.parameters()]

    got = run(a)
    want = _op_by_op(lambda: run(b))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_only_plain_functions_are_compiled():
    model, _ = _pair()
    opt = jnn.optim.SGD(model.parameters(), lr=0.1)

    class Closure:
        def __call__(self):
            opt.zero_grad()
            return jnp.mean((model(XS[0]) - Y) ** 2)

    for _ in range(4):
        opt.step(Closure())
    assert _programs(opt) == []
    assert isinstance(_test_helper_is_function, types.FunctionType)


def _test_helper_is_function():
    return None


def test_eager_backward_after_compiled_steps_of_another_closure():
    """A compiled closure step leaves the newest state packed; an eager backward(closure)
    whose closure calls zero_grad() must write it back before its dry run, not inside."""
    model, ref = _pair()
    for m in (model, ref):
        opt = jnn.optim.Adam(m.parameters(), lr=1e-2)
        run = (lambda f: f()) if m is model else _op_by_op
        for i in range(4):
            x = XS[i]

            def closure():
                opt.zero_grad()
                return jnp.mean((m(x) - Y) ** 2)

            run(lambda: opt.step(closure))
        run(lambda: jnn.autograd.backward(closure))
        run(lambda: opt.step())
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-6, atol=1e-7)


def test_a_sweep_of_eager_trials_frees_finished_models():
    """Programs live with their optimizer: a finished trial's model and optimizer are freed
    (a table keyed on optimizers from outside would keep every trial alive)."""
    import gc
    import weakref

    refs = []
    for _ in range(4):
        model, _ = _pair()
        _, opt = _train(model, steps=4)
        assert len(_programs(opt)) == 1
        refs.append(weakref.ref(model))
        del model, opt
    nn.Linear(1, 1)  # reads the generator: the last trial's pending state is written back
    gc.collect()
    assert sum(r() is not None for r in refs) == 0


def test_two_threads_sharing_one_closure_code_train_their_own_models():
    """backward(closure) programs are shared by closure code: two threads, each training
    its own model with the same code, get the sequential results."""
    import threading

    def run(model, out):
        for i in range(5):
            x = XS[i]

            def closure():
                return jnp.mean((model(x) - Y) ** 2)

            jnn.autograd.backward(closure)
            with jnn.no_grad():
                for p in model.parameters():
                    p -= 0.1 * p.grad
                    p.grad = None
        out.append([np.asarray(p.data) for p in model.parameters()])

    jnn.manual_seed(1)
    a, b = nn.Linear(4, 1), nn.Linear(4, 1)
    ref_a, ref_b = copy.deepcopy(a), copy.deepcopy(b)
    want_a, want_b = [], []
    _op_by_op(lambda: (run(ref_a, want_a), run(ref_b, want_b)))
    got_a, got_b = [], []
    threads = [threading.Thread(target=run, args=(m, o)) for m, o in ((a, got_a), (b, got_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in ((got_a, want_a), (got_b, want_b)):
        for g, w in zip(got[0], want[0]):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opt_cls", [jnn.optim.SGD, jnn.optim.Adam])
def test_op_by_op_steps_compile_nothing_after_the_first(opt_cls):
    """An eager loop that jnn cannot compile as a whole (``backward(closure)`` then
    ``step()``, closure compilation off) reuses its programs: the optimizer's update, every
    ``F.*`` call and the gradient compile once, never per step (a lost cache once made
    every eager step an XLA compile: 430 ms a step)."""
    import jax.monitoring

    jnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = opt_cls(model.parameters(), lr=0.1)
    x, y = jnp.ones((3, 4)), jnp.zeros((3, 2))
    compiles = []

    def listen(name, duration, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            compiles.append(name)

    def step():
        opt.zero_grad()
        jnn.autograd.backward(lambda: jnp.mean((model(x) - y) ** 2))
        opt.step()

    _eager_step.set_closure_compilation(False)
    try:
        for _ in range(2):
            step()
        jax.monitoring.register_event_duration_secs_listener(listen)
        try:
            for _ in range(3):
                step()
        finally:
            jax.monitoring.unregister_event_duration_listener(listen)
    finally:
        _eager_step.set_closure_compilation(True)
    assert compiles == []


@pytest.mark.parametrize("kind", ["step", "backward"])
def test_a_bad_class_target_raises_as_torch_once_the_closure_is_compiled(kind):
    """Value checks survive the closure's compilation: a class target out of range at the
    fifth call (the program has run three times by then) raises torch's IndexError,
    changes no weight, leaves .grad as torch's (cleared by the closure's zero_grad()), and
    training then goes on as torch's does."""
    import torch

    torch.manual_seed(0)
    tmodel = torch.nn.Linear(4, 3)
    jmodel = nn.Linear(4, 3)
    jmodel.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1, momentum=0.9)
    x = np.array(XS[0])
    good, bad = np.array([0, 1, 2, 0, 1, 2, 0, 1]), np.array([0, 1, 2, 0, 1, 3, 0, 1])
    for i, target in enumerate([good] * 4 + [bad] + [good] * 2):
        t_target, j_target = torch.from_numpy(target), jnp.asarray(target)

        def closure():
            if kind == "step":
                jopt.zero_grad()
            return jnn.nn.functional.cross_entropy(jmodel(jnp.asarray(x)), j_target)

        def step():
            if kind == "step":
                return jopt.step(closure)
            jopt.zero_grad()
            loss = jnn.autograd.backward(closure)
            jopt.step()
            return loss

        if i == 4:
            with pytest.raises(IndexError, match=r"^Target 3 is out of bounds\.$"):
                topt.zero_grad()
                torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)),
                                                  t_target).backward()
            before = [np.asarray(p.data) for p in jmodel.parameters()]
            with pytest.raises(IndexError, match=r"^Target 3 is out of bounds\.$"):
                step()
            for a, p in zip(before, jmodel.parameters()):
                np.testing.assert_array_equal(a, np.asarray(p.data))
            # and what ran before the failing call ran, as torch's: zero_grad() cleared .grad
            for tp, jp in zip(tmodel.parameters(), jmodel.parameters()):
                assert (jp.grad is None) == (tp.grad is None)
            continue
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), t_target)
        loss.backward()
        topt.step()
        assert float(step()) == pytest.approx(loss.item(), rel=1e-5)
    programs = _eager_step.programs_of(jopt if kind == "step" else None).values()
    assert any(p.off is None and p.trace_count for p in programs)  # it ran compiled
    for tp, jp in zip(tmodel.parameters(), jmodel.parameters()):
        np.testing.assert_allclose(np.asarray(jp.data), tp.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("keyword_only", [False, True])
def test_a_closure_default_argument_is_part_of_the_program_key(keyword_only):
    """Gradient accumulation written `backward(lambda k=k: loss(x[k]))` (or `lambda *, k=k:`):
    every call's own default argument is used once the closure is compiled (the first traced
    one was baked in, so every later micro-batch repeated it), as op by op."""
    results = []
    for compiled in (True, False):
        model, _ = _pair()
        opt = jnn.optim.SGD(model.parameters(), lr=0.1)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            for k in range(2):
                closure = ((lambda *, k=k: jnp.mean((model(XS[k]) - Y) ** 2)) if keyword_only
                           else (lambda k=k: jnp.mean((model(XS[k]) - Y) ** 2)))
                loss = (jnn.autograd.backward(closure) if compiled
                        else _op_by_op(lambda k=k: jnn.autograd.backward(
                            lambda: jnp.mean((model(XS[k]) - Y) ** 2))))
                losses.append(float(loss))
            opt.step()
        results.append((losses, [np.asarray(p.data) for p in model.parameters()]))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("detach", [True, False])
def test_values_a_closure_keeps_are_torchs_every_step(detach):
    """A closure that keeps its outputs (`outs.append(out)`) and counts correct predictions
    (`nonlocal correct`), as an epoch loop does: from its third call the compiled closure
    ran its Python at the trace only, so 2 of 6 outputs were kept and the count was 7
    where torch's was 25; kept values were tracers (unusable) without `detach`.  Now the
    closure runs op by op, with a warning naming its variables, and keeps values."""
    import torch

    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((8, 3)).astype(np.float32) for _ in range(6)]
    ys = [rng.integers(0, 2, 8) for _ in range(6)]
    torch.manual_seed(0)
    tmodel = torch.nn.Linear(3, 2)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    jmodel = nn.Linear(3, 2)
    jmodel.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1)

    t_outs, t_correct = [], 0
    for x, y in zip(xs, ys):
        x, y = torch.from_numpy(x), torch.from_numpy(y)

        def tclosure():
            nonlocal t_correct
            topt.zero_grad()
            out = tmodel(x)
            t_outs.append(out.detach())
            t_correct += int((out.argmax(1) == y).sum())
            loss = torch.nn.functional.cross_entropy(out, y)
            loss.backward()
            return loss
        topt.step(tclosure)

    j_outs, j_correct = [], 0
    with pytest.warns(ClosureCompileWarning, match="changes its variables .*`j_correct`"):
        for x, y in zip(xs, ys):
            x, y = jnp.asarray(x), jnp.asarray(y)

            def jclosure():
                nonlocal j_correct
                jopt.zero_grad()
                out = jmodel(x)
                j_outs.append(jnn.detach(out) if detach else out)
                j_correct += (out.argmax(1) == y).sum()
                return jnn.nn.functional.cross_entropy(out, y)
            jopt.step(jclosure)
    assert int(j_correct) == t_correct
    assert len(j_outs) == len(t_outs)
    for j, t in zip(j_outs, t_outs):
        np.testing.assert_allclose(np.asarray(j), t.numpy(), rtol=1e-5, atol=1e-6)
    for tp, jp in zip(tmodel.parameters(), jmodel.parameters()):
        np.testing.assert_allclose(np.asarray(jp.data), tp.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("kind", ["step", "backward"])
def test_activations_a_forward_hook_keeps_in_an_eager_step_are_torchs(kind):
    """torch's feature-capture idiom, `acts.append(output)` in a forward hook, during an
    eager step: jnn kept tracers of its differentiation (unusable after the step), one
    entry too many (a failed compile attempt's), and backward's dry run added one more."""
    import torch

    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    jmodel = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1))
    jmodel.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.1)
    t_acts, j_acts = [], []
    tmodel[0].register_forward_hook(lambda m, i, o: t_acts.append(o.detach()))
    jmodel[0].register_forward_hook(lambda m, i, o: j_acts.append(o))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClosureCompileWarning)
        for x in XS[:5]:
            topt.zero_grad()
            torch.nn.functional.mse_loss(tmodel(torch.from_numpy(np.asarray(x))),
                                         torch.from_numpy(np.asarray(Y))).backward()
            topt.step()
            closure = lambda x=x: jnn.nn.functional.mse_loss(jmodel(x), Y)  # noqa: E731
            if kind == "step":
                jopt.zero_grad()
                jopt.step(closure)
            else:
                jopt.zero_grad()
                jnn.autograd.backward(closure)
                jopt.step()
    assert len(j_acts) == len(t_acts) == 5
    for j, t in zip(j_acts, t_acts):
        np.testing.assert_allclose(np.asarray(j), t.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("compiled", [True, False])
def test_losses_a_closure_appends_to_a_trainer_attribute_are_torchs(compiled):
    """`self.losses.append(loss)` on a trainer object inside the closure: with closure
    compilation 3 of 8 entries were kept, all dead tracers (op by op 8 tracers)."""
    import torch

    class Trainer:
        pass

    torch.manual_seed(0)
    tmodel, jmodel = torch.nn.Linear(4, 1), nn.Linear(4, 1)
    jmodel.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.01)
    jopt = jnn.optim.SGD(jmodel.parameters(), lr=0.01)
    ttr, jtr = Trainer(), Trainer()
    ttr.losses, jtr.losses = [], []
    jnn.autograd.set_closure_compilation(compiled)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ClosureCompileWarning)
            for x in XS:
                tx = torch.from_numpy(np.asarray(x))

                def tclosure():
                    topt.zero_grad()
                    loss = ((tmodel(tx) - torch.from_numpy(np.asarray(Y))) ** 2).mean()
                    ttr.losses.append(loss.detach())
                    loss.backward()
                    return loss
                topt.step(tclosure)

                def jclosure():
                    jopt.zero_grad()
                    loss = jnp.mean((jmodel(x) - Y) ** 2)
                    jtr.losses.append(loss)
                    return loss
                jopt.step(jclosure)
    finally:
        jnn.autograd.set_closure_compilation(True)
    assert len(jtr.losses) == len(ttr.losses) == len(XS)
    np.testing.assert_allclose([float(v) for v in jtr.losses],
                               [v.item() for v in ttr.losses], rtol=1e-5)


class _Chooser(nn.Module):
    """A forward that picks a branch with Python randomness (teacher forcing, stochastic
    depth): torch draws anew at every step."""

    def __init__(self, linear, draw):
        super().__init__()
        self.fc = linear
        self.draw = draw

    def forward(self, x):
        return self.fc(x) * (0.0 if self.draw() < 0.5 else 1.0)


_PY_RNG = __import__("random").Random(0)


def _draw_random():
    import random

    return random.random()


def _draw_numpy():
    return np.random.rand()


def _draw_held():
    return _PY_RNG.random()


@pytest.mark.parametrize("source", ["random module", "numpy global", "a Random held",
                                    "an iterator of batches"])
def test_python_randomness_in_a_closure_is_drawn_every_step_as_torch(source):
    """An eager closure drawing Python random numbers (or the next batch of an iterator)
    was compiled from its third call with the draw of that trace frozen in: one branch
    forever.  It now runs op by op, with one warning, and matches torch step for step."""
    import random

    import torch

    draws = {"random module": _draw_random, "numpy global": _draw_numpy,
             "a Random held": _draw_held, "an iterator of batches": lambda: 1.0}
    torch.manual_seed(0)
    tlin = torch.nn.Linear(4, 1)
    jlin = nn.Linear(4, 1)
    jlin.load_state_dict({k: v.numpy() for k, v in tlin.state_dict().items()})
    tmodel, jmodel = _Chooser(tlin, draws[source]), _Chooser(jlin, draws[source])
    topt = torch.optim.SGD(tlin.parameters(), lr=0.1)
    jopt = jnn.optim.SGD(jlin.parameters(), lr=0.1)

    def run(model, opt, as_input, zero):
        random.seed(0)
        np.random.seed(0)
        _PY_RNG.seed(0)
        batches = iter([as_input(np.asarray(x)) for x in XS * 2])
        losses = []
        for _ in range(10):
            def closure():
                zero()
                x = next(batches) if source == "an iterator of batches" else as_input(
                    np.asarray(XS[0]))
                loss = (model(x) ** 2).mean()
                if hasattr(loss, "backward"):
                    loss.backward()
                return loss
            losses.append(float(opt.step(closure)))
        return losses

    expected = run(tmodel, topt, torch.from_numpy, topt.zero_grad)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = run(jmodel, jopt, jnp.asarray, jopt.zero_grad)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert len(set(expected[3:])) > 1  # (the draws do change the loss)
    [warning] = [w for w in caught if issubclass(w.category, ClosureCompileWarning)]
    assert "random" in str(warning.message) or "iterator" in str(warning.message)
    np.testing.assert_allclose(np.asarray(jlin.weight.data), tlin.weight.detach().numpy(),
                               rtol=1e-5, atol=1e-6)


BIG_CONFIG = {f"option{i}": 0.0 for i in range(70)}  # a flattened yaml/argparse config
BIG_CONFIG["aux_weight"] = 0.0


def test_a_value_from_a_large_global_dict_is_read_every_step():
    """A loss weight in a module-level config dict of more than 64 entries, changed
    between steps (a curriculum): was frozen from the closure's third call."""
    model = nn.Linear(1, 1, bias=False)
    model.weight.data = jnp.ones((1, 1))
    opt = jnn.optim.SGD(model.parameters(), lr=0.0)
    losses = []
    for epoch in range(6):
        BIG_CONFIG["aux_weight"] = float(epoch)

        def closure():
            opt.zero_grad()
            return model(jnp.ones((1, 1))).sum() * BIG_CONFIG["aux_weight"]

        losses.append(float(opt.step(closure)))
    assert losses == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # (torch's: w = 1, x = 1)


class _Flags:
    random = False  # a config flag that happens to be named `random`


_LOG = io.StringIO()  # a log a step only checks (files are iterators, not draws)


@pytest.mark.parametrize("case", ["jax.random beside numpy", "a flag named random",
                                  "a file it checks", "an unused generator in a dict"])
def test_code_that_draws_nothing_per_call_still_compiles(case):
    """What a step does not draw anew (``jax.random`` with a key it is given, a
    ``cfg.random`` flag next to some numpy, a log file, a generator in a dict it reads
    another item of) must not send an eager closure op by op (30x slower on a small MLP)
    nor make jnn.compile warn."""
    import jax

    model, _ = _pair()
    opt = jnn.optim.SGD(model.parameters(), lr=1e-2)
    state = {"w": 1.0, "gen": (i for i in range(100))}
    scale = np.float32(1.0)
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClosureCompileWarning)
        warnings.simplefilter("error", jnn.TraceTimeValueWarning)
        # (a generator in a closure variable is a leaf of the call: JAX deprecates
        # flattening one)
        warnings.filterwarnings("error", "Python iterable type", DeprecationWarning)
        for i in range(5):
            key, x = jax.random.PRNGKey(i), XS[i]

            def closure():
                opt.zero_grad()
                out = model(x)
                if case == "jax.random beside numpy":
                    out = out + 0.0 * jax.random.normal(key, out.shape, np.float32)
                elif case == "a flag named random":
                    out = out * (2.0 if _Flags.random else np.float32(scale))
                elif case == "a file it checks":
                    out = out * (0.0 if _LOG.closed else 1.0)
                else:
                    out = out * state["w"]
                return jnp.mean((out - Y) ** 2)

            losses.append(float(opt.step(closure)))
    (prog,) = _programs(opt)
    assert prog.off is None and prog.trace_count == 1
    assert all(np.isfinite(losses))
