"""Tensor printing: ``repr(t)`` / ``str(t)`` give PyTorch's text, and the print options.

Public:
  set_printoptions(precision, threshold, edgeitems, linewidth, profile, sci_mode)
  get_printoptions() -> dict        the current options (a copy)
  printoptions(**kwargs)            context manager: set options, restore them on exit

For other modules:
  tensor_repr(t)                    ``repr(t)``: ``tensor([1., 2.], requires_grad=True)``
  format_tensor(t, prefix='tensor(', suffixes=None)
                                    the same text with another opening and/or suffix list
                                    (``None``: the standard ones); ``nn.Parameter.__repr__`` is
                                    ``'Parameter containing:\\n' + format_tensor(p)``
  tensor_suffixes(t)                the standard suffixes, in PyTorch's order:
                                    ``device='cuda:0'``, ``size=(0, 3)``, ``dtype=ember.int32``,
                                    then ``grad_fn=<MulBackward0>`` or ``requires_grad=True``

How the text is built:
  1. When ``numel > threshold`` only the first and last ``edgeitems`` entries of every long
     dim are kept (``_kept_part``), on the tensor's own device, and that part alone is copied
     to the host; a 1000x1000 tensor formats 36 numbers.
  2. One cell format serves every kept value (``_cells``): ints and bools print with
     ``str``; floats print in int mode (``1.``), fixed mode (``1.2346``) or scientific mode
     (``1.2346e-05``), right-aligned to the widest finite nonzero value.
  3. Brackets are nested recursively (``_block``); rows wrap at ``linewidth``; ``...`` marks
     the elided entries; blank lines separate blocks of 3-d and higher tensors.
  4. Suffixes follow, each moved onto a new line when it would pass ``linewidth``.
"""
from contextlib import contextmanager
import math

import numpy as np

from . import _dtype
from ._backend import device_of, xp_of

__all__ = ['set_printoptions', 'get_printoptions']

_PROFILES = {
    'default': dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
    'short': dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
    'full': dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80),
}

_OPTIONS = dict(_PROFILES['default'], sci_mode=None)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Set how tensors print (as ``torch.set_printoptions``).

    precision  digits after the point (default 4)
    threshold  element count above which a tensor is summarized with ``...`` (default 1000)
    edgeitems  entries kept at each end of every summarized dim (default 3)
    linewidth  characters per line before wrapping (default 80)
    profile    'default', 'short' or 'full' sets the four above (others are ignored);
               explicit arguments override it
    sci_mode   True/False forces scientific notation on/off; None (also what every call
               without it sets) chooses automatically
    """
    if profile in _PROFILES:
        _OPTIONS.update(_PROFILES[profile])
    for name, value in (('precision', precision), ('threshold', threshold),
                        ('edgeitems', edgeitems), ('linewidth', linewidth)):
        if value is not None:
            _OPTIONS[name] = value
    _OPTIONS['sci_mode'] = sci_mode


def get_printoptions():
    """The current print options: {'precision', 'threshold', 'edgeitems', 'linewidth',
    'sci_mode'}."""
    return dict(_OPTIONS)


@contextmanager
def printoptions(**kwargs):
    """``with printoptions(precision=2): ...`` sets options and restores the old ones."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        _OPTIONS.clear()
        _OPTIONS.update(old)


# ---- entry points ---------------------------------------------------------------------

def tensor_repr(t):
    """The text of ``repr(t)`` / ``str(t)``."""
    return format_tensor(t)


def format_tensor(t, prefix='tensor(', suffixes=None):
    """``prefix`` + nested elements + suffixes + ``')'``; continuation lines are indented by
    ``len(prefix)``. ``suffixes`` defaults to ``tensor_suffixes(t)``."""
    if suffixes is None:
        suffixes = tensor_suffixes(t)
    indent = len(prefix)
    return _add_suffixes(prefix + _body(t._data, indent), suffixes, indent)


def tensor_suffixes(t):
    """The ``name=value`` parts printed after the elements, in PyTorch's order."""
    a = t._data
    out = []
    device = _device_name(a)
    if device is not None:
        out.append(f"device='{device}'")
    dtype = _dtype._FROM_NP[a.dtype]
    default = _dtype.get_default_dtype()
    if a.size == 0:
        if a.ndim != 1:
            out.append(f'size={tuple(a.shape)}')
        if dtype is not default:
            out.append(f'dtype={dtype}')
    else:
        if _OPTIONS['edgeitems'] == 0:
            out.append(f'size={tuple(a.shape)}')
        if dtype is not default and dtype is not _dtype.int64 and dtype is not _dtype.bool:
            out.append(f'dtype={dtype}')
    fn = t._fn
    if fn is not None:
        out.append(f"grad_fn=<{fn.name().rsplit('::', 1)[-1]}>")
    elif t._rg:
        out.append('requires_grad=True')
    return out


def _device_name(a):
    """'cuda:0' (etc.) for a device array, None for a host array."""
    return None if a.__class__ is np.ndarray else str(device_of(a))


def _add_suffixes(text, suffixes, indent):
    """``text, s1, s2)``: a suffix starts a new line (indented) when the current line, counted
    as its length plus 2, plus the suffix and its ', ' would pass ``linewidth``."""
    linewidth = _OPTIONS['linewidth']
    parts = [text]
    used = len(text) - text.rfind('\n') + 1
    for s in suffixes:
        if used + len(s) + 2 > linewidth:
            parts.append(',\n' + ' ' * indent + s)
            used = indent + len(s)
        else:
            parts.append(', ' + s)
            used += len(s) + 2
    parts.append(')')
    return ''.join(parts)


# ---- elements -----------------------------------------------------------------------

def _body(a, indent):
    """The bracketed elements of array ``a`` (any device), ``[]`` when empty, ``[...]`` when
    summarized with edgeitems 0."""
    if a.size == 0:
        return '[]'
    summarize = a.size > _OPTIONS['threshold']
    edge = _OPTIONS['edgeitems']
    if summarize and edge == 0:
        return '[...]'
    kept, elided = _kept_part(a, edge if summarize else None)
    cells, width = _cells(kept)
    if kept.ndim == 0:
        return cells[0]
    return _block(cells, 0, kept.shape, elided, indent, width)


def _kept_part(a, edge):
    """(host array of the entries shown, tuple of per-dim flags 'this dim was cut').

    With ``edge`` None every entry is kept; otherwise a dim longer than ``2 * edge`` keeps
    its first and last ``edge`` entries. Cutting happens before the one copy to the host."""
    elided = []
    if edge is not None:
        xp = xp_of(a)
        for d, n in enumerate(a.shape):
            cut = n > 2 * edge
            elided.append(cut)
            if cut:
                head = (slice(None),) * d + (slice(None, edge),)
                tail = (slice(None),) * d + (slice(n - edge, None),)
                a = xp.concatenate((a[head], a[tail]), axis=d)
    else:
        elided = [False] * a.ndim
    if a.__class__ is not np.ndarray:
        a = a.get()
    return a, tuple(elided)


def _cells(a):
    """(flat list of right-aligned strings for array ``a`` in C order, format width)."""
    if a.dtype.kind != 'f':
        strs = list(map(str, a.ravel().tolist()))
        width = max(map(len, strs))
        return [s.rjust(width) for s in strs], width
    v = a.ravel().astype(np.float64)
    measured = np.isfinite(v) & (v != 0)
    fmt = _float_mode(v[measured])
    strs = list(map(fmt, v.tolist()))
    width = max((len(s) for s, m in zip(strs, measured.tolist()) if m), default=1)
    return [s.rjust(width) for s in strs], width


def _float_mode(finite):
    """A float -> str function for values whose finite nonzero part is ``finite`` (float64).

    Int mode when all of them are whole numbers; scientific when the largest |value| is over
    1e8 or over 1000 times the smallest, or (for non-whole values) the smallest is below
    1e-4; ``sci_mode`` overrides the automatic choice when there is at least one such value.
    """
    precision = _OPTIONS['precision']
    if finite.size == 0:
        return _int_str
    mags = np.abs(finite)
    lo, hi = mags.min(), mags.max()
    whole = bool((finite == np.ceil(finite)).all())
    sci = hi / lo > 1000.0 or hi > 1.0e8 or (not whole and lo < 1.0e-4)
    if _OPTIONS['sci_mode'] is not None:
        sci = _OPTIONS['sci_mode']
    if sci:
        return f'{{:.{precision}e}}'.format
    if whole:
        return _int_str
    return f'{{:.{precision}f}}'.format


def _int_str(x):
    """'3.' for whole floats; 'nan', 'inf', '-inf' as they are."""
    s = f'{x:.0f}'
    return s + '.' if math.isfinite(x) else s


def _block(cells, start, shape, elided, indent, width):
    """Bracketed text of the kept sub-array of ``shape`` whose cells begin at ``start``."""
    n = shape[0]
    if len(shape) == 1:
        return _row(cells[start:start + n], elided[0], indent, width)
    step = math.prod(shape[1:])
    parts = [_block(cells, start + i * step, shape[1:], elided[1:], indent + 1, width)
             for i in range(n)]
    if elided[0]:
        parts.insert(n // 2, '...')
    sep = ',' + '\n' * (len(shape) - 1) + ' ' * (indent + 1)
    return '[' + sep.join(parts) + ']'


def _row(items, elided, indent, width):
    """``[a, b, c,\\n d]``: as many cells per line as fit in ``linewidth - indent`` at
    ``width + 2`` characters each (at least one); ``' ...'`` counts as a cell."""
    if elided:
        half = len(items) // 2
        items = items[:half] + [' ...'] + items[half:]
    per_line = max(1, int((_OPTIONS["linewidth"] - indent) // (width + 2)))
    lines = [', '.join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return '[' + (',\n' + ' ' * (indent + 1)).join(lines) + ']'
