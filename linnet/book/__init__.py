"""The book's glue: check cells, claim records, glued values, figures and the registry.

Nothing here computes a result of the paper; the numerics live in the core
(:mod:`linnet.data`, :mod:`linnet.network`, ...). The core never imports
from here (``tests/test_architecture.py``).

- :mod:`linnet.book.checks`: ``check``, the cell that raises when a claim fails.
- :mod:`linnet.book.glue`: MyST-NB glue records without MyST-NB.
- :mod:`linnet.book.figures`: the figure style and ``publish_figure``.
- :mod:`linnet.book.registry`: the registry of paper items (``book/registry.yaml``).
"""
