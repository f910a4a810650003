"""``ember.summary``: a table of a model's layers, output shapes and parameter counts.

PyTorch has no built-in model summary; this one is in the spirit of torchinfo::

    >>> model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    >>> ember.summary(model, input_size=(2, 10))
    ==========================================================================================
    Layer (name: type)                      Output Shape             Param #
    ==========================================================================================
    Sequential                              [2, 5]                   --
    ├─ 0: Linear                            [2, 20]                  220
    ├─ 1: ReLU                              [2, 20]                  --
    └─ 2: Linear                            [2, 5]                   105
    ==========================================================================================
    Total params: 325
    Trainable params: 325
    Non-trainable params: 0
    ==========================================================================================
    Input size (MB): 0.00
    Forward/backward pass size (MB): 0.00
    Params size (MB): 0.00
    Estimated Total Size (MB): 0.00
    ==========================================================================================

A row per module call, in call order, nested by the module's place in the model (containers
never called themselves, such as ``ModuleList``, appear before their first called child;
modules never called come last among their siblings). A parameter is counted in the first
row that uses it: a module called again, or a weight tied to another module's, shows
``(shared)``.
"""
from .._tensor import Tensor
from .._creation import zeros
from .. import _dtype
from ..autograd.grad_mode import no_grad

__all__ = ['summary', 'ModelSummary', 'LayerInfo']

_COLUMNS = {'input_size': 'Input Shape', 'output_size': 'Output Shape', 'num_params': 'Param #',
            'params_percent': 'Param %', 'trainable': 'Trainable'}
_MB = 1e6


def summary(model, input_size=None, input_data=None, batch_dim=None, dtypes=None, device=None,
            depth=3, col_names=('output_size', 'num_params'), col_width=25, mode='eval',
            verbose=1, **kwargs):
    """Summarise ``model``: one row per module call, then parameter and memory totals.

    One forward pass runs without gradients, with hooks on every submodule, on zeros of
    ``input_size`` or on ``input_data``; with neither, no forward runs and the table lists
    the modules with their parameters only.

    Args:
        model: the ``nn.Module``.
        input_size: shape of the one input (e.g. ``(2, 10)``), or a list of shapes for
            several positional inputs; with ``batch_dim`` the shapes leave out the batch
            dimension and a batch of 1 is inserted at that position.
        input_data: a tensor, a list/tuple of positional inputs, or a dict of keyword inputs.
        dtypes: one dtype per ``input_size`` entry (default: the default float dtype).
        device: where the inputs are made/moved (default: the model's first parameter's).
        depth: deepest nesting level shown (the model is level 0); parameters of hidden
            submodules are counted in their shown ancestor's row.
        col_names: columns among 'input_size', 'output_size', 'num_params',
            'params_percent', 'trainable'.
        col_width: minimum width of each column.
        mode: 'eval' (default: no batch-norm statistics change, no dropout), 'train', or
            'same'; the modules' training flags are restored afterwards.
        verbose: 1 prints the table, 0 only returns it.
        kwargs: extra keyword arguments for ``model.forward``.

    Returns a ``ModelSummary``: ``str()`` is the table; ``total_params``,
    ``trainable_params``, ``non_trainable_params`` count each parameter once (shared ones
    too, in the row that first uses them); ``input_bytes``, ``forward_backward_bytes``
    (outputs of the leaf modules plus their gradients), ``param_bytes`` (parameters and
    buffers) and ``total_bytes`` estimate memory (shown in MB, 10**6 bytes).
    """
    unknown = [c for c in col_names if c not in _COLUMNS]
    if unknown:
        raise ValueError(f'unknown column {unknown[0]!r}; choose from {list(_COLUMNS)}')
    if mode not in ('eval', 'train', 'same'):
        raise ValueError(f"mode must be 'eval', 'train' or 'same', got {mode!r}")
    if verbose not in (0, 1):
        raise ValueError(f'verbose must be 0 or 1, got {verbose!r}')
    if not isinstance(depth, int) or depth < 0:
        raise ValueError(f'depth must be a non-negative int, got {depth!r}')
    if device is None:
        device = next((p.device for p in model.parameters()), None)
    inputs = None
    if input_data is not None:
        inputs = _move(input_data, device)
    elif input_size is not None:
        inputs = _zeros_for(input_size, batch_dim, dtypes, device)
    rows = _trace(model, inputs, kwargs, mode)
    result = ModelSummary(model, rows, inputs, depth, tuple(col_names), col_width)
    if verbose:
        print(result)
    return result


class LayerInfo:
    """One row of the summary: a module call (or a module that was not called)."""
    __slots__ = ('module', 'name', 'depth', 'called', 'input_shape', 'output_shape',
                 'output_bytes', 'new_params', 'all_params')

    def __init__(self, module, name, called):
        self.module = module
        self.name = name
        self.depth = name.count('.') + 1 if name else 0
        self.called = called
        self.input_shape = self.output_shape = None
        self.output_bytes = 0
        self.new_params = []   # parameters first counted in this row
        self.all_params = []   # every parameter this row stands for

    @property
    def type_name(self):
        return type(self.module).__name__

    @property
    def num_params(self):
        return sum(p.numel() for p in self.new_params)


class ModelSummary:
    """The result of ``ember.summary``: ``str()`` gives the table, attributes the numbers."""

    def __init__(self, model, rows, inputs, depth, col_names, col_width):
        self.model = model
        self.depth = depth
        self.col_names = col_names
        self.col_width = col_width
        params = list(model.parameters())
        self.total_params = sum(p.numel() for p in params)
        self.trainable_params = sum(p.numel() for p in params if p.requires_grad)
        self.non_trainable_params = self.total_params - self.trainable_params
        self.input_bytes = _nbytes(inputs)
        self.forward_backward_bytes = 2 * sum(r.output_bytes for r in rows
                                              if r.called and not r.module._modules)
        self.param_bytes = sum(t.nbytes for t in params) + sum(b.nbytes for b in model.buffers())
        self.total_bytes = self.input_bytes + self.forward_backward_bytes + self.param_bytes
        self.summary_list = _count_and_fold(rows, depth)

    def _cells(self, row):
        cells = []
        for c in self.col_names:
            if c == 'input_size':
                cells.append(_shape_text(row.input_shape))
            elif c == 'output_size':
                cells.append(_shape_text(row.output_shape))
            elif c == 'num_params':
                n = row.num_params
                cells.append(f'{n:,}' if n else ('(shared)' if row.all_params else '--'))
            elif c == 'params_percent':
                n = row.num_params
                cells.append(f'{100 * n / self.total_params:.2f}%' if n else '--')
            else:
                cells.append(_trainable_text(row.all_params))
        return cells

    def __str__(self):
        rows = self.summary_list
        labels = _tree_labels(rows)
        body = [[label] + self._cells(r) for label, r in zip(labels, rows)]
        header = ['Layer (name: type)'] + [_COLUMNS[c] for c in self.col_names]
        widths = [max(40, max(len(line[0]) for line in body + [header]) + 1)]
        for j in range(1, len(header)):
            widths.append(max(self.col_width, max(len(line[j]) for line in body + [header]) + 1))
        width = sum(widths)
        rule = '=' * width

        def fmt(cells):
            return ''.join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

        lines = [rule, fmt(header), rule] + [fmt(line) for line in body] + [
            rule,
            f'Total params: {self.total_params:,}',
            f'Trainable params: {self.trainable_params:,}',
            f'Non-trainable params: {self.non_trainable_params:,}',
            rule,
            f'Input size (MB): {self.input_bytes / _MB:.2f}',
            f'Forward/backward pass size (MB): {self.forward_backward_bytes / _MB:.2f}',
            f'Params size (MB): {self.param_bytes / _MB:.2f}',
            f'Estimated Total Size (MB): {self.total_bytes / _MB:.2f}',
            rule]
        return '\n'.join(lines)

    __repr__ = __str__


# ---- running the model -------------------------------------------------------------------
def _trace(model, inputs, kwargs, mode):
    """The rows of ``model``: one per module call in call order (uncalled containers just
    before their first called descendant), then modules never called, each after its
    parent's rows."""
    names = {}
    for name, m in model.named_modules():
        names.setdefault(id(m), name)
    modules = {name: m for name, m in model.named_modules()}
    rows, has_row, stack = [], set(), []

    def add_row(module, name, called):
        row = LayerInfo(module, name, called)
        rows.append(row)
        has_row.add(name)
        return row

    def pre_hook(module, args):
        name = names[id(module)]
        parts = name.split('.') if name else []
        for k in range(len(parts)):
            ancestor = '.'.join(parts[:k])
            if ancestor not in has_row:
                add_row(modules[ancestor], ancestor, False)
        row = add_row(module, name, True)
        row.input_shape = _shapes(args)
        stack.append(row)

    def hook(module, args, output):
        row = stack.pop()
        row.output_shape = _shapes(output)
        row.output_bytes = _nbytes(output)

    if inputs is not None:
        _run(model, inputs, kwargs, mode, pre_hook, hook, rows)
    for name, m in model.named_modules():
        if name not in has_row:
            _insert_after_parent(rows, LayerInfo(m, name, False))
            has_row.add(name)
    return rows


def _run(model, inputs, kwargs, mode, pre_hook, hook, rows):
    """One forward pass under no_grad with the hooks on every module."""
    modules = [m for _, m in model.named_modules()]
    training = [m.training for m in modules]
    handles = []
    try:
        for m in modules:
            handles.append(m.register_forward_pre_hook(pre_hook))
            handles.append(m.register_forward_hook(hook))
        if mode != 'same':
            model.train(mode == 'train')
        args, kw = inputs
        with no_grad():
            try:
                model(*args, **kw, **kwargs)
            except Exception as e:
                done = [r.name or type(r.module).__name__ for r in rows if r.called]
                raise RuntimeError(f'ember.summary: the forward pass failed ({type(e).__name__}: '
                                   f'{e}); layers entered: {done}') from e
    finally:
        for h in handles:
            h.remove()
        for m, t in zip(modules, training):
            m.training = t


def _insert_after_parent(rows, row):
    """Insert ``row`` after the last row of its parent's subtree."""
    parent = row.name.rpartition('.')[0]
    at = len(rows)
    for i, r in enumerate(rows):
        if parent == '' or r.name == parent or r.name.startswith(parent + '.'):
            at = i + 1
    rows.insert(at, row)


def _zeros_for(input_size, batch_dim, dtypes, device):
    """(args, kwargs) of zero tensors for ``input_size`` (one shape or a list of shapes)."""
    sizes = [input_size] if _is_shape(input_size) else list(input_size)
    if not all(_is_shape(s) for s in sizes):
        raise ValueError(f'input_size must be a shape or a list of shapes, got {input_size!r}')
    if dtypes is None:
        dtypes = [_dtype.get_default_dtype()] * len(sizes)
    if len(dtypes) != len(sizes):
        raise ValueError(f'got {len(dtypes)} dtypes for {len(sizes)} inputs')
    args = []
    for size, dt in zip(sizes, dtypes):
        size = list(size)
        if batch_dim is not None:
            size.insert(batch_dim if batch_dim >= 0 else len(size) + batch_dim + 1, 1)
        args.append(zeros(size, dtype=dt, device=device))
    return tuple(args), {}


def _is_shape(s):
    return isinstance(s, (tuple, list)) and all(isinstance(n, int) and not isinstance(n, bool)
                                                for n in s)


def _move(data, device):
    """(args, kwargs) from ``input_data``, tensors moved to ``device`` when given."""
    def move(x):
        if isinstance(x, Tensor):
            return x if device is None else x.to(device)
        if isinstance(x, (list, tuple)):
            return type(x)(move(v) for v in x)
        if isinstance(x, dict):
            return {k: move(v) for k, v in x.items()}
        return x

    if isinstance(data, dict):
        return (), move(data)
    if isinstance(data, (list, tuple)):
        return tuple(move(v) for v in data), {}
    return (move(data),), {}


# ---- measuring -----------------------------------------------------------------------------
def _tensors(x, out):
    if isinstance(x, Tensor):
        out.append(x)
    elif isinstance(x, (list, tuple)):
        for v in x:
            _tensors(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            _tensors(v, out)
    return out


def _nbytes(x):
    """Bytes of the distinct tensors inside ``x`` (nested lists/tuples/dicts)."""
    seen = {id(t): t for t in _tensors(x, [])}
    return sum(t.nbytes for t in seen.values())


def _shapes(x):
    """The shape (list of ints) of a tensor, a list of shapes for a sequence, else None."""
    if isinstance(x, Tensor):
        return list(x.shape)
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, (list, tuple)):
        shapes = [s for s in map(_shapes, x) if s is not None]
        if len(shapes) == 1 and isinstance(x, tuple) and len(x) == 1:
            return shapes[0]
        return shapes or None
    return None


def _shape_text(shape):
    return '--' if shape is None else str(shape)


def _trainable_text(params):
    if not params:
        return '--'
    flags = {p.requires_grad for p in params}
    return 'Partial' if len(flags) == 2 else str(flags.pop())


# ---- counting and folding ------------------------------------------------------------------
def _count_and_fold(rows, depth):
    """Give each row the parameters it first uses; fold rows deeper than ``depth`` into
    their nearest shown ancestor. Returns the rows to show."""
    seen = set()
    for row in rows:
        own = [p for p in row.module._parameters.values() if p is not None]
        row.all_params = own
        row.new_params = [p for p in own if id(p) not in seen]
        seen.update(id(p) for p in own)
    shown = []
    for row in rows:
        if row.depth <= depth:
            shown.append(row)
            continue
        host = _shown_ancestor(shown, row.name)
        if host is not None:
            host.new_params = host.new_params + row.new_params
            host.all_params = host.all_params + row.all_params
    return shown


def _shown_ancestor(shown, name):
    for r in reversed(shown):
        if r.name == '' or name.startswith(r.name + '.'):
            return r
    return None


def _tree_labels(rows):
    """'name: Type' labels with tree branches (the root row shows only its type)."""
    last = [True] * len(rows)
    for i, r in enumerate(rows):
        for j in range(i + 1, len(rows)):
            if rows[j].depth < r.depth:
                break
            if rows[j].depth == r.depth:
                last[i] = False
                break
    labels, open_levels = [], {}
    for i, r in enumerate(rows):
        if r.depth == 0:
            labels.append(r.type_name)
            continue
        prefix = ''.join('   ' if open_levels.get(k, True) else '│  ' for k in range(1, r.depth))
        branch = '└─ ' if last[i] else '├─ '
        open_levels[r.depth] = last[i]
        labels.append(f'{prefix}{branch}{r.name.rpartition(".")[2]}: {r.type_name}')
    return labels

