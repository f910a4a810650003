"""Progress display shared by the examples: tqdm or a text bar on a terminal, plain lines
otherwise (so logs piped to a file stay readable)."""
import sys
import time


class Progress:
    """Per-step progress: a bar on a terminal (tqdm when installed, else a text bar), otherwise
    a plain line every ``every`` steps (none when ``every`` is None). ``write`` prints a message
    without breaking the bar."""

    def __init__(self, total, every=None, stream=None, desc='train'):
        self.total, self.every, self.desc = total, every, desc
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.tqdm = None
        self.postfix = ''
        self.start = time.perf_counter()
        if self.tty:
            try:
                from tqdm import tqdm
                self.tqdm = tqdm(total=total, desc=desc, leave=False, file=self.stream)
            except ImportError:
                pass

    def update(self, step, loss):
        """Record that ``step`` (1-based) finished with training loss ``loss``."""
        self.postfix = f'loss {loss:.4f}'
        if self.tqdm is not None:
            self.tqdm.update(1)
            self.tqdm.set_postfix_str(self.postfix, refresh=False)
        elif self.tty:
            done = 30 * step // self.total
            bar = '#' * done + '.' * (30 - done)
            self.stream.write(f'\r{self.desc} [{bar}] {step}/{self.total} {self.postfix} '
                              f'({time.perf_counter() - self.start:.0f} s)')
            self.stream.flush()
        elif self.every and (step % self.every == 0 or step == self.total):
            self.write(f'step {step:4d}/{self.total}  {self.postfix}  '
                       f'({time.perf_counter() - self.start:.1f} s)')

    def write(self, message):
        if self.tqdm is not None:
            self.tqdm.write(message, file=self.stream)
        elif self.tty:
            self.stream.write('\r\033[K' + message + '\n')
        else:
            print(message, file=self.stream, flush=True)

    def close(self):
        if self.tqdm is not None:
            self.tqdm.close()
        elif self.tty:
            self.stream.write('\r\033[K')
            self.stream.flush()
