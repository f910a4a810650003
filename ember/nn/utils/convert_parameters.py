"""Parameters to one flat vector and back, as ``torch.nn.utils.convert_parameters``."""
import ember
from ember._tensor import Tensor

__all__ = ['parameters_to_vector', 'vector_to_parameters']


def _check_same_device(param, device):
    """The device of the parameters seen so far (``device``), checked against ``param``'s."""
    if device is None:
        return param.device
    if param.device != device:
        raise TypeError('Found two parameters on different devices, this is currently not '
                        'supported.')
    return device


def parameters_to_vector(parameters):
    """All ``parameters`` flattened and concatenated into one 1-D tensor (differentiable)."""
    device = None
    flat = []
    for param in parameters:
        device = _check_same_device(param, device)
        flat.append(param.view(-1))
    return ember.cat(flat)


def vector_to_parameters(vec, parameters):
    """Set each of ``parameters``' data to the next ``numel`` elements of the 1-D ``vec`` (the
    parameters then share ``vec``'s memory, as in PyTorch)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f'expected torch.Tensor, but got: {ember.typename(vec)}')
    device = None
    start = 0
    for param in parameters:
        device = _check_same_device(param, device)
        n = param.numel()
        param.data = vec[start:start + n].view_as(param).data
        start += n
