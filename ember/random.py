"""ember.random: seeding and generator state, as ``torch.random``."""
import contextlib

from ._random import (Generator, default_generator, manual_seed, seed, initial_seed,
                      get_rng_state, set_rng_state, _cuda_generators)

__all__ = ['Generator', 'default_generator', 'manual_seed', 'seed', 'initial_seed',
           'get_rng_state', 'set_rng_state', 'fork_rng']


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller='fork_rng', _devices_kw='devices',
             device_type='cuda'):
    """Run a block with the RNG state forked: the CPU generator's state (and that of the CUDA
    generators of ``devices``, default all that exist) is restored on exit."""
    if not enabled:
        yield
        return
    if devices is None:
        gens = list(_cuda_generators.values())
    else:
        from ._random import cuda_generator
        gens = [cuda_generator(d if isinstance(d, int) else _index(d)) for d in devices]
    cpu_state = default_generator.get_state()
    states = [(g, g.get_state()) for g in gens]
    try:
        yield
    finally:
        default_generator.set_state(cpu_state)
        for g, st in states:
            g.set_state(st)


def _index(d):
    from ._backend import canonical_device
    return canonical_device(d).index or 0
