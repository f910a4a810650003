"""Named tuples returned by ops with several outputs, as ``torch.return_types``.

``values, indices = x.max(1)`` unpacks like a tuple; ``x.max(1).values`` names a field; the
repr is PyTorch's with ``ember.`` for ``torch.``::

    ember.return_types.max(
    values=tensor([3., 2.]),
    indices=tensor([1, 0]))

A class is built from a sequence, as PyTorch's structseqs: ``ember.return_types.max((v, i))``.
"""

__all__ = ['aminmax', 'cummax', 'cummin', 'frexp', 'geqrf', 'histogram', 'histogramdd',
           'kthvalue', 'linalg_cholesky_ex', 'linalg_eig', 'linalg_eigh', 'linalg_inv_ex',
           'linalg_ldl_factor', 'linalg_ldl_factor_ex', 'linalg_lstsq', 'linalg_lu',
           'linalg_lu_factor', 'linalg_lu_factor_ex', 'linalg_qr', 'linalg_slogdet',
           'linalg_solve_ex', 'linalg_svd', 'lu_unpack', 'max', 'median', 'min', 'mode',
           'nanmedian', 'qr', 'slogdet', 'sort', 'svd', 'topk', 'triangular_solve',
           'all_return_types']


class _StructSeq(tuple):
    """A tuple whose items also have names (``_fields``); subclasses set the names."""
    __slots__ = ()
    _fields = ()
    n_fields = n_sequence_fields = 0

    def __new__(cls, sequence):
        if isinstance(sequence, (str, bytes)) or not hasattr(sequence, '__iter__'):
            raise TypeError('constructor requires a sequence')
        items = tuple(sequence)
        n = len(cls._fields)
        if len(items) != n:
            raise TypeError(f'ember.return_types.{cls.__name__}() takes a {n}-sequence '
                            f'({len(items)}-sequence given)')
        return tuple.__new__(cls, items)

    n_unnamed_fields = 0

    def __repr__(self):
        body = ',\n'.join(f'{name}={value!r}' for name, value in zip(self._fields, self))
        return f'ember.return_types.{type(self).__name__}(\n{body})'

    def __reduce__(self):
        return (type(self), (tuple(self),))


def _field(i):
    return property(lambda self: tuple.__getitem__(self, i))


def _make(name, fields):
    attrs = {'__slots__': (), '_fields': fields, '__module__': __name__,
             'n_fields': len(fields), 'n_sequence_fields': len(fields)}
    for i, f in enumerate(fields):
        attrs[f] = _field(i)
    return type(name, (_StructSeq,), attrs)


_VI = ('values', 'indices')
max = _make('max', _VI)
min = _make('min', _VI)
sort = _make('sort', _VI)
topk = _make('topk', _VI)
kthvalue = _make('kthvalue', _VI)
median = _make('median', _VI)
nanmedian = _make('nanmedian', _VI)
mode = _make('mode', _VI)
cummax = _make('cummax', _VI)
cummin = _make('cummin', _VI)
aminmax = _make('aminmax', ('min', 'max'))
frexp = _make('frexp', ('mantissa', 'exponent'))
geqrf = _make('geqrf', ('a', 'tau'))
histogram = _make('histogram', ('hist', 'bin_edges'))
histogramdd = _make('histogramdd', ('hist', 'bin_edges'))
linalg_cholesky_ex = _make('linalg_cholesky_ex', ('L', 'info'))
linalg_eig = _make('linalg_eig', ('eigenvalues', 'eigenvectors'))
linalg_eigh = _make('linalg_eigh', ('eigenvalues', 'eigenvectors'))
linalg_inv_ex = _make('linalg_inv_ex', ('inverse', 'info'))
linalg_ldl_factor = _make('linalg_ldl_factor', ('LD', 'pivots'))
linalg_ldl_factor_ex = _make('linalg_ldl_factor_ex', ('LD', 'pivots', 'info'))
linalg_lstsq = _make('linalg_lstsq', ('solution', 'residuals', 'rank', 'singular_values'))
linalg_lu = _make('linalg_lu', ('P', 'L', 'U'))
linalg_lu_factor = _make('linalg_lu_factor', ('LU', 'pivots'))
linalg_lu_factor_ex = _make('linalg_lu_factor_ex', ('LU', 'pivots', 'info'))
linalg_qr = _make('linalg_qr', ('Q', 'R'))
linalg_slogdet = _make('linalg_slogdet', ('sign', 'logabsdet'))
linalg_solve_ex = _make('linalg_solve_ex', ('result', 'info'))
linalg_svd = _make('linalg_svd', ('U', 'S', 'Vh'))
lu_unpack = _make('lu_unpack', ('P', 'L', 'U'))
qr = _make('qr', ('Q', 'R'))
slogdet = _make('slogdet', ('sign', 'logabsdet'))
svd = _make('svd', ('U', 'S', 'V'))
triangular_solve = _make('triangular_solve', ('solution', 'cloned_coefficient'))

all_return_types = [globals()[n] for n in __all__ if n != 'all_return_types']
