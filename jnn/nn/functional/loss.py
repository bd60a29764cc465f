"""Loss functions (torch.nn.functional's losses), the family's public face.

Reductions follow torch: ``'none'``, ``'mean'``, ``'sum'``, with the deprecated
``size_average``/``reduce`` flags mapped as ``torch.nn._reduction`` maps them. Shapes and
dtypes are checked statically with torch's exception types and messages. Where torch
checks *values* (class indices in range, BCE probabilities in ``[0, 1]``, CTC lengths, a
non-negative Gaussian variance) jnn checks them when the argument is concrete (eager
calls) and skips the check inside a trace, where it would cost a host sync; there an
out-of-range class index gives NaN for its element.

The implementations live in private files by kind: ``_loss_regression.py``,
``_loss_classification.py``, ``_loss_margin.py``, ``_loss_ctc.py``,
``_loss_linear_ce.py``.
"""

from jnn.nn.functional._loss_classification import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    kl_div,
    nll_loss,
)
from jnn.nn.functional._loss_ctc import ctc_loss
from jnn.nn.functional._loss_linear_ce import linear_cross_entropy
from jnn.nn.functional._loss_margin import (
    cosine_embedding_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from jnn.nn.functional._loss_regression import (
    gaussian_nll_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    poisson_nll_loss,
    smooth_l1_loss,
)

__all__ = [
    "l1_loss",
    "mse_loss",
    "smooth_l1_loss",
    "huber_loss",
    "poisson_nll_loss",
    "gaussian_nll_loss",
    "nll_loss",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
    "multilabel_margin_loss",
    "cosine_embedding_loss",
    "multi_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "ctc_loss",
    "linear_cross_entropy",
]
