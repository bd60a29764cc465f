"""``jnn.backends``: torch.backends' switches that ported scripts set (``cudnn.benchmark``,
``cudnn.allow_tf32``, ``cuda.matmul.allow_tf32``, ...), mapped onto XLA's behaviour."""

from jnn.backends import cuda, cudnn

__all__ = ["cuda", "cudnn"]
