"""Switchable Normalization (not in PyTorch): SwitchableNorm1d and SwitchableNorm2d.

Luo, Ren, Peng, Zhang, Li, "Differentiable Learning-to-Normalize via Switchable
Normalization", ICLR 2019 (arXiv:1806.10779, 2018). For input (N, C, *) three sets of
statistics are computed: instance norm (per sample and channel, over *), layer norm (per
sample, over C and *) and batch norm (per channel, over N and *). They are mixed with learned
importance weights,

    mean = sum_k softmax(mean_weight)_k * mu_k,   var = sum_k softmax(var_weight)_k * var_k,

k in (IN, LN, BN), and y = (x - mean) / sqrt(var + eps) * weight + bias.

Conventions (where the paper's reference code differs, this follows PyTorch's BatchNorm):
  * all variances are biased (the reference code uses the unbiased instance variance); the
    running variance is updated with the unbiased batch variance, as BatchNorm's;
  * ``momentum`` has PyTorch's meaning, running = (1 - momentum) * running + momentum * batch,
    default 0.1 (as BatchNorm). The reference code's default 0.997 is the weight of the *old*
    value, i.e. momentum=0.003 here;
  * ``using_moving_average=False`` (or ``momentum=None``) keeps a cumulative average of the
    batch statistics instead, using ``num_batches_tracked``;
  * in eval mode the BN term uses the running statistics (when tracked); the IN and LN terms
    always use the input's own statistics.
"""
from ... import _creation
from ..._dtype import int64
from .. import init
from ..functional.normalization import switchable_norm
from ..parameter import Parameter
from .module import Module

__all__ = ['SwitchableNorm1d', 'SwitchableNorm2d']


class _SwitchableNorm(Module):
    """Parameters weight, bias (C,) (when ``affine``), mean_weight, var_weight (3,) (ones:
    equal mixing); buffers running_mean, running_var (C,) and num_batches_tracked (int64) when
    ``track_running_stats``."""
    __constants__ = ['num_features', 'eps', 'momentum', 'affine', 'track_running_stats',
                     'using_moving_average']

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *,
                 using_moving_average=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.using_moving_average = using_moving_average
        kw = {'device': device, 'dtype': dtype}
        if affine:
            self.weight = Parameter(_creation.empty(num_features, **kw))
            self.bias = Parameter(_creation.empty(num_features, **kw))
        else:
            self.register_parameter('weight', None)
            self.register_parameter('bias', None)
        self.mean_weight = Parameter(_creation.empty(3, **kw))
        self.var_weight = Parameter(_creation.empty(3, **kw))
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
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        """weight <- 1, bias <- 0, mixing logits <- 1 (equal weights), running stats reset."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)
        init.ones_(self.mean_weight)
        init.ones_(self.var_weight)

    def forward(self, input):
        self._check_input_dim(input)
        momentum = self.momentum
        if self.training and self.track_running_stats:
            nbt = self.num_batches_tracked
            nbt.add_(1)
            if momentum is None or not self.using_moving_average:
                momentum = 1.0 / float(nbt.item())
        return switchable_norm(input, self.mean_weight, self.var_weight, self.running_mean,
                               self.running_var, self.weight, self.bias, self.training,
                               0.0 if momentum is None else momentum, self.eps)

    def extra_repr(self):
        return (f'{self.num_features}, eps={self.eps}, momentum={self.momentum}, '
                f'affine={self.affine}')


class SwitchableNorm1d(_SwitchableNorm):
    """Switchable norm of (N, C) or (N, C, L) input. With (N, C) input each instance
    statistic covers a single value (mean x, variance 0)."""

    def _check_input_dim(self, input):
        d = input.dim()
        if d != 2 and d != 3:
            raise ValueError(f'expected 2D or 3D input (got {d}D input)')


class SwitchableNorm2d(_SwitchableNorm):
    """Switchable norm of (N, C, H, W) input."""

    def _check_input_dim(self, input):
        if input.dim() != 4:
            raise ValueError(f'expected 4D input (got {input.dim()}D input)')
