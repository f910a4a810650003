"""Instance normalisation layers: InstanceNorm1d/2d/3d and their Lazy variants, as torch.nn.

Each (sample, channel) plane is normalised by its own mean and biased variance. Defaults differ
from batch norm: ``affine=False`` and ``track_running_stats=False``. Unbatched input (one
dimension fewer) is accepted.
"""
import warnings

from .. import functional as F
from .batchnorm import _NormBase, _LazyNormMixin

__all__ = ['InstanceNorm1d', 'InstanceNorm2d', 'InstanceNorm3d', 'LazyInstanceNorm1d',
           'LazyInstanceNorm2d', 'LazyInstanceNorm3d']


class _InstanceNorm(_NormBase):
    _no_batch_dim = None       # dims of an unbatched input
    _expected = None           # the accepted dims, as the error message names them

    def __init__(self, num_features, eps=1e-05, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

    def _check_input_dim(self, input):
        d = input.dim()
        if d != self._no_batch_dim and d != self._no_batch_dim + 1:
            raise ValueError(f'expected {self._expected} input (got {d}D input)')

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        """Checkpoints older than 0.4.0 carried running stats that untracked instance norms no
        longer have: report them (PyTorch's message) and drop them."""
        version = local_metadata.get('version', None)
        if version is None and not self.track_running_stats:
            keys = [prefix + n for n in ('running_mean', 'running_var') if prefix + n in state_dict]
            if keys:
                name = self._get_name()
                error_msgs.append(
                    'Unexpected running stats buffer(s) {names} for {klass} with '
                    'track_running_stats=False. If state_dict is a checkpoint saved before 0.4.0, '
                    'this may be expected because {klass} does not track running stats by default '
                    'since 0.4.0. Please remove these keys from state_dict. If the running stats '
                    'are actually needed, instead set track_running_stats=True in {klass} to '
                    'enable them. See the documentation of {klass} for details.'.format(
                        names=' and '.join(f'"{k}"' for k in keys), klass=name))
                for k in keys:
                    state_dict.pop(k)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    def forward(self, input):
        self._check_input_dim(input)
        feature_dim = input.dim() - self._no_batch_dim
        c = input.shape[feature_dim]
        if c != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match "
                                 f'num_features ({self.num_features}), but got: {c}.')
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You "
                          'can silence this warning by not passing in num_features, which is not '
                          'used because affine=False')
        unbatched = input.dim() == self._no_batch_dim
        if unbatched:
            input = input.unsqueeze(0)
        out = F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              0.0 if self.momentum is None else self.momentum, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or unbatched (C, L) input."""
    _no_batch_dim = 2
    _expected = '2D or 3D'


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or unbatched (C, H, W) input."""
    _no_batch_dim = 3
    _expected = '3D or 4D'


class InstanceNorm3d(_InstanceNorm):
    """Instance norm of (N, C, D, H, W) or unbatched (C, D, H, W) input."""
    _no_batch_dim = 4
    _expected = '4D or 5D'


class _LazyInstanceMixin(_LazyNormMixin):
    def _channel_dim(self, input):
        return 0 if input.dim() == self._no_batch_dim else 1


class LazyInstanceNorm1d(_LazyInstanceMixin, InstanceNorm1d):
    """InstanceNorm1d whose num_features is inferred from the first input's channel count."""
    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceMixin, InstanceNorm2d):
    """InstanceNorm2d whose num_features is inferred from the first input's channel count."""
    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceMixin, InstanceNorm3d):
    """InstanceNorm3d whose num_features is inferred from the first input's channel count."""
    cls_to_become = InstanceNorm3d
