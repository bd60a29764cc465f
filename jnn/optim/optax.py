"""``Optax``: drive any optax ``GradientTransformation`` in the torch style."""

from __future__ import annotations

import copy
import pickle
from typing import TYPE_CHECKING, Any

import jax

from jnn import _state
from jnn.optim.optimizer import Optimizer

if TYPE_CHECKING:  # optax is imported lazily: it adds ~0.4 s to `import jnn`
    import optax

__all__ = ["Optax"]


class Optax(Optimizer):
    """A torch-style optimizer over an optax transformation.

    ``Optax(model.parameters(), optax.adamw(1e-3))`` gives ``zero_grad()``, ``step()``,
    ``step(closure)`` and ``jnn.compile`` support for any optax optimizer.  Each parameter
    group keeps one optax state over the list of its parameters; a parameter whose
    ``.grad`` is ``None`` gets a zero gradient for the transformation and is left
    unchanged.

    Args:
        params: Parameters or parameter-group dicts (groups carry no options here: the
            transformation holds its hyper-parameters; use ``optax.inject_hyperparams`` to
            change them during training).
        transformation: an ``optax.GradientTransformation``.

    PyTorch: no equivalent; ``state_dict()`` holds ``{'state': {group index:
    {'optax_state': [leaves]}}, 'param_groups': ...}``.
    """

    def __init__(self, params: Any, transformation: optax.GradientTransformation) -> None:
        if not hasattr(transformation, "init") or not hasattr(transformation, "update"):
            raise TypeError(
                "Optax expects an optax.GradientTransformation, got "
                f"{type(transformation).__name__}"
            )
        self.transformation = transformation
        self._leaves: list[list[Any] | None] = []
        self._treedefs: list[Any] = []
        super().__init__(params, {})
        self._jitted: dict[Any, Any] = {}

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        # The optax state is created now (not lazily as torch's per-parameter state), so a
        # compiled step never creates state while it is traced.
        values = [p._data for p in param_group["params"]]
        leaves, treedef = jax.tree_util.tree_flatten(self.transformation.init(values))
        self._leaves.append(leaves)
        self._treedefs.append(treedef)

    def _compute_group(self, group: dict[str, Any]) -> Any:
        index = next(i for i, g in enumerate(self.param_groups) if g is group)
        params = group["params"]
        has_grad = tuple(p._grad is not None for p in params)
        if not any(has_grad):
            return None
        values = [p._data for p in params]
        key = (self._treedefs[index], has_grad)
        update = self._jitted.get(key)
        if update is None:
            update = self._jitted[key] = jax.jit(self._make_update(*key))
        grads = [p._grad for p in params if p._grad is not None]
        new_values, new_leaves = update(values, grads, list(self._leaves[index]))

        def commit() -> None:
            for p, value in zip(params, new_values):
                p._data = value
            self._leaves[index][:] = new_leaves

        return commit

    def _make_update(self, treedef: Any, has_grad: tuple[bool, ...]) -> Any:
        tx = self.transformation

        def update(values: list, grads: list, leaves: list) -> tuple[list, list]:
            it = iter(grads)
            full = [next(it) if h else jax.numpy.zeros_like(v) for v, h in zip(values, has_grad)]
            opt_state = jax.tree_util.tree_unflatten(treedef, leaves)
            updates, opt_state = tx.update(full, opt_state, values)
            new = [v + u for v, u in zip(values, updates)]  # optax.apply_updates
            new = [n if h else v for n, v, h in zip(new, values, has_grad)]
            return new, jax.tree_util.tree_leaves(opt_state)

        return update

    def _cells(self) -> list[tuple[Any, Any]]:
        return [(leaves, i) for leaves in self._leaves if leaves is not None
                for i in range(len(leaves))]

    def state_dict(self) -> dict[str, Any]:
        _state.flush()
        sd = super().state_dict()
        sd["state"] = {i: {"optax_state": list(leaves)} for i, leaves in enumerate(self._leaves)
                       if leaves is not None}
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _state.flush()
        for i, entry in state_dict["state"].items():
            group_values = [p._data for p in self.param_groups[int(i)]["params"]]
            _, treedef = jax.tree_util.tree_flatten(self.transformation.init(group_values))
            self._treedefs[int(i)] = treedef
            self._leaves[int(i)] = [jax.numpy.asarray(x) for x in entry["optax_state"]]
        _state.bump_cells(id(self))

    # -- copies ---------------------------------------------------------------------------
    # torch's optimizers copy their defaults, state and groups; this one's state lives in
    # its optax leaves, built by its transformation: a copy carries them too (it could
    # not step before).
    def _own_state(self) -> dict[str, Any]:
        _state.flush()  # (the leaves may be packed in a compiled step's store)
        return {"_leaves": self._leaves, "_treedefs": self._treedefs}

    def __getstate__(self) -> dict[str, Any]:
        try:
            pickle.dumps(self.transformation)
        except Exception as error:
            raise TypeError(
                "jnn.optim.Optax cannot be pickled: its optax transformation cannot "
                f"({type(error).__name__}: {error}); optax builds transformations from "
                "local functions. Save optimizer.state_dict() (jnn.save) and load it into "
                "Optax(params, transformation) built again where it is loaded "
                "(copy.deepcopy works: it shares the transformation).") from error
        return {**super().__getstate__(), **self._own_state(),
                "transformation": self.transformation}

    def _copy(self, memo: dict[int, Any] | None) -> Optax:
        """A shallow (``memo`` None) or deep copy that can step: the defaults, state, groups
        and optax leaves, and the same transformation (optax's functions are pure: shared,
        as deepcopy shares any function)."""
        new = type(self).__new__(type(self))
        state = {**Optimizer.__getstate__(self), **self._own_state()}
        if memo is not None:
            memo[id(self)] = new
            state = copy.deepcopy(state, memo)
        new.__setstate__(state)
        new.transformation = self.transformation
        return new

    def __copy__(self) -> Optax:  # (copy.copy would take __getstate__'s pickle check)
        return self._copy(None)

    def __deepcopy__(self, memo: dict[int, Any]) -> Optax:
        return self._copy(memo)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._jitted = {}
