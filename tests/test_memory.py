"""The allocator settings of ember._memory: repeated large temporaries reuse heap pages."""
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import ember  # noqa: F401  (applies the settings)
from ember import _memory

glibc = pytest.mark.skipif(platform.system() != 'Linux' or platform.libc_ver()[0] != 'glibc',
                           reason='the settings concern glibc only')


@glibc
def test_repeated_large_temporaries_do_not_fault():
    resource = pytest.importorskip('resource')
    for _ in range(3):                            # warm the heap
        (np.ones(1 << 20, np.float32) * 2).sum()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):                           # two 4 MiB arrays a round
        (np.ones(1 << 20, np.float32) * 2).sum()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    # glibc's defaults map each block afresh: about 2 x 1024 faults a round
    assert faults < 50 * 100, faults


@glibc
def test_tuning_applies_and_can_be_switched_off():
    assert _memory.tune_malloc() is True
    code = 'from ember import _memory; print(_memory.tune_malloc())'
    env = dict(os.environ, EMBER_MALLOC_TUNING='0')
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True,
                         check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.stdout.strip() == 'False'
