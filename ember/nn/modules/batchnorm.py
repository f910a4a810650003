"""Batch normalisation layers: BatchNorm1d/2d/3d and their Lazy variants, as torch.nn.

``_NormBase`` holds what batch and instance norm share: the affine parameters ``weight``/
``bias`` (C,), the buffers ``running_mean``/``running_var`` (C,) and ``num_batches_tracked``
(int64), their initialisation, repr and the loading of checkpoints older than version 2 (no
``num_batches_tracked``). ``_LazyNormMixin`` infers ``num_features`` from the first input.
"""
from ... import _creation
from ..._dtype import int64
from .. import functional as F
from .. import init
from ..parameter import Parameter, UninitializedParameter, UninitializedBuffer, is_lazy
from .module import Module
from .lazy import LazyModuleMixin

__all__ = ['BatchNorm1d', 'BatchNorm2d', 'BatchNorm3d', 'LazyBatchNorm1d', 'LazyBatchNorm2d',
           'LazyBatchNorm3d']


class _NormBase(Module):
    """Parameters, buffers, initialisation and repr shared by batch and instance norm."""
    _version = 2
    __constants__ = ['track_running_stats', 'momentum', 'eps', 'num_features', 'affine']

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        kw = {'device': device, 'dtype': dtype}
        if affine:
            self.weight = Parameter(_creation.empty(num_features, **kw))
            if bias:
                self.bias = Parameter(_creation.empty(num_features, **kw))
            else:
                self.register_parameter('bias', None)
        else:
            self.register_parameter('weight', None)
            self.register_parameter('bias', None)
        if track_running_stats:
            self.register_buffer('running_mean', _creation.zeros(num_features, **kw))
            self.register_buffer('running_var', _creation.ones(num_features, **kw))
            self.register_buffer('num_batches_tracked',
                                 _creation.tensor(0, dtype=int64, device=device))
        else:
            self.register_buffer('running_mean', None)
            self.register_buffer('running_var', None)
            self.register_buffer('num_batches_tracked', None)
        self.reset_parameters()

    def reset_running_stats(self):
        """running_mean <- 0, running_var <- 1, num_batches_tracked <- 0."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        """Running statistics reset; weight <- 1, bias <- 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def extra_repr(self):
        return (f'{self.num_features}, eps={self.eps}, momentum={self.momentum}, '
                f'affine={self.affine}, bias={self.bias is not None}, '
                f'track_running_stats={self.track_running_stats}')

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """Checkpoints before version 2 have no ``num_batches_tracked``: keep the current one
        (0 when there is none)."""
        version = local_metadata.get('version', None)
        if (version is None or version < 2) and self.track_running_stats:
            key = prefix + 'num_batches_tracked'
            if key not in state_dict:
                nbt = self.num_batches_tracked
                state_dict[key] = nbt if nbt is not None else _creation.tensor(0, dtype=int64)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class _BatchNorm(_NormBase):
    """forward: batch statistics in training (running statistics updated when tracked), the
    running statistics in evaluation (batch statistics when they are not tracked)."""

    def forward(self, input):
        self._check_input_dim(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        training = self.training
        if training and self.track_running_stats:
            nbt = self.num_batches_tracked
            if nbt is not None:
                nbt.add_(1)
                if self.momentum is None:
                    momentum = 1.0 / float(nbt.item())
        use_batch = training or (self.running_mean is None and self.running_var is None)
        stats = not training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if stats else None,
                            self.running_var if stats else None, self.weight, self.bias,
                            use_batch, momentum, self.eps)


def _dims_error(expected, dim):
    return ValueError(f'expected {expected} input (got {dim}D input)')


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input: per-channel statistics over N (and L)."""

    def _check_input_dim(self, input):
        d = input.dim()
        if d != 2 and d != 3:
            raise _dims_error('2D or 3D', d)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) input: per-channel statistics over N, H and W."""

    def _check_input_dim(self, input):
        if input.dim() != 4:
            raise _dims_error('4D', input.dim())


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) input: per-channel statistics over N, D, H and W."""

    def _check_input_dim(self, input):
        if input.dim() != 5:
            raise _dims_error('5D', input.dim())


# ---- lazy variants ------------------------------------------------------------------------
class _LazyNormMixin(LazyModuleMixin):
    """Lazy norm layers: ``num_features`` is 0 and the parameters/running statistics are
    uninitialised until the first forward, which reads the channel count off the input,
    materialises and initialises them, and turns the module into ``cls_to_become``."""

    def __init__(self, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__(0, eps, momentum, False, False, device, dtype)
        self.affine = affine
        self.track_running_stats = track_running_stats
        kw = {'device': device, 'dtype': dtype}
        if affine:
            self.weight = UninitializedParameter(**kw)
            if bias:
                self.bias = UninitializedParameter(**kw)
        if track_running_stats:
            self.register_buffer('running_mean', UninitializedBuffer(**kw))
            self.register_buffer('running_var', UninitializedBuffer(**kw))
            self.register_buffer('num_batches_tracked',
                                 _creation.tensor(0, dtype=int64, device=device))

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def _channel_dim(self, input):
        return 1

    def initialize_parameters(self, input):
        """Materialise weight/bias/running stats with the input's channel count."""
        if not self.has_uninitialized_params():
            return
        self.num_features = input.shape[self._channel_dim(input)]
        shape = (self.num_features,)
        for t in (self.weight, self.bias, self.running_mean, self.running_var):
            if t is not None and is_lazy(t):
                t.materialize(shape)
        self.reset_parameters()


class LazyBatchNorm1d(_LazyNormMixin, BatchNorm1d):
    """BatchNorm1d whose num_features is inferred from the first input's ``input.size(1)``."""
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormMixin, BatchNorm2d):
    """BatchNorm2d whose num_features is inferred from the first input's ``input.size(1)``."""
    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNormMixin, BatchNorm3d):
    """BatchNorm3d whose num_features is inferred from the first input's ``input.size(1)``."""
    cls_to_become = BatchNorm3d
