"""DataLoader internals, laid out as ``torch.utils.data._utils``: ``collate`` (default
collation, ``collate`` with ``default_collate_fn_map``), ``fetch`` (index to batch) and
``worker`` (worker processes, ``get_worker_info``)."""
from . import collate, fetch, worker  # noqa: F401
