"""Code shown on the pages of *Tensors to Transformers*.

Every module holds one concept. Pages include its functions with
``literalinclude``, the gallery examples import them, and ``tests/`` checks
them against PyTorch's own implementations.
"""

__all__: list[str] = []
