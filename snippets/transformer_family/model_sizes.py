"""The published sizes, built and counted: BERT, RoBERTa, DistilBERT, GPT-2, T5.

Each model is built from this site's modules at its published size on the
``meta`` device, where a tensor has a shape and a dtype but no memory, so a
124-million-parameter model is built in a fraction of a second and its
parameters counted exactly. :func:`model_sizes` returns one
:class:`ModelSize` row per model, :func:`size_table` lays the rows out as
text. :func:`gpt2_released_name` maps the parameter names of
:class:`~snippets.transformers.gpt.GPT` to those of the released GPT-2
checkpoints (:func:`snippets.transformer_family.t5.released_name` and
:func:`snippets.transformer_family.bert.released_name` do it for T5 and BERT).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import torch
from torch import nn

from snippets.transformer_family.bert import BERT_BASE, DISTILBERT_BASE, ROBERTA_BASE, Bert
from snippets.transformer_family.t5 import T5, T5_SMALL, count_parameters
from snippets.transformers.gpt import GPT

#: GPT-2 small (Radford et al., 2019): 50,257 byte-level BPE tokens, 1,024
#: positions, 12 pre-norm layers of width 768 with 12 heads, tied output layer.
GPT2_SMALL = {"vocab_size": 50_257, "context": 1024, "d_model": 768, "nhead": 12, "num_layers": 12}


class ModelSize(NamedTuple):
    """One row of the table of published models."""

    name: str
    objective: str
    architecture: str
    layers: str  #: "12", or "6 + 6" for an encoder and a decoder
    d_model: int
    heads: int
    parameters: int  #: counted on the built module, a tied matrix once
    changed: str  #: what the model changed relative to the one before it


def _build(factory) -> nn.Module:
    with torch.device("meta"):
        return factory()


def model_sizes() -> list[ModelSize]:
    """Build the five published models on the ``meta`` device and count their parameters.

    BERT-base and RoBERTa-base include the pooler (as the released
    ``BertModel`` and ``RobertaModel`` do), DistilBERT-base has none; GPT-2's
    and T5's output layers share the token embedding and count once.

    Returns:
        five :class:`ModelSize` rows: BERT-base, RoBERTa-base, DistilBERT-base,
        GPT-2 small and T5-small.
    """
    encoder = "encoder only"
    rows = []
    for name, config, objective, changed in (
        (
            "BERT-base",
            BERT_BASE,
            "masked tokens + next sentence",
            "encoder pretrained on both sides of a word",
        ),
        (
            "RoBERTa-base",
            ROBERTA_BASE,
            "masked tokens (dynamic)",
            "training: no next sentence, dynamic masks, more data, byte BPE",
        ),
        (
            "DistilBERT-base",
            DISTILBERT_BASE,
            "imitate BERT + masked tokens",
            "half the layers, distilled from BERT",
        ),
    ):
        model = _build(lambda config=config: Bert(config))
        rows.append(
            ModelSize(
                name,
                objective,
                encoder,
                str(config.num_layers),
                config.d_model,
                config.nhead,
                count_parameters(model),
                changed,
            )
        )
    gpt2 = _build(lambda: GPT(dropout=0.0, **GPT2_SMALL))
    rows.append(
        ModelSize(
            "GPT-2 small",
            "next token",
            "decoder only (causal)",
            str(GPT2_SMALL["num_layers"]),
            GPT2_SMALL["d_model"],
            GPT2_SMALL["nhead"],
            count_parameters(gpt2),
            "pre-norm, larger context, tied output layer",
        )
    )
    t5 = _build(lambda: T5(T5_SMALL))
    rows.append(
        ModelSize(
            "T5-small",
            "span corruption, then text-to-text",
            "encoder-decoder",
            f"{T5_SMALL.num_layers} + {T5_SMALL.num_decoder_layers}",
            T5_SMALL.d_model,
            T5_SMALL.num_heads,
            count_parameters(t5),
            "relative position buckets, RMSNorm, no biases",
        )
    )
    return rows


def size_table(rows: list[ModelSize]) -> str:
    """The rows as an aligned text table, parameters with thousands separators.

    Raises:
        TypeError: if a row is not a :class:`ModelSize`.
        ValueError: if ``rows`` is empty.
    """
    if len(rows) == 0:
        raise ValueError("rows must hold at least one ModelSize, got none")
    for row in rows:
        if not isinstance(row, ModelSize):
            raise TypeError(f"rows must hold ModelSize rows, got {type(row).__name__}")
    header = ("model", "objective", "architecture", "layers", "d_model", "heads", "parameters")
    cells = [header] + [
        (r.name, r.objective, r.architecture, r.layers, str(r.d_model), str(r.heads),
         f"{r.parameters:,}")
        for r in rows
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = {3, 4, 5, 6}
    lines = []
    for row in cells:
        parts = [
            cell.rjust(w) if i in numeric else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths))
        ]
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


_GPT2_LAYER = {
    "norm1": ("ln_1", False),
    "self_attn.in_proj_weight": ("attn.c_attn.weight", True),
    "self_attn.in_proj_bias": ("attn.c_attn.bias", False),
    "self_attn.out_proj": ("attn.c_proj", True),
    "norm2": ("ln_2", False),
    "linear1": ("mlp.c_fc", True),
    "linear2": ("mlp.c_proj", True),
}


def gpt2_released_name(name: str) -> tuple[str, bool]:
    """The released GPT-2 name of a parameter of :class:`~snippets.transformers.gpt.GPT`.

    Returns ``(released_name, transposed)``. GPT-2's checkpoints store every
    matrix of a block as a ``Conv1D`` of shape ``[in, out]``, the transpose of
    an ``nn.Linear`` weight ``[out, in]``: ``transposed`` is True for those,
    and the weight copies in as ``released.T``. ``c_attn`` holds the query,
    key and value projections side by side (``[768, 2304]``), in the order of
    ``in_proj_weight``'s rows. The output layer is tied to ``wte`` and not
    stored separately.

    Raises:
        TypeError: if ``name`` is not a string.
        ValueError: if ``name`` is not a parameter name of ``GPT``.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    fixed = {
        "token.weight": "transformer.wte.weight",
        "position.embedding.weight": "transformer.wpe.weight",
        "blocks.norm.weight": "transformer.ln_f.weight",
        "blocks.norm.bias": "transformer.ln_f.bias",
    }
    if name in fixed:
        return fixed[name], False
    match = re.fullmatch(r"blocks\.layers\.(\d+)\.(.+?)(?:\.(weight|bias))?", name)
    if match:
        block, part, leaf = match.groups()
        if leaf is not None and part in _GPT2_LAYER:
            released, transposed = _GPT2_LAYER[part]
            return f"transformer.h.{block}.{released}.{leaf}", transposed and leaf == "weight"
        if leaf is None and part in _GPT2_LAYER:
            released, transposed = _GPT2_LAYER[part]
            return f"transformer.h.{block}.{released}", transposed
    raise ValueError(f"name must be a parameter name of GPT, got {name!r}")


def weight_layout(model: nn.Module, rename, first_block_only: bool = True) -> list[tuple]:
    """``(our name, our shape, released name)`` for every parameter of ``model``.

    ``rename`` maps one of our names to the released one (it may return a
    ``(name, transposed)`` pair, as :func:`gpt2_released_name` does; a
    transposed matrix is marked ``ᵀ``). With ``first_block_only`` the
    layers after the first of each stack are left out (they repeat it).

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    rows = []
    for name, parameter in model.named_parameters():
        if first_block_only and re.search(r"\.layers\.[1-9]\d*\.", name):
            continue
        released = rename(name)
        if isinstance(released, tuple):
            released = released[0] + (" (ᵀ)" if released[1] else "")
        rows.append((name, tuple(parameter.shape), released))
    return rows
