"""ember.utils.data against torch.utils.data: collation (structure, dtypes, errors), datasets,
random_split, samplers, DataLoader options and their errors, reproducibility with seeds, and
loading with worker processes (order, seeding, errors, IterableDataset sharding, persistent
workers, timeouts, shutdown)."""
import collections
import faulthandler
import math
import os
import random
import time
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ember
import ember.utils.data as edata
from ember.utils.data._utils.collate import collate, default_collate_fn_map

Point = collections.namedtuple('Point', 'x y')


@pytest.fixture(autouse=True)
def _no_hang():
    """A hung test dumps its stack and ends the run instead of blocking forever."""
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def py(x):
    """A comparable Python structure of an ember or torch batch: tensors become
    ('T', dtype, shape, values); containers keep their kind (namedtuples by name)."""
    if isinstance(x, (ember.Tensor, torch.Tensor)):
        return ('T', str(x.dtype).split('.')[-1], tuple(x.shape), x.tolist())
    if isinstance(x, tuple) and hasattr(x, '_fields'):
        return (type(x).__name__, tuple(py(v) for v in x))
    if isinstance(x, (list, tuple, collections.deque)):
        return (type(x).__name__, [py(v) for v in x])
    if isinstance(x, collections.abc.Mapping):
        return (type(x).__name__, {k: py(v) for k, v in x.items()})
    if isinstance(x, np.ndarray):
        return ('ndarray', x.dtype.str, x.tolist())
    return x


def same_error(fe, ft, cls=Exception):
    """ember raises the exception class and message (with 'torch' for 'ember') torch raises."""
    with pytest.raises(cls) as te:
        ft()
    with pytest.raises(cls) as ee:
        fe()
    assert type(ee.value) is type(te.value), (type(ee.value), type(te.value))
    assert str(ee.value).replace('ember', 'torch') == str(te.value)


# ---- collation ------------------------------------------------------------------------------
def _samples(lib):
    """Batches for default_collate; ``lib`` (ember or torch) makes the tensors."""
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    return {
        'tensors': [lib.zeros(2, 3), lib.ones(2, 3)],
        'int_tensors': [lib.tensor([1, 2]), lib.tensor([3, 4])],
        'scalar_tensors': [lib.tensor(1.5), lib.tensor(2.5)],
        'noncontig': [lib.from_numpy(a).t(), lib.from_numpy(a + 1).t()],
        'mixed_dtype_tensors': [lib.tensor([1.0]), lib.tensor([2.0], dtype=lib.float64)],
        'ints': [1, 2, 3],
        'floats': [1.0, 2.5],
        'float_then_int': [1.0, 2],
        'int_then_float': [1, 2.5],
        'bools': [True, False],
        'bool_then_int': [True, 2],
        'strings': ['a', 'bc'],
        'bytes': [b'a', b'b'],
        'np_arrays': [a, a * 2],
        'np_float64': [np.zeros((2,)), np.ones((2,))],
        'np_int32': [np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int32)],
        'np_uint8_0d': [np.array(3, np.uint8), np.array(4, np.uint8)],
        'np_bool': [np.array([True]), np.array([False])],
        'np_mixed': [np.zeros(2, np.float32), np.ones(2, np.float64)],
        'np_scalars_f32': [np.float32(1), np.float32(2)],
        'np_scalars_i64': [np.int64(1), np.int64(2)],
        'np_scalars_mixed': [np.int64(1), np.float32(2)],
        'np_scalars_bool': [np.bool_(True), np.bool_(False)],
        'np_scalar_then_float': [np.float32(1), 2.0],
        'np_scalar_then_int': [np.int32(1), 2],
        'np_scalars_small_ints': [np.uint8(1), np.int8(2)],
        'np_array_then_list': [np.zeros(2), [1.0, 2.0]],
        'tuples': [(lib.zeros(2), 1, 'a'), (lib.ones(2), 2, 'b')],
        'lists': [[1, 2.0], [3, 4.0]],
        'nested': [[(1, [2.0])], [(3, [4.0])]],
        'dicts': [{'x': lib.zeros(1), 'y': 1, 'z': {'w': 'p'}},
                  {'x': lib.ones(1), 'y': 2, 'z': {'w': 'q'}}],
        'ordered_dicts': [collections.OrderedDict(a=1, b=2.0), collections.OrderedDict(a=3, b=4.0)],
        'namedtuples': [Point(1, 2.0), Point(3, 4.0)],
        'namedtuple_tensors': [Point(lib.zeros(2), np.ones(2)), Point(lib.ones(2), np.zeros(2))],
        'ranges': [range(2), range(2)],
        'deque': [collections.deque([1, 2]), collections.deque([3, 4])],
        'single': [lib.arange(3)],
        'empty_tuples': [(), ()],
    }


@pytest.mark.parametrize('case', sorted(_samples(torch)))
def test_default_collate_matches_torch(case):
    got = edata.default_collate(_samples(ember)[case])
    want = tdata.default_collate(_samples(torch)[case])
    assert py(got) == py(want)


def test_default_collate_values_and_types():
    batch = edata.default_collate([(ember.zeros(3), 1), (ember.ones(3), 0)])
    assert isinstance(batch, list) and isinstance(batch[0], ember.Tensor)
    assert batch[0].shape == (2, 3) and batch[1].dtype == ember.int64
    assert edata.default_collate([1.0, 2.0]).dtype == ember.float64
    assert edata.default_collate([np.float32(1)]).dtype == ember.float32
    t = edata.default_collate([ember.ones(2, requires_grad=True), ember.zeros(2)])
    assert t.requires_grad and t.grad_fn.name() == 'StackBackward0'


@pytest.mark.parametrize('batch', [
    lambda lib: [None, None],
    lambda lib: [object()],
    lambda lib: [1 + 2j, 2j],
    lambda lib: [np.array(['a']), np.array(['b'])],
    lambda lib: [np.array([1, 2], dtype=object)],
    lambda lib: [[1, 2], [3]],
    lambda lib: [(1, 2), (3,)],
    lambda lib: [lib.zeros(2), lib.zeros(3)],
    lambda lib: [{'a': 1}, {'b': 2}],
    lambda lib: [],
    lambda lib: [{'a': None}, {'a': None}],
    lambda lib: [Point(None, 1), Point(None, 2)],
])
def test_default_collate_errors_match_torch(batch):
    same_error(lambda: edata.default_collate(batch(ember)),
               lambda: tdata.default_collate(batch(torch)))


def test_collate_with_custom_map():
    def collate_str(batch, *, collate_fn_map=None):
        return '|'.join(batch)

    def collate_tensor(batch, *, collate_fn_map=None):
        return ember.cat(batch)
    custom = {**default_collate_fn_map, str: collate_str, ember.Tensor: collate_tensor}
    out = collate([('a', ember.ones(2), np.zeros(1)), ('b', ember.zeros(2), np.ones(1))],
                  collate_fn_map=custom)
    assert out[0] == 'a|b'
    assert out[1].tolist() == [1, 1, 0, 0]
    assert out[2].tolist() == [0.0, 1.0]           # NumPy arrays go through the tensor entry
    with pytest.raises(TypeError, match='found <class \'int\'>'):
        collate([1, 2], collate_fn_map={str: collate_str})


@pytest.mark.parametrize('case', [
    lambda lib: [1, 2],
    lambda lib: (np.zeros(2), np.float32(1), 'a', np.str_('x')),
    lambda lib: Point(np.zeros(1), 2),
    lambda lib: {'a': np.zeros(1), 'b': [np.int16(3)]},
    lambda lib: np.array(['a']),
    lambda lib: np.int64(3),
    lambda lib: np.arange(4, dtype=np.int32).reshape(2, 2),
    lambda lib: lib.ones(2),
    lambda lib: 'text',
    lambda lib: 3.5,
    lambda lib: range(3),
])
def test_default_convert_matches_torch(case):
    assert py(edata.default_convert(case(ember))) == py(tdata.default_convert(case(torch)))


# ---- datasets -------------------------------------------------------------------------------
def test_tensor_dataset():
    x, y = ember.arange(12.).reshape(4, 3), ember.tensor([0, 1, 0, 1])
    ds = edata.TensorDataset(x, y)
    assert len(ds) == 4 and ds.tensors == (x, y)
    xi, yi = ds[2]
    assert xi.tolist() == [6., 7., 8.] and yi.item() == 0
    assert ds[-1][1].item() == 1
    assert [t.tolist() for t in ds[1:3]] == [[[3., 4., 5.], [6., 7., 8.]], [1, 0]]
    same_error(lambda: edata.TensorDataset(ember.zeros(3), ember.zeros(4)),
               lambda: tdata.TensorDataset(torch.zeros(3), torch.zeros(4)), AssertionError)
    assert isinstance(ds, edata.Dataset)


class Squares(edata.Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i

    def __len__(self):
        return self.n


class Count(edata.IterableDataset):
    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self):
        return self.stop - self.start


class TCount(tdata.IterableDataset):
    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))


def test_concat_dataset():
    a, b = Squares(3), edata.TensorDataset(ember.arange(10, 14))
    cat = edata.ConcatDataset([a, b])
    assert len(cat) == 7 and cat.cumulative_sizes == [3, 7]
    assert [cat[i] if i < 3 else cat[i][0].item() for i in range(7)] == [0, 1, 4, 10, 11, 12, 13]
    assert cat[-7] == 0 and cat[-1][0].item() == 13
    assert isinstance(a + b, edata.ConcatDataset) and len(a + b + a) == 10
    assert edata.ConcatDataset.cumsum([a, a]) == [3, 6]
    with pytest.warns(FutureWarning, match='renamed'):
        assert cat.cummulative_sizes == [3, 7]
    tcat = tdata.ConcatDataset([list(range(3)), list(range(4))])
    ecat = edata.ConcatDataset([list(range(3)), list(range(4))])
    for bad in (-8, 7):
        same_error(lambda: ecat[bad], lambda: tcat[bad])
    same_error(lambda: edata.ConcatDataset([]), lambda: tdata.ConcatDataset([]), AssertionError)
    same_error(lambda: edata.ConcatDataset([Count(0, 2)]),
               lambda: tdata.ConcatDataset([TCount(0, 2)]), AssertionError)
    same_error(lambda: a + Count(0, 2), lambda: tdata.TensorDataset(torch.zeros(2)) + TCount(0, 2),
               AssertionError)


def test_chain_dataset_and_iterable_add():
    chain = Count(0, 3) + Count(10, 12)
    assert isinstance(chain, edata.ChainDataset)
    assert list(chain) == [0, 1, 2, 10, 11] and len(chain) == 5
    assert list(chain + Count(5, 6)) == [0, 1, 2, 10, 11, 5]
    same_error(lambda: list(edata.ChainDataset([Squares(2)])),
               lambda: list(tdata.ChainDataset([tdata.TensorDataset(torch.zeros(2))])),
               AssertionError)
    same_error(lambda: len(edata.ChainDataset([iter([])])),
               lambda: len(tdata.ChainDataset([iter([])])), AssertionError)


def test_abstract_datasets():
    same_error(lambda: edata.Dataset()[0], lambda: tdata.Dataset()[0], NotImplementedError)
    with pytest.raises(TypeError, match='no len'):
        len(edata.Dataset())
    with pytest.raises(TypeError, match="abstract"):
        edata.IterableDataset()
    assert edata.Dataset[int] is not None and edata.IterableDataset[int] is not None
    assert isinstance(Count(0, 1), edata.Dataset)
    assert not isinstance([1], edata.IterableDataset)


def test_subset():
    base = Squares(10)
    sub = edata.Subset(base, [7, 2, 5])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [49, 4, 25]
    assert sub.__getitems__([2, 0]) == [25, 49]
    tensors = edata.TensorDataset(ember.arange(10))
    tsub = edata.Subset(tensors, [3, 4, 9])
    assert tsub[[0, 2]][0].tolist() == [3, 9]            # a list index goes to the dataset
    nested = edata.Subset(edata.Subset(base, [9, 8, 7, 6]), [3, 1])
    assert nested.__getitems__([0, 1]) == [36, 64]
    same_error(lambda: edata.Subset(range(10), [1, 2])[[0, 1]],
               lambda: tdata.Subset(range(10), [1, 2])[[0, 1]])


def test_stack_dataset():
    a, b = edata.TensorDataset(ember.arange(3)), Squares(3)
    s = edata.StackDataset(a, b)
    assert len(s) == 3 and s[2][0][0].item() == 2 and s[2][1] == 4
    d = edata.StackDataset(x=a, y=b)
    assert d[1]['y'] == 1 and d.__getitems__([0, 2])[1]['y'] == 4
    assert [item[1] for item in s.__getitems__([2, 1])] == [4, 1]
    sub = edata.StackDataset(edata.Subset(b, [2, 1, 0]), b)
    assert sub.__getitems__([0]) == [(4, 0)]
    for args, kwargs in [((a, Squares(4)), {}), ((a,), {'x': b}), ((), {})]:
        same_error(lambda: edata.StackDataset(*args, **kwargs),
                   lambda: tdata.StackDataset(*[list(range(len(x))) for x in args],
                                              **{k: list(range(len(v))) for k, v in
                                                 kwargs.items()}), ValueError)
    loader = edata.DataLoader(d, batch_size=2)
    first = next(iter(loader))
    assert first['x'][0].tolist() == [0, 1] and first['y'].tolist() == [0, 1]


# ---- random_split ---------------------------------------------------------------------------
@pytest.mark.parametrize('n, lengths', [
    (10, [3, 7]), (10, [0.3, 0.3, 0.4]), (10, [0.33, 0.33, 0.34]), (11, [0.1, 0.1, 0.8]),
    (3, [0.1, 0.1, 0.8]), (7, [0.5, 0.5]), (100, [0.7, 0.2, 0.1]), (5, [1.0]), (0, [0, 0])])
def test_random_split_sizes_match_torch(n, lengths):
    with warnings.catch_warnings(record=True) as we:
        warnings.simplefilter('always')
        parts = edata.random_split(range(n), lengths)
    with warnings.catch_warnings(record=True) as wt:
        warnings.simplefilter('always')
        tparts = tdata.random_split(range(n), lengths)
    assert [len(p) for p in parts] == [len(p) for p in tparts]
    assert [str(w.message) for w in we] == [str(w.message) for w in wt]
    assert all(isinstance(p, edata.Subset) for p in parts)
    together = sorted(i for p in parts for i in p)
    assert together == list(range(n))


def test_random_split_reproducible():
    g1, g2 = ember.Generator().manual_seed(5), ember.Generator().manual_seed(5)
    a = [p.indices for p in edata.random_split(range(50), [0.5, 0.5], generator=g1)]
    b = [p.indices for p in edata.random_split(range(50), [25, 25], generator=g2)]
    assert a == b
    ember.manual_seed(3)
    c = [p.indices for p in edata.random_split(range(50), [10, 40])]
    ember.manual_seed(3)
    assert c == [p.indices for p in edata.random_split(range(50), [10, 40])]
    assert c != [p.indices for p in edata.random_split(range(50), [10, 40])]


@pytest.mark.parametrize('lengths', [[3, 3], [1.5, -0.5], [0.5, 0.6], [11], [0.2, 0.2]])
def test_random_split_errors(lengths):
    same_error(lambda: edata.random_split(range(10), lengths),
               lambda: tdata.random_split(range(10), lengths), ValueError)


# ---- samplers -------------------------------------------------------------------------------
def test_sequential_and_base_sampler():
    s = edata.SequentialSampler(range(5))
    assert list(s) == [0, 1, 2, 3, 4] and len(s) == 5 and s.data_source == range(5)
    assert list(edata.SequentialSampler([])) == []
    same_error(lambda: edata.Sampler([1]), lambda: tdata.Sampler([1]), TypeError)
    same_error(lambda: iter(edata.Sampler()), lambda: iter(tdata.Sampler()), NotImplementedError)
    same_error(lambda: len(edata.Sampler()), lambda: len(tdata.Sampler()), TypeError)


@pytest.mark.parametrize('n, num_samples', [(10, None), (10, 25), (10, 3), (1, None), (7, 7)])
def test_random_sampler_without_replacement(n, num_samples):
    s = edata.RandomSampler(range(n), num_samples=num_samples)
    out = list(s)
    total = n if num_samples is None else num_samples
    assert len(out) == total == len(s) == s.num_samples
    for start in range(0, total, n):           # every index once per full pass
        chunk = out[start:start + n]
        assert len(set(chunk)) == len(chunk) and all(0 <= i < n for i in chunk)


def test_random_sampler_with_replacement():
    s = edata.RandomSampler(range(4), replacement=True, num_samples=4000)
    out = np.array(list(s))
    assert len(out) == 4000 == len(s)
    assert set(out.tolist()) == {0, 1, 2, 3}
    assert np.abs(np.bincount(out) / 4000 - 0.25).max() < 0.03
    assert len(list(edata.RandomSampler(range(4), replacement=True))) == 4


def test_random_sampler_reproducible():
    g = ember.Generator().manual_seed(42)
    first = list(edata.RandomSampler(range(20), generator=g))
    second = list(edata.RandomSampler(range(20), generator=ember.Generator().manual_seed(42)))
    assert first == second
    ember.manual_seed(7)
    s = edata.RandomSampler(range(20))
    epoch1, epoch2 = list(s), list(s)
    assert epoch1 != epoch2 and sorted(epoch1) == sorted(epoch2) == list(range(20))
    ember.manual_seed(7)
    assert list(s) == epoch1 and list(s) == epoch2


@pytest.mark.parametrize('kwargs', [dict(replacement=1), dict(num_samples=0),
                                    dict(num_samples=2.0), dict(num_samples=-1)])
def test_random_sampler_errors(kwargs):
    same_error(lambda: edata.RandomSampler(range(5), **kwargs),
               lambda: tdata.RandomSampler(range(5), **kwargs))
    same_error(lambda: edata.RandomSampler([]), lambda: tdata.RandomSampler([]), ValueError)


def test_subset_random_sampler():
    s = edata.SubsetRandomSampler([5, 6, 7, 8], generator=ember.Generator().manual_seed(1))
    out = list(s)
    assert sorted(out) == [5, 6, 7, 8] and len(s) == 4
    ember.manual_seed(2)
    a = list(edata.SubsetRandomSampler(range(10, 30)))
    ember.manual_seed(2)
    assert list(edata.SubsetRandomSampler(range(10, 30))) == a


def test_weighted_random_sampler():
    w = [0.1, 0.0, 0.6, 0.3]
    s = edata.WeightedRandomSampler(w, 6000, generator=ember.Generator().manual_seed(0))
    out = np.array(list(s))
    assert len(out) == 6000 == len(s)
    assert np.abs(np.bincount(out, minlength=4) / 6000 - np.array(w)).max() < 0.03
    assert s.weights.dtype == ember.float64 and s.weights.tolist() == w
    no_rep = list(edata.WeightedRandomSampler([1, 2, 3, 4, 5], 5, replacement=False))
    assert sorted(no_rep) == [0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError, match='cannot sample n_sample > prob_dist'):
        list(edata.WeightedRandomSampler([1, 2], 5, replacement=False))
    ember.manual_seed(4)
    a = list(edata.WeightedRandomSampler(ember.tensor([1., 2., 3.]), 10))
    ember.manual_seed(4)
    assert list(edata.WeightedRandomSampler(np.array([1., 2., 3.]), 10)) == a


@pytest.mark.parametrize('args, kwargs', [(([1, 2], 0), {}), (([1, 2], 2.), {}),
                                          (([1, 2], True), {}), (([1, 2], 2), dict(replacement=1)),
                                          (([[1, 2]], 2), {})])
def test_weighted_random_sampler_errors(args, kwargs):
    same_error(lambda: edata.WeightedRandomSampler(*args, **kwargs),
               lambda: tdata.WeightedRandomSampler(*args, **kwargs), ValueError)


@pytest.mark.parametrize('n, size, drop', [(7, 3, False), (7, 3, True), (6, 3, True),
                                           (2, 5, False), (2, 5, True), (0, 2, False)])
def test_batch_sampler_matches_torch(n, size, drop):
    e = edata.BatchSampler(range(n), size, drop)
    t = tdata.BatchSampler(range(n), size, drop)
    assert list(e) == list(t) and len(e) == len(t)
    assert list(edata.BatchSampler(edata.SequentialSampler(range(n)), size, drop)) == list(t)


@pytest.mark.parametrize('args', [(range(3), 0, False), (range(3), 2, 1), (range(3), True, False),
                                  (range(3), 2.0, False), (range(3), -1, False)])
def test_batch_sampler_errors(args):
    same_error(lambda: edata.BatchSampler(*args), lambda: tdata.BatchSampler(*args), ValueError)


@pytest.mark.parametrize('n, replicas, drop', [(10, 3, False), (10, 3, True), (2, 5, False),
                                               (12, 4, False), (12, 4, True)])
def test_distributed_sampler(n, replicas, drop):
    from torch.utils.data.distributed import DistributedSampler as TDS
    from ember.utils.data import DistributedSampler as EDS
    shards = []
    for rank in range(replicas):
        e = EDS(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop)
        t = TDS(range(n), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop)
        assert list(e) == list(t) and len(e) == len(t) and e.total_size == t.total_size
        s = EDS(range(n), num_replicas=replicas, rank=rank, seed=3, drop_last=drop)
        s.set_epoch(1)
        shards.append(list(s))
        assert len(shards[-1]) == len(t)
    flat = sorted(i for shard in shards for i in shard)
    assert set(flat) <= set(range(n))
    if not drop:
        assert set(flat) == set(range(n))
    same_error(lambda: EDS(range(4), num_replicas=2, rank=2),
               lambda: TDS(range(4), num_replicas=2, rank=2), ValueError)
    with pytest.raises(RuntimeError, match='distributed'):
        EDS(range(4))


# ---- DataLoader in the main process ---------------------------------------------------------
def xy(n=10, lib=ember):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    y = np.arange(n) % 3
    return (lib.from_numpy(x), lib.from_numpy(y))


@pytest.mark.parametrize('kwargs', [
    dict(), dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=4),
    dict(batch_size=None), dict(batch_size=20), dict(batch_size=20, drop_last=True),
    dict(sampler=[9, 0, 4, 4]), dict(batch_size=2, sampler=range(9, -1, -2)),
    dict(batch_sampler=[[1, 2], [0], [9, 8, 7]]),
    dict(batch_size=3, collate_fn=lambda b: len(b)),
    dict(batch_size=None, collate_fn=lambda s: s[1]),
    dict(batch_size=2, pin_memory=True, timeout=0, pin_memory_device=''),
])
def test_dataloader_matches_torch(kwargs):
    e = edata.DataLoader(edata.TensorDataset(*xy()), **kwargs)
    t = tdata.DataLoader(tdata.TensorDataset(*xy(lib=torch)), **kwargs)
    assert [py(b) for b in e] == [py(b) for b in t]
    assert len(e) == len(t)
    it = iter(e)
    assert len(it) == len(t) and iter(it) is it


def test_dataloader_generic_dataset_and_structures():
    class Records(edata.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {'image': np.full((2, 2), i, np.float32), 'label': i, 'name': f'r{i}',
                    'point': Point(float(i), ember.tensor([i, i]))}
    batches = list(edata.DataLoader(Records(), batch_size=2))
    assert len(batches) == 3
    b = batches[0]
    assert b['image'].shape == (2, 2, 2) and b['image'].dtype == ember.float32
    assert b['label'].tolist() == [0, 1] and b['name'] == ['r0', 'r1']
    assert b['point'].x.dtype == ember.float64 and b['point'].y.tolist() == [[0, 0], [1, 1]]


def test_dataloader_shuffle_semantics_and_seeds():
    ds = edata.TensorDataset(ember.arange(100))
    loader = edata.DataLoader(ds, batch_size=16, shuffle=True)
    ember.manual_seed(0)
    epoch1 = [b[0].tolist() for b in loader]
    epoch2 = [b[0].tolist() for b in loader]
    for epoch in (epoch1, epoch2):
        flat = sum(epoch, [])
        assert sorted(flat) == list(range(100)) and [len(b) for b in epoch] == [16] * 6 + [4]
    assert epoch1 != epoch2
    ember.manual_seed(0)
    assert [b[0].tolist() for b in loader] == epoch1
    gen = edata.DataLoader(ds, batch_size=16, shuffle=True,
                           generator=ember.Generator().manual_seed(9))
    again = edata.DataLoader(ds, batch_size=16, shuffle=True,
                             generator=ember.Generator().manual_seed(9))
    assert [b[0].tolist() for b in gen] == [b[0].tolist() for b in again]
    assert isinstance(loader.sampler, edata.RandomSampler)
    assert isinstance(loader.batch_sampler, edata.BatchSampler)
    assert loader.batch_sampler.sampler is loader.sampler
    drop = edata.DataLoader(ds, batch_size=16, shuffle=True, drop_last=True)
    assert [len(b[0]) for b in drop] == [16] * 6 and len(drop) == 6


def test_dataloader_samplers_and_fast_path_equivalence():
    x, y = xy(37)
    ds = edata.TensorDataset(x, y)
    ember.manual_seed(1)
    fast = [py(b) for b in edata.DataLoader(ds, batch_size=8, shuffle=True)]
    ember.manual_seed(1)
    slow = [py(b) for b in edata.DataLoader(ds, batch_size=8, shuffle=True,
                                            collate_fn=edata.default_collate.__call__)]
    assert fast == slow
    sampler = edata.WeightedRandomSampler([1.0] * 37, 20, generator=ember.Generator())
    assert sum(len(b[0]) for b in edata.DataLoader(ds, batch_size=6, sampler=sampler)) == 20
    grad_x = x.clone().requires_grad_()
    batch = next(iter(edata.DataLoader(edata.TensorDataset(grad_x), batch_size=4)))
    assert batch[0].grad_fn.name() == 'StackBackward0'


def test_dataloader_iterable_dataset():
    e = edata.DataLoader(Count(0, 7), batch_size=3)
    t = tdata.DataLoader(TCount(0, 7), batch_size=3)
    assert [py(b) for b in e] == [py(b) for b in t]
    assert [py(b) for b in edata.DataLoader(Count(0, 7), batch_size=3, drop_last=True)] == \
        [py(b) for b in tdata.DataLoader(TCount(0, 7), batch_size=3, drop_last=True)]
    assert list(edata.DataLoader(Count(0, 3), batch_size=None)) == [0, 1, 2]
    assert len(e) == 3
    assert [py(b) for b in edata.DataLoader(Count(0, 7), batch_size=3, shuffle=False)] == \
        [py(b) for b in t]
    with pytest.raises(TypeError, match="object of type 'Sharded' has no len"):
        len(edata.DataLoader(Sharded(3)))


def test_dataloader_iterable_length_warning():
    class Lying(Count):
        def __len__(self):
            return 2
    loader = edata.DataLoader(Lying(0, 4), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match='was reported to be 2'):
        assert list(loader) == [0, 1, 2, 3]


@pytest.mark.parametrize('kwargs', [
    dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
    dict(num_workers=1, prefetch_factor=-1), dict(persistent_workers=True),
    dict(sampler=[1], shuffle=True), dict(batch_sampler=[[1]], batch_size=2),
    dict(batch_sampler=[[1]], drop_last=True), dict(batch_sampler=[[1]], shuffle=True),
    dict(batch_sampler=[[1]], sampler=[1]), dict(batch_size=None, drop_last=True),
    dict(multiprocessing_context='spawn'), dict(num_workers=1, multiprocessing_context='bogus'),
    dict(num_workers=1, multiprocessing_context=3), dict(batch_size=0),
    dict(batch_size=2.0), dict(drop_last=1),
])
def test_dataloader_option_errors(kwargs):
    same_error(lambda: edata.DataLoader(edata.TensorDataset(*xy()), **kwargs),
               lambda: tdata.DataLoader(tdata.TensorDataset(*xy(lib=torch)), **kwargs))


@pytest.mark.parametrize('kwargs', [dict(shuffle=True), dict(sampler=[1]),
                                    dict(batch_sampler=[[1]])])
def test_dataloader_iterable_option_errors(kwargs):
    same_error(lambda: edata.DataLoader(Count(0, 3), **kwargs),
               lambda: tdata.DataLoader(TCount(0, 3), **kwargs), ValueError)


def test_dataloader_attributes():
    loader = edata.DataLoader(edata.TensorDataset(*xy()), batch_size=3, shuffle=1)
    assert isinstance(loader.sampler, edata.RandomSampler)
    for attr in ('batch_size', 'batch_sampler', 'sampler', 'drop_last', 'dataset',
                 'persistent_workers'):
        same_error(lambda: setattr(loader, attr, None),
                   lambda: setattr(tdata.DataLoader(tdata.TensorDataset(*xy(lib=torch))),
                                   attr, None), ValueError)
    loader.num_workers = 0
    loader.collate_fn = edata.default_convert
    assert loader.collate_fn is edata.default_convert
    assert loader.generator is None and loader.prefetch_factor is None
    assert edata.DataLoader(Count(0, 1), num_workers=1).prefetch_factor == 2
    assert edata.DataLoader(Count(0, 1), batch_size=None).collate_fn is edata.default_convert
    assert edata.get_worker_info() is None
    same_error(lambda: len(edata.DataLoader(edata.Dataset())),
               lambda: len(tdata.DataLoader(tdata.Dataset())), TypeError)


def test_dataloader_errors_propagate_in_main_process():
    with pytest.raises(IndexError):
        list(edata.DataLoader(Squares(3), sampler=[0, 5]))
    with pytest.raises(RuntimeError, match='each element in list of batch should be of equal size'):
        list(edata.DataLoader([[1, 2], [3]], batch_size=2))


# ---- DataLoader with worker processes --------------------------------------------------------
class Described(edata.Dataset):
    """Each sample says which worker read it and with which seeds."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = edata.get_worker_info()
        return {'i': i, 'worker': info.id, 'num_workers': info.num_workers, 'seed': info.seed,
                'ember_seed': ember.initial_seed(), 'ember_draw': ember.rand(1).item(),
                'np_draw': float(np.random.random()), 'py_draw': random.random(),
                'same_dataset': info.dataset is self, 'pid': os.getpid()}


class Failing(edata.Dataset):
    def __init__(self, exc, at=3):
        self.exc, self.at = exc, at

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == self.at:
            raise self.exc
        return i


class CustomError(Exception):
    def __init__(self, a, b):
        super().__init__(f'{a}-{b}')


class Sharded(edata.IterableDataset):
    """range(n) split in contiguous shards, one per worker."""

    def __init__(self, n, shard=True):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = edata.get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        per = math.ceil(self.n / info.num_workers)
        return iter(range(info.id * per, min(info.id * per + per, self.n)))


class TSharded(tdata.IterableDataset):
    def __init__(self, n, shard=True):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = tdata.get_worker_info()
        if info is None or not self.shard:
            return iter(range(self.n))
        per = math.ceil(self.n / info.num_workers)
        return iter(range(info.id * per, min(info.id * per + per, self.n)))


class Slow(edata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(1.0 if i == 2 else 0)
        return i


class Dying(edata.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 2:
            os._exit(3)
        return i


class BigExp(edata.Dataset):
    """Large elementwise work (ember's thread pool path) inside a worker."""

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return ember.exp(ember.full((600, 600), float(i))).sum()


def add_offset(worker_id):
    info = edata.get_worker_info()
    info.dataset.offset = 100 * (worker_id + 1)


class Offset(edata.Dataset):
    offset = 0

    def __len__(self):
        return 6

    def __getitem__(self, i):
        return i + self.offset


def failing_init(worker_id):
    raise ValueError(f'init failed in {worker_id}')


W = dict(num_workers=2, timeout=60)


@pytest.mark.parametrize('kwargs', [dict(batch_size=3), dict(batch_size=4, drop_last=True),
                                    dict(batch_size=None), dict(batch_size=2, prefetch_factor=1),
                                    dict(batch_size=1, prefetch_factor=5)])
def test_workers_return_batches_in_order(kwargs):
    ds = edata.TensorDataset(*xy(23))
    single = [py(b) for b in edata.DataLoader(
        ds, **{k: v for k, v in kwargs.items() if k != 'prefetch_factor'})]
    multi = [py(b) for b in edata.DataLoader(ds, **W, **kwargs)]
    assert multi == single
    tmulti = [py(b) for b in tdata.DataLoader(tdata.TensorDataset(*xy(23, torch)), **W,
                                              **kwargs)]
    assert multi == tmulti


def test_workers_shuffle_reproducible_and_equal_to_main_process():
    ds = edata.TensorDataset(ember.arange(50))
    ember.manual_seed(5)
    main = [b[0].tolist() for b in edata.DataLoader(ds, batch_size=7, shuffle=True)]
    ember.manual_seed(5)
    workers = [b[0].tolist() for b in edata.DataLoader(ds, batch_size=7, shuffle=True, **W)]
    assert workers == main and sorted(sum(main, [])) == list(range(50))


def test_worker_seeding_and_info():
    gen = ember.Generator().manual_seed(123)
    base = int(ember.empty((), dtype=ember.int64).random_(
        generator=ember.Generator().manual_seed(123)).item())
    samples = list(edata.DataLoader(Described(), batch_size=None, generator=gen, **W))
    assert [s['i'] for s in samples] == list(range(8))
    assert [s['worker'] for s in samples] == [0, 1] * 4          # round-robin
    for s in samples:
        wid = s['worker']
        assert s['num_workers'] == 2 and s['same_dataset']
        assert s['seed'] == s['ember_seed'] == base + wid
    for wid in (0, 1):
        mine = [s for s in samples if s['worker'] == wid]
        ref = ember.Generator().manual_seed(base + wid)
        assert [s['ember_draw'] for s in mine] == \
            ember.rand(len(mine), generator=ref).tolist()
        state = np.random.SeedSequence([wid, base]).generate_state(4)
        assert [s['np_draw'] for s in mine] == \
            np.random.RandomState(state).random_sample(len(mine)).tolist()
        rnd = random.Random(base + wid)
        assert [s['py_draw'] for s in mine] == [rnd.random() for _ in mine]
    pids = {s['pid'] for s in samples}
    assert len(pids) == 2 and os.getpid() not in pids
    again = list(edata.DataLoader(Described(), batch_size=None,
                                  generator=ember.Generator().manual_seed(123), **W))
    assert [s['ember_draw'] for s in again] == [s['ember_draw'] for s in samples]


def test_torch_numpy_worker_seed_matches():
    """NumPy's worker seed is PyTorch's: the same state from the same base seed."""
    from torch.utils.data._utils.worker import _generate_state
    for base, wid in [(0, 0), (123456789012345, 3), (2 ** 63 - 1, 1)]:
        assert np.random.SeedSequence([wid, base]).generate_state(4).tolist() == \
            list(_generate_state(base, wid))


def test_worker_init_fn():
    out = list(edata.DataLoader(Offset(), batch_size=None, worker_init_fn=add_offset, **W))
    assert out == [100, 201, 102, 203, 104, 205]
    assert list(edata.DataLoader(Offset(), batch_size=None)) == list(range(6))


@pytest.mark.parametrize('exc, cls', [(ValueError('bad sample'), ValueError),
                                      (KeyError('missing'), KeyError),
                                      (CustomError(1, 2), RuntimeError),
                                      (ZeroDivisionError('zero'), ZeroDivisionError)])
def test_worker_exception_reraised_with_traceback(exc, cls):
    loader = edata.DataLoader(Failing(exc), batch_size=2, **W)
    it = iter(loader)
    assert next(it).tolist() == [0, 1]
    with pytest.raises(cls) as info:
        next(it)
    text = str(info.value)
    assert f'Caught {type(exc).__name__} in DataLoader worker process 1.' in text
    assert 'Original Traceback (most recent call last):' in text
    assert 'in __getitem__' in text and 'raise self.exc' in text
    assert next(it).tolist() == [4, 5]             # loading goes on after an error
    with pytest.raises(StopIteration):
        next(it)


def test_worker_exception_message_format_matches_torch():
    class TFailing(tdata.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            raise ValueError('bad sample')
    with pytest.raises(ValueError) as te:
        next(iter(tdata.DataLoader(TFailing(), num_workers=1)))
    with pytest.raises(ValueError) as ee:
        next(iter(edata.DataLoader(Failing(ValueError('bad sample'), at=0), num_workers=1)))
    first_lines = [str(v.value).splitlines()[:2] for v in (ee, te)]
    assert first_lines[0] == first_lines[1]
    assert str(ee.value).splitlines()[-1] == str(te.value).splitlines()[-1]


def test_worker_init_and_pickling_errors():
    with pytest.raises(ValueError, match='init failed in 0'):
        list(edata.DataLoader(Offset(), worker_init_fn=failing_init, **W))
    with pytest.raises(Exception, match='in DataLoader worker process 0'):
        list(edata.DataLoader(Offset(), collate_fn=lambda b: (lambda: 0), **W))


def test_worker_iterable_sharding_matches_torch():
    for n, kwargs in [(11, dict(batch_size=2)), (11, dict(batch_size=2, drop_last=True)),
                      (5, dict(batch_size=None)), (3, dict(batch_size=2)),
                      (7, dict(batch_size=3, prefetch_factor=1))]:
        e = [py(b) for b in edata.DataLoader(Sharded(n), **W, **kwargs)]
        t0 = time.time()
        tl = tdata.DataLoader(TSharded(n), **W, **kwargs)
        it = iter(tl)
        t1 = time.time()
        t = [py(b) for b in it]
        t2 = time.time()
        del it
        print('TIMING', kwargs, t1 - t0, t2 - t1, time.time() - t2)
        assert e == t, kwargs
    dup = [py(b) for b in edata.DataLoader(Sharded(3, shard=False), batch_size=2, **W)]
    assert dup == [py(b) for b in tdata.DataLoader(TSharded(3, shard=False), batch_size=2, **W)]
    flat = sum((b.tolist() for b in edata.DataLoader(Sharded(20), batch_size=3, **W)), [])
    assert sorted(flat) == list(range(20))


def test_persistent_workers():
    loader = edata.DataLoader(edata.TensorDataset(ember.arange(10)), batch_size=3,
                              persistent_workers=True, **W)
    it1 = iter(loader)
    first = [b[0].tolist() for b in it1]
    pids = [w.process.pid for w in it1._workers]
    assert all(w.process.is_alive() for w in it1._workers)
    it2 = iter(loader)
    assert it2 is it1 and [w.process.pid for w in it2._workers] == pids
    assert [b[0].tolist() for b in it2] == first == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    partial = iter(loader)
    assert next(partial)[0].tolist() == [0, 1, 2]          # leave the epoch unfinished
    assert [b[0].tolist() for b in iter(loader)] == first  # a new epoch starts cleanly
    stream = edata.DataLoader(Sharded(7), batch_size=2, persistent_workers=True, **W)
    epochs = [[b.tolist() for b in stream] for _ in range(3)]
    assert epochs[0] == epochs[1] == epochs[2] == [[0, 1], [4, 5], [2, 3], [6]]
    procs = [w.process for w in it1._workers]
    del loader, it1, it2, partial
    import gc
    gc.collect()
    for p in procs:
        p.join(5)
        assert not p.is_alive()


def test_workers_shut_down():
    loader = edata.DataLoader(edata.TensorDataset(ember.arange(20)), batch_size=2, **W)
    it = iter(loader)
    procs = [w.process for w in it._workers]
    list(it)
    assert not any(p.is_alive() for p in procs)
    it = iter(loader)
    next(it)
    procs = [w.process for w in it._workers]
    del it                                   # abandoned mid-epoch
    for p in procs:
        p.join(5)
        assert not p.is_alive()


def test_worker_timeout_and_death():
    loader = edata.DataLoader(Slow(), num_workers=1, timeout=0.2)
    with pytest.raises(RuntimeError, match=r'DataLoader timed out after 0\.2 seconds'):
        list(loader)
    with pytest.raises(RuntimeError, match=r'DataLoader worker \(pid\(s\) \d+\) exited '
                                           r'unexpectedly'):
        list(edata.DataLoader(Dying(), **W))


def test_workers_out_of_order_and_spawn():
    ds = edata.TensorDataset(ember.arange(30))
    out = [b[0].tolist() for b in edata.DataLoader(ds, batch_size=4, in_order=False, **W)]
    assert sorted(sum(out, [])) == list(range(30)) and len(out) == 8
    import multiprocessing
    fork = multiprocessing.get_context('fork')
    loader = edata.DataLoader(ds, batch_size=4, multiprocessing_context=fork, **W)
    assert loader.multiprocessing_context is fork
    assert [b[0].tolist() for b in loader] == [b[0].tolist() for b in
                                                edata.DataLoader(ds, batch_size=4)]
    spawn = edata.DataLoader(edata.TensorDataset(*xy(9)), batch_size=4, num_workers=1,
                             multiprocessing_context='spawn', timeout=120)
    assert spawn.multiprocessing_context.get_start_method() == 'spawn'
    assert [py(b) for b in spawn] == [py(b) for b in edata.DataLoader(
        edata.TensorDataset(*xy(9)), batch_size=4)]


def test_workers_after_threaded_work_in_parent():
    ember.exp(ember.ones(1 << 19))            # starts ember's thread pool in this process
    out = list(edata.DataLoader(BigExp(), batch_size=None, **W))
    assert [v.item() for v in out] == pytest.approx([360000, 360000 * math.e], rel=1e-5)


def test_worker_tensors_keep_dtype_and_grad_flag():
    class Typed(edata.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return (ember.ones(2, dtype=ember.float64, requires_grad=True),
                    ember.tensor([True]), np.int16(i))
    a, b, c = next(iter(edata.DataLoader(Typed(), batch_size=2, **W)))
    assert a.dtype == ember.float64 and a.requires_grad and a.is_leaf
    assert b.dtype == ember.bool and c.dtype == ember.int16 and c.tolist() == [0, 1]


_ORPHAN_SCRIPT = '''
import os, signal, sys
import ember, ember.utils.data as ed
loader = ed.DataLoader(ed.TensorDataset(ember.arange(100)), batch_size=2, num_workers=2,
                       persistent_workers=True)
it = iter(loader)
next(it)
print(' '.join(str(w.process.pid) for w in it._workers), flush=True)
if sys.argv[1] == 'kill':
    os.kill(os.getpid(), signal.SIGKILL)
'''


def _gone(pid):
    try:
        with open(f'/proc/{pid}/status') as f:
            return any(line.startswith('State:') and 'Z' in line for line in f)
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not os.path.isdir('/proc'), reason='needs /proc to watch the workers')
@pytest.mark.parametrize('mode', ['exit', 'kill'])
def test_workers_end_with_the_main_process(mode):
    """Workers end when the main process exits mid-epoch, and when it is killed."""
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    run = subprocess.run([sys.executable, '-c', _ORPHAN_SCRIPT, mode], capture_output=True,
                         text=True, timeout=60, cwd=root)
    pids = [int(p) for p in run.stdout.split()]
    assert len(pids) == 2, run.stderr
    deadline = time.monotonic() + 15
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(_gone(p) for p in pids)


@pytest.mark.cuda
def test_cuda_tensors_collate_and_load():
    x = ember.arange(12.).reshape(6, 2).cuda()
    ds = edata.TensorDataset(x, ember.arange(6).cuda())
    batches = list(edata.DataLoader(ds, batch_size=4, shuffle=True))
    assert batches[0][0].device.type == 'cuda' and batches[0][0].shape == (4, 2)
    flat = sorted(sum((b[1].cpu().tolist() for b in batches), []))
    assert flat == list(range(6))
    stacked = edata.default_collate([x[0], x[1]])
    assert stacked.device.type == 'cuda' and stacked.cpu().tolist() == [[0., 1.], [2., 3.]]
