"""Diagrams of the Transformer family's models, labelled with the sizes of the real modules.

Each function takes the module it draws and reads its sizes, as the
diagrams of :mod:`snippets.common.diagrams` do, and attaches alt text
(``fig.alt_text``).
"""

from __future__ import annotations

from matplotlib.figure import Figure

from snippets.common.diagrams import alt_text, arrow, box, canvas, fit_height, op

__all__ = ["bert_diagram", "alt_text"]


def bert_diagram(model: object) -> Figure:
    """BERT: token + position + segment embeddings, LayerNorm, the encoder stack, two heads.

    ``model`` is a :class:`~snippets.transformer_family.bert.Bert`, a model
    holding one as ``model.bert``, or the
    :class:`~snippets.transformer_family.bert.BertConfig` that builds one
    (to draw BERT-base without allocating its 110 million parameters); the
    config labels the picture. A model
    without segment embeddings (DistilBERT) or without a pooler is drawn so.

    Raises:
        TypeError: if ``model`` is none of these.
    """
    from snippets.transformer_family.bert import Bert, BertConfig

    bert = getattr(model, "bert", model)
    if isinstance(bert, Bert):
        c = bert.config
    elif isinstance(model, BertConfig):
        c = model
    else:
        raise TypeError(
            f"model must be a Bert, hold one as .bert, or be a BertConfig, got "
            f"{type(model).__name__}"
        )
    d = c.d_model
    fig, ax = canvas(6.8, 7.6, "BERT: an encoder with three embeddings and two heads")
    x = 3.4
    inp = box(
        ax,
        (x, 0.4),
        f"ids [N, T ≤ {c.max_positions}]:  [CLS] first text [SEP] second text [SEP]",
        width=5.6,
        height=0.42,
    )
    tables = [
        (1.2, f"token embedding\n{c.vocab_size:,} × {d}", "embedding", False),
        (x, f"position embedding\n{c.max_positions} × {d}", "position", False),
    ]
    if c.type_vocab_size:
        tables.append((5.6, f"segment embedding\n{c.type_vocab_size} × {d}", "embedding", False))
    else:
        tables.append((5.6, "no segment\nembedding", "embedding", True))
    plus = op(ax, (x, 2.35))
    for tx, text, role, dashed in tables:
        b = box(ax, (tx, 1.55), text, width=2.0, height=0.6, role=role, dashed=dashed)
        arrow(ax, (tx, inp.top[1]), b.bottom)
        if not dashed:
            arrow(ax, b.top, plus.left if tx < x else plus.right if tx > x else plus.bottom)
    norm = box(
        ax,
        (x, 3.0),
        f"LayerNorm (eps {c.layer_norm_eps:g}), dropout {c.dropout:g}",
        width=4.0,
        height=0.42,
        role="norm",
    )
    arrow(ax, plus.top, norm.bottom)
    layers = "layer" if c.num_layers == 1 else "layers"
    stack = box(
        ax,
        (x, 4.0),
        f"{c.num_layers} post-norm encoder {layers}\n"
        f"self-attention, {c.nhead} heads × {d // c.nhead};  "
        f"feed-forward {d} → {c.dim_feedforward} → {d}, GELU",
        width=5.6,
        height=0.9,
        role="attention",
    )
    arrow(ax, norm.top, stack.bottom)
    hidden = box(ax, (x, 5.0), f"hidden states [N, T, {d}]", width=2.8, height=0.42)
    arrow(ax, stack.top, hidden.bottom)
    mlm = box(
        ax,
        (1.7, 6.2),
        "masked-LM head\ndense, GELU, LayerNorm,\ndecoder tied to the\n"
        f"token embedding → {c.vocab_size:,}",
        width=3.0,
        height=1.1,
        role="output",
    )
    pool_text = (
        f"pooler on [CLS]\ntanh(Linear {d} → {d})\n→ one vector [N, {d}]"
        if c.pooler
        else f"no pooler:\nthe [CLS] state [N, {d}]\nfeeds a classifier"
    )
    pool = box(ax, (5.1, 6.2), pool_text, width=2.8, height=1.1, role="output", dashed=not c.pooler)
    arrow(ax, hidden.top, mlm.bottom)
    arrow(ax, hidden.top, pool.bottom)
    fit_height(fig, ax, mlm.top[1])
    segments = (
        f"a segment embedding ({c.type_vocab_size} types)"
        if c.type_vocab_size
        else "no segment embedding"
    )
    pooler = "a pooler, tanh of a dense layer on the [CLS] position" if c.pooler else "no pooler"
    fig.alt_text = (
        f"Diagram of BERT with d_model = {d}: token ids go through a token embedding "
        f"({c.vocab_size} x {d}), a learned position embedding ({c.max_positions} x {d}) and "
        f"{segments}, summed, then LayerNorm and dropout, then {c.num_layers} post-norm "
        f"encoder {layers} with {c.nhead} heads and a GELU feed-forward of width "
        f"{c.dim_feedforward}. On top sit a masked-LM head whose decoder is tied to the token "
        f"embedding, and {pooler}."
    )
    return fig
