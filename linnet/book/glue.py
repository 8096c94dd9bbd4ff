"""Numbers a chapter hands to the book's prose, without needing the book's stack.

The book quotes computed numbers in Markdown through MyST-NB's ``{glue:text}``
role, which reads *glue records*: display outputs whose mime types carry the
prefix below and whose metadata names the value. :func:`glue` writes exactly
the records ``myst_nb.glue`` writes, with IPython alone, so a chapter runs in
any Jupyter (Colab, Binder, a downloaded notebook) with only ``linnet``
installed. Where MyST-NB is absent nobody will render the records, so the
value is also printed: the reader still sees every number the prose quotes.
"""

from __future__ import annotations

import importlib.util
from typing import Any

#: MyST-NB's prefix for stored-but-not-shown outputs (``myst_nb.ext.glue.GLUE_PREFIX``).
GLUE_PREFIX = "application/papermill.record/"


def book_stack_present() -> bool:
    """Whether MyST-NB (which renders glue records into the book) is installed."""
    return importlib.util.find_spec("myst_nb") is not None


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the book's ``{glue:text}`` roles.

    Parameters
    ----------
    name : str
        The key the chapter's Markdown uses (``{glue:text}`name```).
    value : object
        What to store; its display representation is stored, as MyST-NB does.
        Round numbers first: the stored text is compared exactly by nbval.
    display : bool
        Also show the value as a normal output (MyST-NB's ``display=True``).

    Outside a Jupyter kernel (plain Python) the value is printed instead.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string; got {name!r}")
    try:
        from IPython import get_ipython
        from IPython.core.formatters import format_display_data
        from IPython.display import display as ipy_display
    except ImportError:
        print(f"{name} = {value!r}")
        return
    if get_ipython() is None:
        print(f"{name} = {value!r}")
        return
    bundle, metadata = format_display_data(value)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display(
        {prefix + mime: data for mime, data in bundle.items()},
        raw=True,
        metadata=metadata,
    )
    if not display and not book_stack_present():
        # No book will render the record: show the number to the reader.
        print(f"{name} = {bundle.get('text/plain', value)}")
