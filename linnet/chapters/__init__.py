"""Chapter protocols: the Monte Carlo designs, sweeps and tables of the book's chapters.

Each module serves one chapter group and is built on the core
(:mod:`linnet.data`, :mod:`linnet.network`, :mod:`linnet.init`,
:mod:`linnet.flows`, :mod:`linnet.theory`, :mod:`linnet.measure`); the core
never imports from here (``tests/test_architecture.py``).

- :mod:`linnet.chapters.landscape`: Section 2 (chapter 01).
- :mod:`linnet.chapters.stable_set`: Section 3 (chapters 02 and 03).
- :mod:`linnet.chapters.rates`: Section 4 (chapter 04).
- :mod:`linnet.chapters.arora`: Arora et al. 2018a (chapter 05).
- :mod:`linnet.chapters.depth`: depth and rates (chapter 06).
- :mod:`linnet.chapters.beyond`: beyond the paper (chapter 07).
"""
