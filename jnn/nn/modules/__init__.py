"""torch.nn's module families; each file mirrors its torch counterpart."""

from jnn.nn.modules.activation import *  # noqa: F403
from jnn.nn.modules.activation import __all__ as _activation
from jnn.nn.modules.batchnorm import *  # noqa: F403
from jnn.nn.modules.batchnorm import __all__ as _batchnorm
from jnn.nn.modules.channelshuffle import *  # noqa: F403
from jnn.nn.modules.channelshuffle import __all__ as _channelshuffle
from jnn.nn.modules.container import *  # noqa: F403
from jnn.nn.modules.container import __all__ as _container
from jnn.nn.modules.conv import *  # noqa: F403
from jnn.nn.modules.conv import __all__ as _conv
from jnn.nn.modules.distance import *  # noqa: F403
from jnn.nn.modules.distance import __all__ as _distance
from jnn.nn.modules.dropout import *  # noqa: F403
from jnn.nn.modules.dropout import __all__ as _dropout
from jnn.nn.modules.flatten import *  # noqa: F403
from jnn.nn.modules.flatten import __all__ as _flatten
from jnn.nn.modules.fold import *  # noqa: F403
from jnn.nn.modules.fold import __all__ as _fold
from jnn.nn.modules.instancenorm import *  # noqa: F403
from jnn.nn.modules.instancenorm import __all__ as _instancenorm
from jnn.nn.modules.linear import *  # noqa: F403
from jnn.nn.modules.linear import __all__ as _linear
from jnn.nn.modules.loss import *  # noqa: F403
from jnn.nn.modules.loss import __all__ as _loss
from jnn.nn.modules.module import *  # noqa: F403
from jnn.nn.modules.module import __all__ as _module
from jnn.nn.modules.normalization import *  # noqa: F403
from jnn.nn.modules.normalization import __all__ as _normalization
from jnn.nn.modules.padding import *  # noqa: F403
from jnn.nn.modules.padding import __all__ as _padding
from jnn.nn.modules.pixelshuffle import *  # noqa: F403
from jnn.nn.modules.pixelshuffle import __all__ as _pixelshuffle
from jnn.nn.modules.pooling import *  # noqa: F403
from jnn.nn.modules.pooling import __all__ as _pooling
from jnn.nn.modules.rnn import *  # noqa: F403
from jnn.nn.modules.rnn import __all__ as _rnn
from jnn.nn.modules.sparse import *  # noqa: F403
from jnn.nn.modules.sparse import __all__ as _sparse
from jnn.nn.modules.upsampling import *  # noqa: F403
from jnn.nn.modules.upsampling import __all__ as _upsampling

__all__ = [
    *_activation,
    *_batchnorm,
    *_channelshuffle,
    *_container,
    *_conv,
    *_distance,
    *_dropout,
    *_flatten,
    *_fold,
    *_instancenorm,
    *_linear,
    *_loss,
    *_module,
    *_normalization,
    *_padding,
    *_pixelshuffle,
    *_pooling,
    *_rnn,
    *_sparse,
    *_upsampling,
]
