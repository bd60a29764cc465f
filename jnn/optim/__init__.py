"""jnn.optim: torch.optim's optimizers and schedulers over pure update rules."""

from jnn.optim import lr_scheduler
from jnn.optim.adam import Adam
from jnn.optim.adamw import AdamW
from jnn.optim.optax import Optax
from jnn.optim.optimizer import Optimizer
from jnn.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Optax", "lr_scheduler"]
