"""Test configuration: EMBER_TEST_DEVICE=cuda runs the suite on the GPU (through CuPy)."""
import os

import numpy as np
import pytest

import ember

DEVICE = os.environ.get('EMBER_TEST_DEVICE', 'cpu')


def pytest_configure(config):
    config.addinivalue_line('markers', 'cuda: needs CuPy and an NVIDIA GPU')


def pytest_collection_modifyitems(config, items):
    if ember.cuda.is_available():
        return
    skip = pytest.mark.skip(reason='CuPy or a GPU is missing')
    for item in items:
        if 'cuda' in item.keywords:
            item.add_marker(skip)
    if DEVICE == 'cuda':
        raise pytest.UsageError('EMBER_TEST_DEVICE=cuda but CuPy or a GPU is missing')


@pytest.fixture(autouse=True)
def _seed_and_default_dtype():
    """Every test starts from seed 0 and float32 as the default dtype."""
    np.random.seed(0)
    ember.manual_seed(0) if hasattr(ember, 'manual_seed') else None
    ember.set_default_dtype(ember.float32)
    yield
    ember.set_default_dtype(ember.float32)
