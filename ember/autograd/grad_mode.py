"""Grad-mode switches: no_grad, enable_grad, set_grad_enabled, inference_mode.

Each works as a context manager and as a decorator (with or without parentheses).
"""
import functools
import inspect

__all__ = ['no_grad', 'enable_grad', 'set_grad_enabled', 'inference_mode',
           'is_grad_enabled', 'is_inference_mode_enabled']


class _GradState:
    __slots__ = ('enabled', 'inference')


GRAD = _GradState()
GRAD.enabled = True
GRAD.inference = False


def is_grad_enabled():
    return GRAD.enabled


def is_inference_mode_enabled():
    return GRAD.inference


class _GradModeContext:
    """Base of the grad-mode context managers: subclasses define ``_mode``."""
    _mode = True
    _inference = None

    def __new__(cls, *args, **kwargs):
        # ``@no_grad`` without parentheses: the class receives the function itself
        if cls in (no_grad, enable_grad) and len(args) == 1 and callable(args[0]) and not kwargs:
            return cls()(args[0])
        return super().__new__(cls)

    def __enter__(self):
        self._prev = (GRAD.enabled, GRAD.inference)
        GRAD.enabled = self._mode
        if self._inference is not None:
            GRAD.inference = self._inference

    def __exit__(self, *exc):
        GRAD.enabled, GRAD.inference = self._prev
        return False

    def clone(self):
        return self.__class__()

    def __call__(self, func):
        if inspect.isclass(func):
            raise TypeError(f'{type(self).__name__} cannot decorate a class')
        if inspect.isgeneratorfunction(func):
            @functools.wraps(func)
            def gen_wrapper(*args, **kwargs):
                gen = func(*args, **kwargs)
                with self.clone():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self.clone():
                            gen.close()
                        raise
                    except BaseException as e:
                        with self.clone():
                            response = gen.throw(e)
                    else:
                        try:
                            with self.clone():
                                response = gen.send(request)
                        except StopIteration as stop:
                            return stop.value
            return gen_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Disable graph recording: ops inside produce tensors with ``requires_grad=False``."""
    _mode = False


class enable_grad(_GradModeContext):
    """Re-enable graph recording inside a ``no_grad`` region."""
    _mode = True


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` switches recording off at once, and restores it on exit
    when used as a context manager."""

    def __new__(cls, mode):
        return object.__new__(cls)

    def __init__(self, mode):
        self._prev = (GRAD.enabled, GRAD.inference)
        self._mode = bool(mode)
        GRAD.enabled = self._mode

    def __enter__(self):
        pass

    def clone(self):
        return self.__class__(self._mode)

    def __call__(self, func):
        GRAD.enabled = self._prev[0]
        return super().__call__(func)


class inference_mode(_GradModeContext):
    """Like ``no_grad`` (``inference_mode(False)`` keeps the current mode)."""

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):
            return cls()(mode)
        return object.__new__(cls)

    def __init__(self, mode=True):
        self._on = bool(mode)

    def __enter__(self):
        self._prev = (GRAD.enabled, GRAD.inference)
        if self._on:
            GRAD.enabled = False
            GRAD.inference = True

    def clone(self):
        return self.__class__(self._on)
