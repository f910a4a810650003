"""Handles returned by ``register_*hook``: ``handle.remove()`` takes the hook out again."""
import itertools
import weakref

__all__ = ['RemovableHandle']


class RemovableHandle:
    """Removes one hook from the dict(s) it was registered in; usable as a context manager."""
    _next_id = itertools.count()

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = next(RemovableHandle._next_id)
        if extra_dict is None:
            extra = ()
        elif isinstance(extra_dict, dict):
            extra = (extra_dict,)
        else:
            extra = tuple(extra_dict)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra)

    def remove(self):
        d = self.hooks_dict_ref()
        if d is not None and self.id in d:
            del d[self.id]
        for ref in self.extra_dict_ref:
            d = ref()
            if d is not None and self.id in d:
                del d[self.id]

    def __getstate__(self):
        """Pickle the hook dicts themselves (weak references cannot be pickled)."""
        return (self.hooks_dict_ref(), self.id,
                tuple(r() for r in self.extra_dict_ref))

    def __setstate__(self, state):
        hooks, self.id, extra = state
        self.hooks_dict_ref = weakref.ref(hooks) if hooks is not None else (lambda: None)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extra if d is not None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
