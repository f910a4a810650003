"""Errors of ``ember.load``: what counts as a damaged file, and which errors reach the
caller unchanged (the user's own code run by trusted unpickling or ``map_location``)."""
import pickle
import struct
import zipfile
import zlib


class CheckpointError(RuntimeError, pickle.UnpicklingError):
    """A checkpoint file that cannot be read: truncated, corrupted, or not a checkpoint."""
    __module__ = 'ember.serialization'   # its public home


class _WeightsOnlyError(pickle.UnpicklingError):
    """``weights_only=True`` met something that only a full unpickling could rebuild."""


class _Passthrough(Exception):
    """Carries an error raised by trusted unpickling (``weights_only=False``: the user's own
    classes may fail to import or rebuild) past the check for damaged files."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


def _weights_only_message(what):
    return ('Weights only load failed. This file can still be loaded, to do so you have two '
            'options, do those steps only if you trust the source of the checkpoint. \n'
            '\t(1) Re-running `ember.load` with `weights_only` set to `False` will likely '
            'succeed, but it can result in arbitrary code execution. Do it only if you got the '
            'file from a trusted source.\n'
            '\t(2) Alternatively, save only tensors, containers and Python scalars (for '
            'example `model.state_dict()` rather than `model`).\n'
            f'\tWeightsUnpickler error: Unsupported global: GLOBAL {what} was not an allowed '
            'global by default.')


_DAMAGE = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, ValueError,
           TypeError, IndexError, AttributeError, struct.error, zlib.error, RecursionError,
           OverflowError, pickle.UnpicklingError)


def _damaged(name, error):
    return CheckpointError(f"ember.load: cannot read '{name}': the file is truncated or "
                           f'corrupted ({type(error).__name__}: {error})')


def _trusted_load(unpickler, weights_only):
    """``unpickler.load()``; with ``weights_only=False`` its errors reach the caller as they
    are (except damage already diagnosed, which stays a CheckpointError)."""
    if weights_only:
        return unpickler.load()
    try:
        return unpickler.load()
    except (CheckpointError, _WeightsOnlyError, _Passthrough):
        raise
    except Exception as e:
        raise _Passthrough(e) from e
