"""ember.save / ember.load: the safe format, sharing, atomic writes, damaged files,
weights_only, map_location, mmap, PyTorch checkpoints (with and without torch importable),
and resuming training from a checkpoint."""
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.serialization import CheckpointError, load, save
from ember.serialization import _read, _write
from tests.helpers import assert_close

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    save(obj, buf)
    buf.seek(0)
    return load(buf, **load_kwargs)


def manifest_of(path_or_bytes):
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    with zipfile.ZipFile(src) as zf:
        return json.loads(zf.read('checkpoint/manifest.json'))


def rewrite_manifest(path, edit):
    """Rewrite the manifest of the checkpoint at ``path`` with ``edit(manifest)``."""
    with zipfile.ZipFile(path) as zf:
        entries = [(i, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(path, 'w') as zf:
        for info, data in entries:
            if info.filename.endswith('manifest.json'):
                m = json.loads(data)
                edit(m)
                data = json.dumps(m).encode()
            zf.writestr(info, data)


def shares_memory(a, b):
    return np.shares_memory(a.detach().numpy(), b.detach().numpy())


class Net(nn.Module):
    """A small module used for whole-module pickling."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.bn = nn.BatchNorm1d(2)

    def forward(self, x):
        return self.bn(self.fc(x))


def test_public_names():
    assert ember.save is save and ember.load is load


# ---- the ember format ----------------------------------------------------------------------
PLAIN_VALUES = [None, True, False, 0, -7, 2 ** 80, 1.5, -0.0, 1e-300, 'text', 'ünïcode',
                b'\x00\xff', float('inf'), float('-inf'), (), [], {}, (1, 'a', None), [1, [2, [3]]],
                {1, 2, 3}, frozenset({'a'}), {'a': 1, 2: 'b', (3, 4): [5]},
                OrderedDict([('z', 1), ('a', 2), ('m', 3)]), ember.Size([2, 3]), ember.Size([]),
                ember.float16, ember.int64, ember.bool, ember.device('cpu'),
                ember.device('cuda', 1), np.float32(2.5), np.int64(-3), np.bool_(True),
                np.float16(0.1)]


@pytest.mark.parametrize('value', PLAIN_VALUES, ids=lambda v: type(v).__name__)
def test_plain_values_roundtrip(value):
    out = roundtrip({'v': value})['v']
    assert type(out) is type(value)
    assert out == value
    if isinstance(value, OrderedDict):
        assert list(out) == list(value)
    if isinstance(value, np.generic):
        assert out.dtype == value.dtype


def test_nan_and_nested_order():
    out = roundtrip([float('nan'), OrderedDict([('b', {'y': 1, 'x': 2}), ('a', None)])])
    assert np.isnan(out[0])
    assert list(out[1]) == ['b', 'a'] and list(out[1]['b']) == ['y', 'x']


@pytest.mark.parametrize('dtype', [ember.float16, ember.float32, ember.float64, ember.int8,
                                   ember.int16, ember.int32, ember.int64, ember.uint8,
                                   ember.bool])
def test_tensor_dtypes(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 7).astype(dtype.np)
    t = ember.tensor(a)
    out = roundtrip({'t': t, 'view': t[:, 1:, ::2].transpose(0, 2), 'zero_d': t[1, 2, 3]})
    for k, ref in (('t', a), ('view', a[:, 1:, ::2].swapaxes(0, 2)), ('zero_d', a[1, 2, 3])):
        assert out[k].dtype == dtype
        np.testing.assert_array_equal(out[k].numpy(), ref)
    assert out['view'].stride() == t[:, 1:, ::2].transpose(0, 2).stride()
    assert shares_memory(out['t'], out['view'])


def test_tensor_flags_and_kinds():
    p = nn.Parameter(ember.randn(3))
    frozen = nn.Parameter(ember.randn(2), requires_grad=False)
    leaf = ember.randn(2, requires_grad=True)
    out = roundtrip({'p': p, 'frozen': frozen, 'leaf': leaf, 'nonleaf': leaf * 2,
                     'empty': ember.zeros(0, 3), 'arr': np.arange(6.).reshape(2, 3).T})
    assert type(out['p']) is nn.Parameter and out['p'].requires_grad
    assert type(out['frozen']) is nn.Parameter and not out['frozen'].requires_grad
    assert type(out['leaf']) is ember.Tensor and out['leaf'].requires_grad
    assert out['nonleaf'].is_leaf and out['nonleaf'].requires_grad
    assert out['empty'].shape == (0, 3)
    assert type(out['arr']) is np.ndarray
    np.testing.assert_array_equal(out['arr'], np.arange(6.).reshape(2, 3).T)
    np.testing.assert_array_equal(out['p'].detach().numpy(), p.detach().numpy())


def test_shared_storage_comes_back_shared():
    x = ember.arange(12.).reshape(3, 4)
    obj = {'x': x, 'again': x, 't': x.t(), 'row': x[1], 'tail': x.view(-1)[5:]}
    buf = io.BytesIO()
    save(obj, buf)
    m = manifest_of(buf.getvalue())
    assert len(m['storages']) == 1 and m['storages'][0]['numel'] == 12
    out = load(io.BytesIO(buf.getvalue()))
    assert out['again'] is out['x']
    out['x'][1, 1] = 100.
    assert out['t'][1, 1].item() == 100. and out['row'][1].item() == 100.
    assert out['tail'][0].item() == 100.


def test_disjoint_views_of_one_base_share_one_storage():
    x = ember.arange(10.)
    out = roundtrip([x[:3], x[7:]])
    m_bytes = io.BytesIO()
    save([x[:3], x[7:]], m_bytes)
    storage = manifest_of(m_bytes.getvalue())['storages']
    assert len(storage) == 1 and storage[0]['numel'] == 10
    np.testing.assert_array_equal(out[1].numpy(), [7., 8., 9.])


def test_state_dict_aliases_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    out = roundtrip({'sd': model.state_dict(), 'params': list(model.parameters())})
    sd = out['sd']
    assert list(sd) == list(model.state_dict())
    assert sd._metadata == model.state_dict()._metadata
    assert shares_memory(sd['0.weight'], out['params'][0])
    assert shares_memory(sd['1.bias'], out['params'][3])
    assert sd['1.num_batches_tracked'].dtype == ember.int64


def test_module_state_dict_roundtrip_gives_identical_outputs(tmp_path):
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    model(ember.randn(6, 5))  # moves the batch-norm statistics
    model.eval()
    save(model.state_dict(), tmp_path / 'm.pt')
    fresh = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2)).eval()
    fresh.load_state_dict(load(tmp_path / 'm.pt'))
    x = ember.randn(4, 5)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


def test_format_is_documented_zip_of_npy(tmp_path):
    path = tmp_path / 'c.pt'
    save({'w': ember.ones(2, 3), 'n': 3}, path)
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ['checkpoint/manifest.json', 'checkpoint/storages/0.npy']
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
        arr = np.load(io.BytesIO(zf.read('checkpoint/storages/0.npy')))
        m = json.loads(zf.read('checkpoint/manifest.json'))
    np.testing.assert_array_equal(arr, np.ones(6, np.float32))
    assert m['format'] == 'ember.checkpoint' and m['version'] == 1 and m['pickled'] == []
    assert m['tensors'] == [{'kind': 'tensor', 'storage': 0, 'dtype': 'float32', 'shape': [2, 3],
                             'stride': [3, 1], 'offset': 0, 'requires_grad': False}]
    assert m['object'] == {'$': 'dict', 'items': [['w', {'$': 'tensor', 'id': 0}], ['n', 3]]}
    assert m['storages'] == [{'file': 'storages/0.npy', 'dtype': '<f4', 'numel': 6,
                              'device': 'cpu'}]


def test_storage_data_is_64_byte_aligned(tmp_path):
    path = tmp_path / 'c.pt'
    save({f'k{i}': ember.ones(i + 1, dtype=dt) for i, dt in
          enumerate([ember.float16, ember.int8, ember.float64, ember.bool])}, path)
    with zipfile.ZipFile(path) as zf, open(path, 'rb') as fh:
        for info in zf.infolist():
            if info.filename.endswith('.npy'):
                fh.seek(_read._member_data_offset(fh, info))
                np.lib.format.read_magic(fh)
                np.lib.format.read_array_header_1_0(fh)
                assert fh.tell() % 64 == 0


def test_saving_is_deterministic():
    obj = {'a': ember.arange(5.), 'b': [1, 2.5, 'x']}
    one, two = io.BytesIO(), io.BytesIO()
    save(obj, one)
    save(obj, two)
    assert one.getvalue() == two.getvalue()


def test_overlapping_memory_of_different_owners_is_one_storage():
    raw = bytearray(40)
    a = np.frombuffer(memoryview(raw)[0:24], np.float32)
    b = np.frombuffer(memoryview(raw)[8:40], np.float32)
    buf = io.BytesIO()
    save({'a': ember.from_numpy(a), 'b': ember.from_numpy(b)}, buf)
    assert len(manifest_of(buf.getvalue())['storages']) == 1
    out = load(io.BytesIO(buf.getvalue()))
    out['a'][3] = 1.
    assert out['b'][1].item() == 1.


def test_separate_tensors_get_separate_storages():
    buf = io.BytesIO()
    save([ember.ones(2), ember.ones(2), ember.ones(0), ember.ones(0)], buf)
    assert [s['numel'] for s in manifest_of(buf.getvalue())['storages']] == [2, 2, 0, 0]


def test_bad_file_arguments():
    with pytest.raises(TypeError, match='path or a writable binary file'):
        save([1], 3)
    with pytest.raises(TypeError, match='path or a readable binary file'):
        load(b'bytes')


def test_misaligned_numpy_layout_is_copied():
    raw = np.zeros(41, np.uint8)
    odd = raw[1:].view(np.float32)          # float32 elements starting at an odd address
    odd[:] = np.arange(10, dtype=np.float32)
    obj = {'raw': raw, 'odd': ember.from_numpy(odd), 'odd_strided': ember.from_numpy(odd[::3])}
    buf = io.BytesIO()
    save(obj, buf)
    assert len(manifest_of(buf.getvalue())['storages']) == 3
    out = load(io.BytesIO(buf.getvalue()))
    np.testing.assert_array_equal(out['odd'].numpy(), np.arange(10, dtype=np.float32))
    np.testing.assert_array_equal(out['odd_strided'].numpy(), np.arange(0, 10, 3))
    np.testing.assert_array_equal(out['raw'], raw)


# ---- atomic writes and file objects -------------------------------------------------------
def test_crash_mid_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / 'ckpt.pt'
    save({'epoch': 1, 'w': ember.ones(3)}, path)
    before = path.read_bytes()
    calls = []
    real = _write._write_npy

    def failing(*args):
        calls.append(1)
        if len(calls) == 2:
            raise OSError('disk full (simulated)')
        return real(*args)

    monkeypatch.setattr(_write, '_write_npy', failing)
    with pytest.raises(OSError, match='simulated'):
        save({'epoch': 2, 'w': ember.zeros(3), 'b': ember.zeros(2)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ['ckpt.pt']
    assert load(path)['epoch'] == 1


def test_unpicklable_object_leaves_no_file(tmp_path):
    path = tmp_path / 'x.pt'
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        save({'f': lambda: 1}, path)
    assert os.listdir(tmp_path) == []


def test_save_paths_and_permissions(tmp_path):
    save([1], str(tmp_path / 'a.pt'))
    assert load(str(tmp_path / 'a.pt')) == [1]
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / 'a.pt').st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(RuntimeError, match='Parent directory .* does not exist'):
        save([1], tmp_path / 'missing' / 'a.pt')


class _Stream(io.RawIOBase):
    """A write- or read-only stream that cannot seek."""

    def __init__(self, data=b''):
        self.chunks = [data]
        self.pos = 0

    def writable(self):
        return True

    def readable(self):
        return True

    def write(self, b):
        self.chunks.append(bytes(b))
        return len(b)

    def readinto(self, b):
        data = b''.join(self.chunks)[self.pos:self.pos + len(b)]
        b[:len(data)] = data
        self.pos += len(data)
        return len(data)


def test_unseekable_streams():
    out = _Stream()
    save({'t': ember.arange(4.)}, out)
    data = b''.join(out.chunks)
    back = load(_Stream(data))
    np.testing.assert_array_equal(back['t'].numpy(), np.arange(4.))


# ---- damaged files -----------------------------------------------------------------------------
@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / 'good.pt'
    save({'w': ember.arange(256.), 'meta': {'epoch': 3}}, path)
    return path


@pytest.mark.parametrize('keep', [0.1, 0.5, 0.9, 0.99])
def test_truncated_file_raises_naming_it(good_file, keep):
    data = good_file.read_bytes()
    good_file.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(CheckpointError, match='good.pt') as info:
        load(good_file)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, pickle.UnpicklingError)
    assert 'truncated or corrupted' in str(info.value)


def test_flipped_byte_in_storage_is_detected(good_file):
    data = bytearray(good_file.read_bytes())
    i = data.index(np.arange(256.0, dtype=np.float32)[100:102].tobytes())
    data[i] ^= 0x40
    good_file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match='CRC'):
        load(good_file)


@pytest.mark.parametrize('content, match', [(b'', 'is empty'),
                                            (b'hello, not a checkpoint', 'not an ember')])
def test_not_a_checkpoint(tmp_path, content, match):
    (tmp_path / 'bad.pt').write_bytes(content)
    with pytest.raises(CheckpointError, match=match):
        load(tmp_path / 'bad.pt')


def test_zip_without_manifest(tmp_path):
    with zipfile.ZipFile(tmp_path / 'z.pt', 'w') as zf:
        zf.writestr('x/readme.txt', 'hi')
    with pytest.raises(CheckpointError, match='no manifest.json or data.pkl'):
        load(tmp_path / 'z.pt')


@pytest.mark.parametrize('edit, match', [
    (lambda m: m['tensors'][0].update(stride=[1000]), 'outside its storage'),
    (lambda m: m['tensors'][0].update(offset=-1), 'invalid tensor geometry'),
    (lambda m: m['tensors'][0].update(dtype='object'), 'unknown tensor kind'),
    (lambda m: m['storages'][0].update(numel=10 ** 12), 'declares'),
    (lambda m: m['storages'][0].update(dtype='|O'), 'refusing NumPy dtype'),
    (lambda m: m.update(object={'$': 'eval', 'code': '1'}), "unknown manifest tag 'eval'"),
    (lambda m: m.update(version=99), 'newer ember'),
])
def test_inconsistent_manifest(good_file, edit, match):
    rewrite_manifest(good_file, edit)
    with pytest.raises(CheckpointError, match=match) as info:
        load(good_file)
    assert str(good_file) in str(info.value)


# ---- weights_only and whole objects ---------------------------------------------------------
def test_whole_module_needs_weights_only_false(tmp_path):
    model = Net().eval()
    path = tmp_path / 'model.pt'
    save({'model': model, 'sd': model.state_dict()}, path)
    with pytest.raises(pickle.UnpicklingError, match='weights_only') as info:
        load(path)
    assert 'tests.test_serialization.Net' in str(info.value)
    out = load(path, weights_only=False)
    x = ember.randn(4, 3)
    np.testing.assert_array_equal(out['model'](x).detach().numpy(), model(x).detach().numpy())
    assert shares_memory(out['model'].fc.weight, out['sd']['fc.weight'])
    assert type(out['model'].fc.weight) is nn.Parameter


def test_cyclic_structure_is_pickled():
    a = [1]
    a.append(a)
    with pytest.raises(pickle.UnpicklingError):
        roundtrip(a)
    out = roundtrip(a, weights_only=False)
    assert out[1] is out


def test_explicit_pickle_module_with_weights_only():
    with pytest.raises(RuntimeError, match='Can not safely load weights'):
        load(io.BytesIO(), pickle_module=pickle, weights_only=True)
    assert roundtrip([1], pickle_module=pickle, weights_only=False) == [1]


# ---- map_location and mmap ---------------------------------------------------------------------
def _as_saved_on_cuda(path):
    def edit(m):
        for s in m['storages']:
            s['device'] = 'cuda:0'
    rewrite_manifest(path, edit)


@pytest.mark.parametrize('map_location', ['cpu', ember.device('cpu'), {'cuda:0': 'cpu'},
                                          lambda storage, loc: storage])
def test_map_location_to_cpu(good_file, map_location):
    _as_saved_on_cuda(good_file)
    out = load(good_file, map_location=map_location)
    assert out['w'].device == ember.device('cpu')
    np.testing.assert_array_equal(out['w'].numpy(), np.arange(256.))


def test_map_location_callable_sees_storage_and_location(good_file):
    seen = []

    def ml(storage, location):
        seen.append((type(storage), storage.shape, location))
        return None

    out = load(good_file, map_location=ml)
    assert seen == [(ember.Tensor, (256,), 'cpu')]
    assert out['w'].shape == (256,)


@pytest.mark.skipif(ember.cuda.is_available(), reason='checks the CPU-only message')
def test_cuda_checkpoint_on_cpu_only_machine(good_file):
    _as_saved_on_cuda(good_file)
    with pytest.raises(RuntimeError, match="map_location=ember.device\\('cpu'\\)"):
        load(good_file)
    with pytest.raises(RuntimeError, match='cuda.is_available'):
        load(good_file, map_location='cuda')


@pytest.mark.cuda
def test_cuda_roundtrip_and_map_location(tmp_path):
    x = ember.arange(12., device='cuda').reshape(3, 4)
    save({'x': x, 't': x.t()}, tmp_path / 'g.pt')
    out = load(tmp_path / 'g.pt')
    assert out['x'].device.type == 'cuda'
    out['x'][0, 1] = 7.
    assert out['t'][1, 0].item() == 7.
    cpu = load(tmp_path / 'g.pt', map_location='cpu')
    np.testing.assert_array_equal(cpu['x'].numpy(), np.arange(12.).reshape(3, 4))
    back = load(tmp_path / 'g.pt', map_location={'cuda:0': 'cpu'})
    assert back['x'].device.type == 'cpu'


def test_map_location_callable_errors_reach_the_caller(good_file):
    def broken(storage, location):
        raise KeyError('from the callable')

    with pytest.raises(KeyError, match='from the callable'):
        load(good_file, map_location=broken)
    with pytest.raises(TypeError, match='map_location callable returned str'):
        load(good_file, map_location=lambda s, loc: 'cpu')


def test_bad_map_location():
    with pytest.raises(TypeError, match='map_location'):
        load(io.BytesIO(), map_location=3.5)


def test_mmap(good_file):
    out = load(good_file, mmap=True)
    w = out['w']
    np.testing.assert_array_equal(w.numpy(), np.arange(256.))
    base = w.numpy()
    while not isinstance(base, np.memmap) and base.base is not None:
        base = base.base
    assert isinstance(base, np.memmap)
    before = good_file.read_bytes()
    w[0] = 42.   # copy-on-write: the file does not change
    assert good_file.read_bytes() == before
    with pytest.raises(ValueError, match='file path'):
        load(io.BytesIO(before), mmap=True)


# ---- PyTorch checkpoints ---------------------------------------------------------------------
def torch_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                               torch.nn.LayerNorm(8), torch.nn.Linear(8, 3))


def ember_model():
    return nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.LayerNorm(8),
                         nn.Linear(8, 3))


def torch_objects():
    """Tensors of many kinds, as torch and as NumPy references."""
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    ints = torch.arange(-6, 6)
    return {
        'half': torch.linspace(-2, 2, 5, dtype=torch.float16),
        'double': torch.linspace(-2, 2, 5, dtype=torch.float64),
        'bool': torch.tensor([True, False, True]),
        'int8': ints.to(torch.int8), 'int16': ints.to(torch.int16),
        'int32': ints.to(torch.int32), 'int64': ints,
        'uint8': torch.arange(250, 256).to(torch.uint8),
        'base': base, 'transposed': base.t(), 'strided': base[1:, ::2], 'row': base[2],
        'scalar': torch.tensor(3.5), 'empty': torch.zeros(0, 4),
        'grad': torch.ones(2, requires_grad=True), 'param': torch.nn.Parameter(torch.ones(3)),
    }


def test_torch_tensors_of_every_kind(tmp_path):
    objs = torch_objects()
    torch.save(objs, tmp_path / 't.pt')
    out = load(tmp_path / 't.pt')
    for k, t in objs.items():
        assert_close(out[k], t.detach(), rtol=0, atol=0)
        assert out[k].stride() == t.stride() or t.numel() == 0, k
        assert out[k].requires_grad == t.requires_grad, k
    assert type(out['param']) is nn.Parameter
    out['base'][1, 2] = -1.   # views of one storage still share memory
    assert out['transposed'][2, 1].item() == -1. and out['strided'][0, 1].item() == -1.


def test_torch_state_dict_into_ember_model(tmp_path):
    tm = torch_model()
    tm.train()
    for _ in range(3):
        tm(torch.randn(6, 5))       # running stats and num_batches_tracked move
    tm.eval()
    torch.save(tm.state_dict(), tmp_path / 'sd.pt')
    sd = load(tmp_path / 'sd.pt')
    assert list(sd) == list(tm.state_dict())
    assert sd['1.num_batches_tracked'].dtype == ember.int64
    assert sd['1.num_batches_tracked'].item() == 3
    em = ember_model().eval()
    em.load_state_dict(sd)
    for (k, a), b in zip(em.state_dict().items(), tm.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    x = np.random.default_rng(0).standard_normal((7, 5)).astype(np.float32)
    assert_close(em(ember.tensor(x)), tm(torch.tensor(x)), rtol=1e-6, atol=1e-6)


def test_torch_optimizer_state_dicts(tmp_path):
    tm = torch_model()
    opts = [torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9),
            torch.optim.Adam(tm.parameters(), lr=1e-3)]
    for opt in opts:
        for _ in range(2):
            opt.zero_grad()
            tm(torch.randn(4, 5)).square().mean().backward()
            opt.step()
    torch.save({'sgd': opts[0].state_dict(), 'adam': opts[1].state_dict(), 'epoch': 7},
               tmp_path / 'opt.pt')
    out = load(tmp_path / 'opt.pt')
    assert out['epoch'] == 7
    for name, opt in zip(('sgd', 'adam'), opts):
        ref = opt.state_dict()
        assert out[name]['param_groups'] == ref['param_groups']
        assert sorted(out[name]['state']) == sorted(ref['state'])
        for i, state in ref['state'].items():
            for k, v in state.items():
                assert_close(out[name]['state'][i][k], v, rtol=0, atol=0)


def test_torch_shared_storage_and_same_tensor_twice(tmp_path):
    p = torch.nn.Parameter(torch.randn(3, 4))
    torch.save({'p': p, 'again': p, 'detached': p.detach(), 'view': p.detach()[:, 1]},
               tmp_path / 's.pt')
    out = load(tmp_path / 's.pt')
    assert out['again'] is out['p']
    with ember.no_grad():
        out['p'][0, 1] = 9.
    assert out['detached'][0, 1].item() == 9. and out['view'][0].item() == 9.


def test_torch_bfloat16_loads_as_float32(tmp_path):
    t = torch.tensor([1.5, -2.25, 3e38], dtype=torch.bfloat16)
    torch.save(t, tmp_path / 'b.pt')
    with pytest.warns(UserWarning, match='bfloat16'):
        out = load(tmp_path / 'b.pt')
    assert out.dtype == ember.float32
    np.testing.assert_array_equal(out.numpy(), t.float().numpy())


def test_torch_legacy_format(tmp_path):
    objs = torch_objects()
    del objs['param']
    torch.save(objs, tmp_path / 'legacy.pt', _use_new_zipfile_serialization=False)
    out = load(tmp_path / 'legacy.pt')
    for k, t in objs.items():
        assert_close(out[k], t.detach(), rtol=0, atol=0)
    out['base'][0, 0] = 5.
    assert out['transposed'][0, 0].item() == 5.
    with pytest.raises(RuntimeError, match='mmap can only be used'):
        load(tmp_path / 'legacy.pt', mmap=True)


def test_torch_big_endian_file(tmp_path):
    torch.save({'x': torch.arange(4.)}, tmp_path / 'le.pt')
    with zipfile.ZipFile(tmp_path / 'le.pt') as src, \
            zipfile.ZipFile(tmp_path / 'be.pt', 'w') as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith('/byteorder'):
                data = b'big'
            elif '/data/' in info.filename:
                data = np.frombuffer(data, np.float32).byteswap().tobytes()
            dst.writestr(info, data)
    np.testing.assert_array_equal(load(tmp_path / 'be.pt')['x'].numpy(), np.arange(4.))


def test_torch_mmap_and_map_location(tmp_path):
    torch.save({'x': torch.arange(6.)}, tmp_path / 'm.pt')
    out = load(tmp_path / 'm.pt', mmap=True, map_location='cpu')
    np.testing.assert_array_equal(out['x'].numpy(), np.arange(6.))
    locations = []
    load(tmp_path / 'm.pt', map_location=lambda s, loc: locations.append(loc))
    assert locations == ['cpu']


def test_torch_refused_globals(tmp_path):
    torch.save({'model': torch.nn.Linear(2, 2)}, tmp_path / 'mod.pt')
    for weights_only in (True, False):
        with pytest.raises(pickle.UnpicklingError, match='torch.nn.modules.linear.Linear'):
            load(tmp_path / 'mod.pt', weights_only=weights_only)
    torch.save({'acc': np.float64(0.5)}, tmp_path / 'np.pt')
    with pytest.raises(pickle.UnpicklingError, match='weights_only` set to `False') as info:
        load(tmp_path / 'np.pt')
    assert 'numpy' in str(info.value)
    assert load(tmp_path / 'np.pt', weights_only=False) == {'acc': 0.5}


@pytest.mark.parametrize('dtype', [torch.complex64, torch.uint16])
def test_torch_dtype_ember_lacks(tmp_path, dtype):
    torch.save({'t': torch.zeros(2, dtype=dtype)}, tmp_path / 'c.pt')
    with pytest.raises(pickle.UnpicklingError, match='dtype ember does not have'):
        load(tmp_path / 'c.pt')


def test_torch_truncated_file(tmp_path):
    torch.save(torch_model().state_dict(), tmp_path / 'sd.pt')
    data = (tmp_path / 'sd.pt').read_bytes()
    (tmp_path / 'sd.pt').write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='sd.pt'):
        load(tmp_path / 'sd.pt')


def test_torch_checkpoints_load_without_torch(tmp_path):
    """Files written by torch.save load in a process where torch cannot be imported."""
    objs = torch_objects()
    tm = torch_model()
    torch.save({'objs': objs, 'sd': tm.state_dict()}, tmp_path / 'zip.pt')
    del objs['param']
    torch.save(objs, tmp_path / 'legacy.pt', _use_new_zipfile_serialization=False)
    np.savez(tmp_path / 'ref.npz', **{k: v.detach().numpy() for k, v in objs.items()})
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    np.save(tmp_path / 'x.npy', x)
    np.save(tmp_path / 'y.npy', tm.eval()(torch.tensor(x)).detach().numpy())
    script = textwrap.dedent(f'''
        import sys
        sys.modules['torch'] = None
        import numpy as np
        import ember
        from ember import nn
        from ember.serialization import load
        try:
            import torch
        except ImportError:
            pass
        else:
            raise SystemExit('torch is importable')
        d = {str(tmp_path)!r}
        ref = np.load(d + '/ref.npz')
        zipped = load(d + '/zip.pt')
        legacy = load(d + '/legacy.pt')
        for k in ref.files:
            for got in (zipped['objs'][k], legacy[k]):
                assert got.dtype.name == ref[k].dtype.name or ref[k].dtype == np.bool_, k
                np.testing.assert_array_equal(got.detach().numpy(), ref[k], err_msg=k)
        model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.LayerNorm(8),
                              nn.Linear(8, 3)).eval()
        model.load_state_dict(zipped['sd'])
        out = model(ember.tensor(np.load(d + '/x.npy'))).detach().numpy()
        np.testing.assert_allclose(out, np.load(d + '/y.npy'), rtol=1e-6, atol=1e-6)
        assert 'torch' not in {{m.split('.')[0] for m, v in sys.modules.items() if v}}
        print('ok')
    ''')
    r = subprocess.run([sys.executable, '-c', script], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == 'ok', r.stderr[-3000:]


# ---- resuming training --------------------------------------------------------------------------
def _batch(step):
    rng = np.random.default_rng(step)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = (x @ np.array([[1.], [-2.], [0.5], [3.]], np.float32) + 0.1).astype(np.float32)
    return ember.tensor(x), ember.tensor(y)


def _new_model():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))


class _MomentumSGD:
    """Hand-written SGD with momentum, with a state_dict of its buffers."""

    def __init__(self, params, lr=0.05, momentum=0.9):
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.buffers = [None] * len(self.params)

    def step(self):
        with ember.no_grad():
            for i, p in enumerate(self.params):
                g = p.grad
                self.buffers[i] = g.clone() if self.buffers[i] is None else \
                    self.buffers[i] * self.momentum + g
                p -= self.lr * self.buffers[i]
                p.grad = None

    def state_dict(self):
        return {'lr': self.lr, 'momentum': self.momentum, 'buffers': list(self.buffers)}

    def load_state_dict(self, sd):
        self.lr, self.momentum, self.buffers = sd['lr'], sd['momentum'], list(sd['buffers'])


def _optimizers():
    yield 'hand-written', _MomentumSGD
    if hasattr(ember.optim, 'SGD'):
        yield 'ember.optim.SGD', lambda params: ember.optim.SGD(params, lr=0.05, momentum=0.9)


def _train(model, opt, steps):
    losses = []
    for step in steps:
        x, y = _batch(step)
        loss = ((model(x) - y) ** 2).mean()
        if hasattr(opt, 'zero_grad'):
            opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize('name, make_opt', list(_optimizers()))
def test_resume_training_matches_uninterrupted_run(tmp_path, name, make_opt):
    model = _new_model()
    opt = make_opt(model.parameters())
    straight = _train(model, opt, range(10))

    model = _new_model()
    opt = make_opt(model.parameters())
    first = _train(model, opt, range(5))
    save({'model': model.state_dict(), 'optimizer': opt.state_dict(), 'step': 5},
         tmp_path / 'resume.pt')
    del model, opt

    ckpt = load(tmp_path / 'resume.pt')
    model = _new_model()
    model.load_state_dict(ckpt['model'])
    opt = make_opt(model.parameters())
    opt.load_state_dict(ckpt['optimizer'])
    rest = _train(model, opt, range(ckpt['step'], 10))
    assert first + rest == straight


def test_warnings_are_not_raised_for_plain_saves(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        save({'w': ember.ones(2)}, tmp_path / 'w.pt')
        load(tmp_path / 'w.pt')
