"""jnn's loss layers against torch.nn: one registry of rows drives the oracle.

Each row is a class name, constructor arguments and input specs (input, target, ...);
``tests/oracle.py`` compares state_dict, names, repr, outputs (train and eval), gradients
of every float input and parameter, and warnings.  A few shapes are reused throughout:
each new shape is an XLA compile.
"""


import numpy as np
import pytest

from tests.nn.registry import case, deviation, err
from tests.oracle import (
    check_error,
    check_layer,
    const,
    integers,
    log_probs,
    normal,
    probs,
    uniform,
)

X = (4, 3)
WIDE = normal(4, 3, scale=4.0)
LOGITS = (4, 5)
CLASSES = integers(4, high=5)
W5 = np.array([0.5, 1.0, 2.0, 0.25, 1.5], np.float32)
W3 = np.array([0.5, 2.0, 1.0], np.float32)
IGNORED = const([0, 1, 4, 1], np.int64)  # hits ignore_index=1
SIGNS = const([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0], [1.0, 1.0, -1.0], [-1.0, 1.0, 1.0]])
SIGNS4 = const([1.0, -1.0, -1.0, 1.0])
BITS = const([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
SEED3X5 = (3, 5)  # the seed documents' examples
REDUCTIONS = ("mean", "sum", "none")
COUNTS = const([[0.0, 1.0, 2.0], [3.0, 0.5, 1.5], [4.0, 7.0, 1.0], [0.2, 2.5, 9.0]])
INPUT_GRAD_ONLY = {"grad_inputs": [0]}  # torch refuses a gradient for the target

# -- regression ------------------------------------------------------------------------
REGRESSION = [
    *[case(loss, reduction=r, inputs=[X, X]) for loss in ("L1Loss", "MSELoss")
      for r in REDUCTIONS],
    case("MSELoss", inputs=[SEED3X5, SEED3X5], id="MSELoss seed example 3x5"),
    case("MSELoss", size_average=False, inputs=[X, X], id="MSELoss legacy size_average"),
    case("L1Loss", reduce=False, inputs=[X, X], id="L1Loss legacy reduce"),
    case("L1Loss", inputs=[SEED3X5, SEED3X5], id="L1Loss seed example"),
    case("L1Loss", size_average=False, inputs=[SEED3X5, SEED3X5], id="L1Loss size_average=False"),
    case("MSELoss", inputs=[X, (4, 1)], id="MSELoss broadcast target warns"),
    case("SmoothL1Loss", inputs=[WIDE, X]),
    case("SmoothL1Loss", size_average=False, inputs=[WIDE, X],
         id="SmoothL1Loss size_average=False"),
    case("SmoothL1Loss", beta=0.5, reduction="sum", inputs=[WIDE, X]),
    case("SmoothL1Loss", beta=0.0, inputs=[WIDE, X]),
    case("HuberLoss", inputs=[WIDE, X]),
    case("HuberLoss", reduction="none", delta=0.5, inputs=[WIDE, X]),
    case("PoissonNLLLoss", inputs=[X, uniform(*X, high=3.0)]),
    case("PoissonNLLLoss", log_input=False, inputs=[uniform(*X, low=0.1, high=3.0),
                                                    uniform(*X, high=3.0)]),
    case("PoissonNLLLoss", full=True, reduction="none", inputs=[X, COUNTS],
         opts={"grad_inputs": [0]}),
    # torch's target gradient is NaN at exactly t = 0 (0 * inf through its masked Stirling
    # term); jnn's is 0 there. Targets are data, so jnn keeps the finite value.
    case("PoissonNLLLoss", full=True, reduction="none", inputs=[X, COUNTS],
         id="PoissonNLLLoss full: target gradient at t = 0",
         marks=deviation("torch's d/dtarget is NaN at target == 0 with full=True")),
    case("PoissonNLLLoss", log_input=False, full=True, eps=1e-3, reduction="sum",
         inputs=[uniform(*X, low=0.1, high=3.0), uniform(*X, high=3.0)]),
    case("PoissonNLLLoss", size_average=False, inputs=[X, uniform(*X, high=3.0)],
         id="PoissonNLLLoss legacy"),
    case("GaussianNLLLoss", inputs=[X, X, uniform(*X, low=0.5, high=2.0)]),
    case("GaussianNLLLoss", full=True, reduction="sum",
         inputs=[X, X, uniform(4, 1, low=0.5, high=2.0)], id="GaussianNLLLoss var (N, 1)"),
    case("GaussianNLLLoss", reduction="none", inputs=[X, X, uniform(4, low=0.5, high=2.0)],
         id="GaussianNLLLoss var (N,)"),
    case("GaussianNLLLoss", eps=0.1, inputs=[X, X, const([[0.0, 0.05, 1.0]] * 4)],
         id="GaussianNLLLoss var below eps clamps, gradient passes"),
]

# -- classification --------------------------------------------------------------------
CLASSIFICATION = [
    case("NLLLoss", inputs=[log_probs(*LOGITS), CLASSES]),
    case("NLLLoss", weight=W5, inputs=[log_probs(*LOGITS), CLASSES]),
    case("NLLLoss", weight=W5, ignore_index=1, inputs=[log_probs(*LOGITS), IGNORED]),
    case("NLLLoss", ignore_index=1, reduction="sum", inputs=[log_probs(*LOGITS), IGNORED]),
    case("NLLLoss", weight=W5, reduction="none", inputs=[log_probs(*LOGITS), CLASSES]),
    case("NLLLoss", inputs=[log_probs(2, 5, 3, dim=1), integers(2, 3, high=5)],
         id="NLLLoss (N, C, d) input"),
    case("NLLLoss", weight=W5, inputs=[log_probs(2, 5, 3, 2, dim=1), integers(2, 3, 2, high=5)],
         id="NLLLoss (N, C, d1, d2) input"),
    case("NLLLoss", inputs=[log_probs(5), const(2, np.int64)], id="NLLLoss unbatched"),
    case("NLLLoss", ignore_index=0, inputs=[log_probs(*LOGITS), const([0] * 4, np.int64)],
         id="NLLLoss every target ignored"),
    case("CrossEntropyLoss", inputs=[SEED3X5, const([1, 0, 4], np.int64)],
         id="CE seed example, targets [1, 0, 4]"),
    case("CrossEntropyLoss", inputs=[LOGITS, CLASSES]),
    case("CrossEntropyLoss", weight=W5, inputs=[LOGITS, CLASSES]),
    case("CrossEntropyLoss", reduction="sum", inputs=[LOGITS, CLASSES]),
    case("CrossEntropyLoss", reduction="none", inputs=[LOGITS, CLASSES]),
    case("CrossEntropyLoss", inputs=[LOGITS, const([0, -100, 4, 2], np.int64)],
         id="CrossEntropyLoss default ignore_index"),
    case("CrossEntropyLoss", weight=W5, ignore_index=1, inputs=[LOGITS, IGNORED]),
    case("CrossEntropyLoss", label_smoothing=0.1, inputs=[LOGITS, CLASSES]),
    case("CrossEntropyLoss", weight=W5, label_smoothing=0.2, inputs=[LOGITS, CLASSES]),
    case("CrossEntropyLoss", weight=W5, ignore_index=1, label_smoothing=0.2,
         reduction="none", inputs=[LOGITS, IGNORED]),
    case("CrossEntropyLoss", weight=W5, ignore_index=1, label_smoothing=0.2,
         inputs=[LOGITS, IGNORED], id="CrossEntropyLoss weight+ignore+smoothing mean"),
    case("CrossEntropyLoss", inputs=[LOGITS, probs(*LOGITS)], id="CE probability target"),
    case("CrossEntropyLoss", weight=W5, label_smoothing=0.1, inputs=[LOGITS, probs(*LOGITS)],
         id="CE probability target, weight, smoothing"),
    case("CrossEntropyLoss", reduction="none", inputs=[LOGITS, probs(*LOGITS)],
         id="CE probability target, reduction none"),
    case("CrossEntropyLoss", inputs=[(2, 5, 3), integers(2, 3, high=5)],
         id="CE (N, C, d) input"),
    case("CrossEntropyLoss", weight=W5, label_smoothing=0.3, ignore_index=2,
         inputs=[(2, 5, 3, 2), integers(2, 3, 2, high=5)], id="CE (N, C, d1, d2) all options"),
    case("CrossEntropyLoss", label_smoothing=0.1, inputs=[(2, 5, 3), probs(2, 5, 3, dim=1)],
         id="CE (N, C, d) probability target"),
    case("CrossEntropyLoss", inputs=[(5,), const(3, np.int64)], id="CE unbatched"),
    case("CrossEntropyLoss", inputs=[(5,), probs(5)], id="CE unbatched probabilities"),
    case("CrossEntropyLoss", size_average=False, inputs=[LOGITS, CLASSES], id="CE legacy"),
    case("BCELoss", inputs=[uniform(*X, low=0.05, high=0.95), uniform(*X)]),
    case("BCELoss", weight=W3, inputs=[uniform(*X, low=0.05, high=0.95), uniform(*X)]),
    case("BCELoss", reduction="none", inputs=[uniform(*X, low=0.05, high=0.95),
                                              const(np.eye(4, 3), np.float32)]),
    case("BCEWithLogitsLoss", inputs=[WIDE, uniform(*X)]),
    case("BCEWithLogitsLoss", pos_weight=W3, inputs=[WIDE, uniform(*X)]),
    case("BCEWithLogitsLoss", weight=W3, pos_weight=W3, reduction="sum",
         inputs=[WIDE, uniform(*X)]),
    case("BCEWithLogitsLoss", reduction="none", inputs=[WIDE, uniform(*X)]),
    *[case("KLDivLoss", reduction=r, inputs=[log_probs(*LOGITS), probs(*LOGITS)])
      for r in ("mean", "batchmean", "sum", "none")],
    case("KLDivLoss", reduction="batchmean", log_target=True,
         inputs=[log_probs(*LOGITS), log_probs(*LOGITS)]),
    case("KLDivLoss", size_average=False, inputs=[log_probs(*LOGITS), probs(*LOGITS)],
         id="KLDivLoss legacy"),
]

# -- margins and embeddings ------------------------------------------------------------
MULTILABEL = const([[3, 0, -1, 1, 2], [1, 2, 3, 4, 0], [-1, 0, 0, 0, 0], [4, 4, -1, 2, 2]],
                   np.int64)  # -1 ends each list; a repeat counts twice, as in torch
MARGINS = [
    case("MarginRankingLoss", inputs=[(4,), (4,), SIGNS4]),
    case("MarginRankingLoss", 0.5, reduction="none", inputs=[(4,), (4,), SIGNS4]),
    case("MarginRankingLoss", margin=0.2, size_average=False, inputs=[(4,), (4,), SIGNS4],
         id="MarginRankingLoss legacy"),
    case("HingeEmbeddingLoss", inputs=[WIDE, SIGNS]),
    case("HingeEmbeddingLoss", margin=2.0, reduction="sum", inputs=[WIDE, SIGNS]),
    case("HingeEmbeddingLoss", reduction="none",
         inputs=[WIDE, const([[1.0, 0.0, -1.0]] * 4)], id="HingeEmbeddingLoss target 0"),
    case("MultiLabelMarginLoss", inputs=[LOGITS, MULTILABEL]),
    case("MultiLabelMarginLoss", reduction="none", inputs=[LOGITS, MULTILABEL]),
    case("MultiLabelMarginLoss", inputs=[(5,), const([2, 4, -1, 0, 0], np.int64)],
         id="MultiLabelMarginLoss unbatched"),
    case("SoftMarginLoss", inputs=[SEED3X5, const(np.sign(np.arange(15).reshape(3, 5) % 3 - 0.5),
                                                  np.float32)], opts=INPUT_GRAD_ONLY,
         id="SoftMarginLoss seed example"),
    case("SoftMarginLoss", size_average=False, inputs=[WIDE, SIGNS], opts=INPUT_GRAD_ONLY,
         id="SoftMarginLoss size_average=False"),
    case("SoftMarginLoss", reduction="none", inputs=[WIDE, SIGNS], opts=INPUT_GRAD_ONLY),
    case("MultiLabelSoftMarginLoss", inputs=[SEED3X5, const(np.eye(3, 5), np.float32)],
         id="MultiLabelSoftMarginLoss seed example"),
    case("MultiLabelSoftMarginLoss", size_average=False, inputs=[WIDE, BITS],
         id="MultiLabelSoftMarginLoss size_average=False"),
    case("MultiLabelSoftMarginLoss", weight=W3, reduction="none", inputs=[WIDE, BITS]),
    case("CosineEmbeddingLoss", inputs=[X, X, SIGNS4]),
    case("CosineEmbeddingLoss", margin=0.3, reduction="none", inputs=[X, X, SIGNS4]),
    case("CosineEmbeddingLoss", inputs=[(3,), (3,), const(-1.0)], id="CosineEmbedding unbatched"),
    case("MultiMarginLoss", inputs=[LOGITS, CLASSES]),
    case("MultiMarginLoss", p=2, margin=0.5, weight=W5, reduction="none",
         inputs=[LOGITS, CLASSES]),
    case("MultiMarginLoss", weight=W5, reduction="sum", inputs=[LOGITS, CLASSES]),
    case("MultiMarginLoss", inputs=[(5,), const(3, np.int64)], id="MultiMarginLoss unbatched"),
    case("TripletMarginLoss", inputs=[X, X, X]),
    case("TripletMarginLoss", margin=2.0, p=1, swap=True, reduction="none", inputs=[X, X, X]),
    case("TripletMarginLoss", p=3.0, eps=1e-3, reduction="sum", inputs=[X, X, X]),
    case("TripletMarginLoss", inputs=[(3,), (3,), (3,)], id="TripletMarginLoss unbatched"),
    case("TripletMarginWithDistanceLoss", inputs=[X, X, X]),
    case("TripletMarginWithDistanceLoss", margin=3.0, swap=True, reduction="none",
         inputs=[X, X, X]),
]

# -- CTC: (T, N, C) log-probabilities, padded or concatenated targets -------------------
CTC_LP = log_probs(6, 2, 4, dim=2)
PADDED = const([[1, 2, 2], [3, 1, 0]], np.int64)
LENGTHS = [const([6, 5], np.int64), const([3, 2], np.int64)]
CTC = [
    case("CTCLoss", inputs=[CTC_LP, PADDED, *LENGTHS]),
    case("CTCLoss", reduction="sum", inputs=[CTC_LP, PADDED, *LENGTHS]),
    case("CTCLoss", reduction="none", inputs=[CTC_LP, PADDED, *LENGTHS]),
    case("CTCLoss", reduction="none", inputs=[CTC_LP, const([1, 2, 2, 3, 1], np.int64),
                                              *LENGTHS], id="CTCLoss concatenated targets"),
    case("CTCLoss", blank=3, inputs=[CTC_LP, const([[1, 2, 2], [0, 1, 0]], np.int64),
                                     *LENGTHS]),
    case("CTCLoss", reduction="none", inputs=[CTC_LP, PADDED, const([2, 5], np.int64),
                                              LENGTHS[1]], id="CTCLoss impossible: inf, NaN grad"),
    case("CTCLoss", zero_infinity=True, inputs=[CTC_LP, PADDED, const([2, 5], np.int64),
                                                LENGTHS[1]], id="CTCLoss zero_infinity"),
    case("CTCLoss", reduction="none", inputs=[CTC_LP, PADDED, const([6, 0], np.int64),
                                              const([0, 0], np.int64)],
         id="CTCLoss empty targets and empty input"),
    case("CTCLoss", inputs=[log_probs(6, 4, dim=1), const([1, 2, 2], np.int64),
                            const([6], np.int64), const([3], np.int64)], id="CTCLoss unbatched"),
]

# -- LinearCrossEntropyLoss: Linear(in_features, C * prod(out_features)) + CE -----------
LINEAR_CE = [
    case("LinearCrossEntropyLoss", 3, 5, inputs=[X, CLASSES]),
    case("LinearCrossEntropyLoss", 3, 5, bias=True, weight=W5, label_smoothing=0.2,
         ignore_index=1, inputs=[X, IGNORED]),
    case("LinearCrossEntropyLoss", 3, 5, reduction="none", inputs=[X, CLASSES]),
    case("LinearCrossEntropyLoss", 3, 5, out_features=(2,), bias=True, reduction="sum",
         inputs=[X, integers(4, 2, high=5)]),
    case("LinearCrossEntropyLoss", 3, 5, label_smoothing=0.1, inputs=[X, probs(*LOGITS)],
         id="LinearCrossEntropyLoss probability targets"),
    case("LinearCrossEntropyLoss", 3, 5, inputs=[(3,), const(4, np.int64)],
         id="LinearCrossEntropyLoss unbatched"),
]

# -- extremes: huge logits, probabilities 0 and 1, all ignored, empty batches -----------
HUGE = const([[100.0, -100.0, 0.5], [1e4, -1e4, -0.5], [50.0, -50.0, 2.0], [90.0, -90.0, -2.0]],
             np.float32)
ONES = const(np.ones(X), np.float32)
EXTREMES = [
    case("BCEWithLogitsLoss", inputs=[HUGE, uniform(*X)], id="BCEWithLogitsLoss huge logits"),
    case("BCEWithLogitsLoss", pos_weight=W3, inputs=[HUGE, uniform(*X)],
         id="BCEWithLogitsLoss huge logits, pos_weight"),
    case("CrossEntropyLoss", label_smoothing=0.1, inputs=[const(
        np.array([[1e4, -1e4, 0.0, 1.0, 2.0]] * 4, np.float32)), CLASSES], id="CE huge logits"),
    case("CrossEntropyLoss", inputs=[const([[100.0, -100.0, 0.0, 100.0, -100.0]] * 4),
                                     CLASSES], id="CE logits +-100"),
    case("MultiLabelSoftMarginLoss", inputs=[HUGE, BITS], id="MultiLabelSoftMargin huge"),
    case("SoftMarginLoss", reduction="none", inputs=[HUGE, SIGNS], opts=INPUT_GRAD_ONLY,
         id="SoftMarginLoss +-100 overflows to inf as torch"),
    # BCELoss clamps log(0) to -100, as torch does
    case("BCELoss", inputs=[const([[0.0, 1.0, 0.5], [1.0, 0.0, 0.2], [0.3, 0.3, 0.3],
                                   [1e-30, 1 - 1e-8, 0.9]], np.float32), uniform(*X)],
         id="BCELoss probabilities 0 and 1"),
    case("BCELoss", reduction="none", inputs=[const([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0]] * 2),
                                              const([[0.0, 1.0, 1.0], [0.0, 1.0, 1.0]] * 2)],
         id="BCELoss exact 0/1 both ways"),
    *[case(name, inputs=[ONES, ONES], id=f"{name} zero difference", **kw)
      for name, kw in [("L1Loss", {}), ("SmoothL1Loss", {"beta": 0.0}), ("HuberLoss", {}),
                       ("MSELoss", {})]],
    case("CrossEntropyLoss", ignore_index=2, inputs=[LOGITS, const([2] * 4, np.int64)],
         id="CE every target ignored: nan mean"),
    case("CrossEntropyLoss", ignore_index=2, reduction="sum",
         inputs=[LOGITS, const([2] * 4, np.int64)], id="CE every target ignored: sum 0"),
    case("CrossEntropyLoss", inputs=[(0, 5), const(np.zeros(0), np.int64)], id="CE empty batch"),
    case("CrossEntropyLoss", reduction="sum", inputs=[(0, 5), const(np.zeros(0), np.int64)],
         id="CE empty batch sum"),
    *[case(name, inputs=[(0, 5), (0, 5)], id=f"{name} empty batch")
      for name in ("MSELoss", "L1Loss", "SmoothL1Loss", "PoissonNLLLoss")],
    case("SoftMarginLoss", inputs=[(0, 5), (0, 5)], opts=INPUT_GRAD_ONLY,
         id="SoftMarginLoss empty batch"),
    case("MultiLabelSoftMarginLoss", inputs=[(0, 5), (0, 5)], id="MLSM empty batch"),
    case("BCELoss", inputs=[uniform(0, 5), uniform(0, 5)], id="BCELoss empty batch"),
]
HALF = {"grad": False, "rtol": 2e-3, "atol": 2e-3}  # float16 keeps ~3 significant digits
HALF_ROWS = [
    case("MSELoss", inputs=[const(np.linspace(-2, 2, 12).reshape(X), np.float16),
                            const(np.linspace(1, -1, 12).reshape(X), np.float16)],
         opts=HALF, id="MSELoss float16"),
    case("CrossEntropyLoss", inputs=[const(np.linspace(-2, 2, 20).reshape(LOGITS), np.float16),
                                     CLASSES], opts=HALF, id="CE float16"),
    case("BCEWithLogitsLoss", inputs=[const(np.linspace(-3, 3, 12).reshape(X), np.float16),
                                      const(np.eye(4, 3), np.float16)],
         opts=HALF, id="BCEWithLogits float16"),
    case("BCELoss", inputs=[const(np.linspace(0.05, 0.95, 12).reshape(X), np.float16),
                            const(np.eye(4, 3), np.float16)], opts=HALF, id="BCELoss float16"),
]

ROWS = REGRESSION + CLASSIFICATION + MARGINS + CTC + LINEAR_CE + EXTREMES + HALF_ROWS


@pytest.mark.parametrize("name, args, kwargs, inputs, opts", ROWS)
def test_loss_matches_torch(name, args, kwargs, inputs, opts):
    check_layer(name, args, kwargs, inputs, **opts)


# -- errors: torch's type, and a message matching torch's regex ------------------------
NOT_IMPL = r"not implemented for '(Long|Int)'"  # torch's int64 is jnn's int32
ERRORS = [
    err("CrossEntropyLoss", (), {"label_smoothing": 1.5}, RuntimeError,
        r"label_smoothing must be between 0\.0 and 1\.0\. Got: 1\.5", [LOGITS, CLASSES]),
    err("CrossEntropyLoss", (), {"ignore_index": 1}, RuntimeError,
        "ignore_index is not supported for floating point target", [LOGITS, probs(*LOGITS)]),
    err("CrossEntropyLoss", (), {"reduction": "avg"}, ValueError,
        "avg is not a valid value for reduction", [LOGITS, CLASSES]),
    err("KLDivLoss", (), {"reduction": "batch"}, ValueError,
        "batch is not a valid value for reduction", [X, X]),
    err("KLDivLoss", (), {"reduction": "sum"}, RuntimeError,
        r"The size of tensor a \(5\) must match the size of tensor b \(4\) at non-singleton "
        "dimension 0", [X, (5, 3)]),
    err("KLDivLoss", (), {}, RuntimeError, "kl_div: Integral inputs not supported.",
        [integers(*X, high=3), X]),
    err("CrossEntropyLoss", (), {}, ValueError,
        r"Expected input batch_size \(4\) to match target batch_size \(3\)\.",
        [LOGITS, integers(3, high=5)]),
    err("CrossEntropyLoss", (), {"weight": W3}, RuntimeError,
        "weight tensor should be defined either for all 5 classes or no classes but got "
        r"weight tensor of shape: \[3\]", [LOGITS, CLASSES]),
    err("CrossEntropyLoss", (), {}, RuntimeError, r"Expected target size \[2, 3\], got \[2, 2\]",
        [(2, 5, 3), integers(2, 2, high=5)]),
    err("CrossEntropyLoss", (), {}, IndexError, r"Target 5 is out of bounds\.",
        [LOGITS, const([0, 5, 1, 2], np.int64)], id="CE target out of range"),
    err("CrossEntropyLoss", (), {}, IndexError, r"Target -1 is out of bounds\.",
        [LOGITS, const([0, -1, 1, 2], np.int64)], id="CE negative target"),
    err("CrossEntropyLoss", (), {"label_smoothing": 0.1, "ignore_index": 7}, IndexError,
        r"Target 9 is out of bounds\.", [(2, 5, 3), const([[0, 7, 1], [9, 2, 2]], np.int64)],
        id="CE K-dim target out of range"),
    err("CrossEntropyLoss", (), {}, RuntimeError,
        "expected target dtype to be Long or Byte, but got Float", [LOGITS, uniform(4)]),
    err("CrossEntropyLoss", (), {}, NotImplementedError,
        r'"log_softmax_lastdim_kernel_impl" ' + NOT_IMPL, [integers(*LOGITS, high=3), CLASSES]),
    err("NLLLoss", (), {}, ValueError,
        r"Expected input batch_size \(4\) to match target batch_size \(3\)\.",
        [log_probs(*LOGITS), integers(3, high=5)]),
    err("NLLLoss", (), {}, IndexError, r"Target 7 is out of bounds\.",
        [log_probs(2, 5, 3, dim=1), const([[0, 1, 2], [7, 1, 1]], np.int64)]),
    err("NLLLoss", (), {}, RuntimeError, "expected target dtype to be Long or Byte, but got Bool",
        [log_probs(*LOGITS), const([True, False, True, True])]),
    err("MSELoss", (), {}, RuntimeError,
        r"The size of tensor a \(4\) must match the size of tensor b \(5\) at non-singleton "
        "dimension 0", [X, (5, 3)]),
    err("MSELoss", (), {}, NotImplementedError, r'"mse_cpu" ' + NOT_IMPL,
        [integers(*X, high=3), integers(*X, high=3)]),
    err("MSELoss", (), {}, NotImplementedError, "\"mse_cpu\" not implemented for 'Bool'",
        [const(np.eye(4, 3, dtype=bool)), const(np.eye(4, 3, dtype=bool))]),
    err("L1Loss", (), {}, RuntimeError, r"The size of tensor a \(4\) must match", [X, (5, 3)]),
    err("L1Loss", (), {}, RuntimeError, r"mean\(\): could not infer output dtype",
        [integers(*X, high=3), integers(*X, high=3)]),
    err("L1Loss", (), {}, RuntimeError, "Subtraction, the `-` operator, with two bool tensors",
        [const(np.eye(4, 3, dtype=bool)), const(np.eye(4, 3, dtype=bool))]),
    err("SmoothL1Loss", (), {}, NotImplementedError, r'"smooth_l1_cpu" ' + NOT_IMPL,
        [integers(*X, high=3), integers(*X, high=3)]),
    err("HuberLoss", (), {}, NotImplementedError, r'"huber_cpu" ' + NOT_IMPL,
        [integers(*X, high=3), integers(*X, high=3)]),
    err("MSELoss", (), {"reduction": "foo"}, ValueError, "foo is not a valid value for reduction",
        [X, X]),
    err("BCELoss", (), {}, ValueError,
        r"Using a target size \(torch\.Size\(\[4, 1\]\)\) that is different to the input size "
        r"\(torch\.Size\(\[4, 3\]\)\) is deprecated", [uniform(*X), uniform(4, 1)]),
    err("BCELoss", (), {}, RuntimeError, "all elements of input should be between 0 and 1",
        [uniform(*X, low=0.5, high=1.5), uniform(*X)], id="BCELoss input above 1"),
    err("BCELoss", (), {}, RuntimeError, "all elements of input should be between 0 and 1",
        [const([[0.5, np.nan, 0.5]] * 4), uniform(*X)], id="BCELoss NaN input"),
    err("BCELoss", (), {}, RuntimeError, "all elements of target should be between 0 and 1",
        [uniform(*X), uniform(*X, low=-1.0, high=0.0)], id="BCELoss target below 0"),
    err("BCELoss", (), {}, NotImplementedError, r'"binary_cross_entropy" ' + NOT_IMPL,
        [integers(*X, high=2), integers(*X, high=2)]),
    err("BCEWithLogitsLoss", (), {}, ValueError,
        r"Target size \(torch\.Size\(\[4, 1\]\)\) must be the same as input size "
        r"\(torch\.Size\(\[4, 3\]\)\)", [X, uniform(4, 1)]),
    err("BCEWithLogitsLoss", (), {}, NotImplementedError, r'"log_sigmoid_cpu" ' + NOT_IMPL,
        [integers(*X, high=2), integers(*X, high=2)]),
    err("SmoothL1Loss", (), {"beta": -1.0}, RuntimeError,
        "smooth_l1_loss does not support negative values for beta", [X, X]),
    err("HuberLoss", (), {"delta": -1.0}, RuntimeError,
        "huber_loss does not support non-positive values for delta", [X, X]),
    err("PoissonNLLLoss", (), {"reduction": "x"}, ValueError, "x is not a valid value", [X, X]),
    err("GaussianNLLLoss", (), {}, ValueError, "var is of incorrect size",
        [X, X, uniform(3, low=0.5)]),
    err("GaussianNLLLoss", (), {}, ValueError, "var has negative entry/entries",
        [X, X, uniform(*X, low=-1.0, high=0.0)]),
    err("GaussianNLLLoss", (), {"reduction": "x"}, ValueError, "x is not valid",
        [X, X, uniform(*X, low=0.5)]),
    err("MarginRankingLoss", (), {}, RuntimeError,
        r"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
        r"input1: torch\.Size\(\[4\]\), input2: torch\.Size\(\[4\]\), target: "
        r"torch\.Size\(\[1, 4\]\)", [(4,), (4,), (1, 4)]),
    err("SoftMarginLoss", (), {}, RuntimeError,
        "result type Float can't be cast to the desired output type",
        [integers(*X, high=2), integers(*X, high=2)]),
    err("SoftMarginLoss", (), {}, RuntimeError,
        r"output with shape \[4, 1\] doesn't match the broadcast shape \[4, 4\]",
        [(4, 1), SIGNS4], id="SoftMarginLoss target grows the input"),
    err("CrossEntropyLoss", (), {"weight": W5.astype(np.float16)}, RuntimeError,
        "expected scalar type Float but found Half", [LOGITS, CLASSES]),
    err("NLLLoss", (), {"weight": W5.astype(np.float16)}, RuntimeError,
        "expected scalar type Float but found Half", [log_probs(*LOGITS), CLASSES]),
    err("MultiLabelMarginLoss", (), {}, RuntimeError, "argument #2 'target' is out of range",
        [LOGITS, const([[5, -1, 0, 0, 0]] * 4, np.int64)]),
    err("MultiLabelMarginLoss", (), {}, RuntimeError,
        r"inconsistent target size: \[4, 4\] for input of size: \[4, 5\]",
        [LOGITS, integers(4, 4, high=5)]),
    err("MultiLabelMarginLoss", (), {}, RuntimeError,
        r"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
        r"\[1, 4, 5\]", [(1, 4, 5), integers(1, 4, 5, high=5)]),
    err("MultiLabelMarginLoss", (), {}, RuntimeError, "expected scalar type Long but found Float",
        [LOGITS, LOGITS]),
    err("MultiMarginLoss", (), {}, RuntimeError, "target out of range",
        [LOGITS, const([0, 5, 1, 1], np.int64)]),
    err("MultiMarginLoss", (), {"p": 3}, ValueError, "only p == 1 and p == 2 supported"),
    err("MultiMarginLoss", (), {"weight": np.ones((1, 5), np.float32)}, ValueError,
        "MultiMarginLoss: expected weight to be None or 1D tensor, got 2D instead"),
    err("MultiMarginLoss", (), {"weight": W3}, RuntimeError,
        r"inconsistent weight size, expected 5 but got \[3\]", [LOGITS, CLASSES]),
    err("MultiMarginLoss", (), {}, RuntimeError,
        r"multi_margin_loss: target tensor should be 1-D with size equal to the number of "
        r"input samples \(batch size\)\. Expected target size \[4\], but got \[3\]\. Input has "
        r"shape \[4, 5\]\.", [LOGITS, integers(3, high=5)]),
    err("CosineEmbeddingLoss", (), {}, RuntimeError,
        r"1D target tensor expects 2D input tensors, but found inputs with sizes \[3\] and "
        r"\[3\]\.", [(3,), (3,), SIGNS4]),
    err("CosineEmbeddingLoss", (), {}, RuntimeError,
        "0D or 1D target tensor expected, multi-target not supported", [X, X, SIGNS]),
    err("TripletMarginLoss", (), {"margin": -1.0}, ValueError,
        r"TripletMarginLoss: expected margin to be greater than 0, got -1\.0 instead"),
    err("TripletMarginWithDistanceLoss", (), {"margin": 0}, ValueError,
        "TripletMarginWithDistanceLoss: expected margin to be greater than 0, got 0 instead"),
    err("TripletMarginLoss", (), {}, RuntimeError,
        "The anchor, positive, and negative tensors are expected to have the same number of "
        "dimensions, but got: anchor 2D, positive 2D, and negative 1D inputs", [X, X, (3,)]),
    err("TripletMarginWithDistanceLoss", (), {}, RuntimeError,
        r"The size of tensor a \(3\) must match the size of tensor b \(2\)", [X, X, (4, 2)]),
    err("CTCLoss", (), {}, RuntimeError,
        r"Expected input_lengths to have value at most 6, but got value 7",
        [CTC_LP, PADDED, const([7, 5], np.int64), LENGTHS[1]]),
    err("CTCLoss", (), {}, RuntimeError,
        r"Expected tensor to have size at least 4 at dimension 1, but got size 3 for argument "
        "#2 'targets'", [CTC_LP, PADDED, LENGTHS[0], const([4, 2], np.int64)]),
    err("CTCLoss", (), {}, RuntimeError,
        r"Expected tensor to have size 6 at dimension 0, but got size 5 for argument #2 "
        "'targets'", [CTC_LP, const([1, 2, 2, 3, 1], np.int64), LENGTHS[0],
                      const([4, 2], np.int64)]),
    err("CTCLoss", (), {}, RuntimeError,
        "Expected target_lengths to have value at least 0, but got value -1",
        [CTC_LP, PADDED, LENGTHS[0], const([-1, 2], np.int64)]),
    err("CTCLoss", (), {"blank": 4}, RuntimeError, "blank must be in label range",
        [CTC_LP, PADDED, *LENGTHS]),
    err("CTCLoss", (), {}, RuntimeError, "input_lengths must be of size batch_size",
        [CTC_LP, PADDED, const([6], np.int64), LENGTHS[1]]),
    err("CTCLoss", (), {}, RuntimeError, "input_lengths must be integral",
        [CTC_LP, PADDED, const([6.0, 5.0]), LENGTHS[1]]),
    err("LinearCrossEntropyLoss", (3, 5), {"weight": W3}, RuntimeError,
        r"expected weight shape to be \(5,\), got \(3,\)"),
    err("LinearCrossEntropyLoss", (3, 5), {"label_smoothing": 1.5}, RuntimeError,
        r"expected label_smoothing to be in range \[0, 1\], got 1\.5"),
    err("LinearCrossEntropyLoss", (3, 5), {}, RuntimeError,
        r"expected input with dimensionality 1 or 2, got 3", [(2, 4, 3), CLASSES]),
    err("LinearCrossEntropyLoss", (3, 5), {"ignore_index": 1}, RuntimeError,
        "ignore_index cannot be specified when target contains probabilities",
        [X, probs(*LOGITS)]),
    err("LinearCrossEntropyLoss", (3, 5), {}, IndexError, r"Target 5 is out of bounds\.",
        [X, const([0, 5, 1, 1], np.int64)]),
    err("LinearCrossEntropyLoss", (3, 5), {"out_features": (2,)}, RuntimeError,
        r"K-dimensional loss defined by linear_weight shape \(5, 2, 3\) requires batched",
        [(3,), const(1, np.int64)]),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match, inputs", ERRORS)
def test_loss_error_matches_torch(name, args, kwargs, exc, match, inputs):
    check_error(name, args, kwargs, exc, match, inputs=inputs)
