"""Diagrams of the Transformer family: labelled with the module's sizes, clean layout, alt text."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

from snippets.common.diagrams import layout_problems
from snippets.transformer_family.bert import (
    BERT_BASE,
    DISTILBERT_BASE,
    BertConfig,
    BertForMaskedLM,
)
from snippets.transformer_family.diagrams import alt_text, bert_diagram


def _texts(fig):
    return " ".join(t.get_text() for t in fig.axes[0].texts)


def test_bert_diagram_shows_bert_base_sizes():
    fig = bert_diagram(BERT_BASE)
    text = _texts(fig)
    for expected in ("30,522 × 768", "512 × 768", "2 × 768", "12 post-norm", "768 → 3072"):
        assert expected in text
    assert layout_problems(fig) == []
    assert "12 post-norm encoder layers" in alt_text(fig)
    plt.close(fig)


def test_bert_diagram_reads_a_real_model_and_drops_missing_parts():
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=40,
        max_positions=10,
        type_vocab_size=0,
        d_model=8,
        num_layers=1,
        nhead=2,
        dim_feedforward=16,
        pooler=False,
    )
    fig = bert_diagram(BertForMaskedLM(config))
    text = _texts(fig)
    assert "40 × 8" in text and "no segment" in text and "no pooler" in text
    assert "1 post-norm encoder layer\n" in text
    assert layout_problems(fig) == []
    plt.close(fig)
    fig = bert_diagram(DISTILBERT_BASE)
    assert "6 post-norm" in _texts(fig) and "no segment embedding" in alt_text(fig)
    plt.close(fig)


def test_bert_diagram_rejects_other_models():
    with pytest.raises(TypeError, match="model must be a Bert"):
        bert_diagram(torch.nn.Linear(2, 2))
