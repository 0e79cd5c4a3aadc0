"""Architecture diagrams: labelled with the real module's sizes, readable, with alt text.

Every diagram is drawn from a small module built with unusual sizes (7, 13,
24, 37…), so a picture that printed fixed numbers instead of reading them
from the module would fail. Each figure is also checked for the site's
conventions: white background, at most 7 inches wide, fonts of at least
9 pt, no overlapping or clipped label, and an alt text that states the sizes.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.text import Text
from PIL import Image
from torch import nn

from snippets.common import diagrams
from snippets.common.diagrams import (
    MAX_WIDTH,
    alt_text,
    attention_diagram,
    box,
    canvas,
    ddp_diagram,
    decoder_layer_diagram,
    detr_diagram,
    encoder_layer_diagram,
    fit_height,
    gpt_diagram,
    gru_diagram,
    label,
    layer_norm_diagram,
    layout_problems,
    lstm_diagram,
    rnn_diagram,
    save,
    seq2seq_diagram,
    transformer_diagram,
    vit_diagram,
)
from snippets.common.plotting import use_style
from snippets.sequence_models.gru import ScratchGRU
from snippets.sequence_models.lstm import ScratchLSTM
from snippets.sequence_models.rnn import ScratchRNN
from snippets.sequence_models.seq2seq import Seq2Seq
from snippets.transformers.attention import MultiHeadAttention
from snippets.transformers.gpt import GPT
from snippets.transformers.layer_norm import LayerNorm
from snippets.transformers.transformer import (
    DecoderLayer,
    EncoderLayer,
    Seq2SeqTransformer,
    Transformer,
)
from snippets.vision_transformers.detr import DETR
from snippets.vision_transformers.vit import ViT


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def drawn(fig) -> str:
    """Every string drawn in ``fig``, one per line."""
    return "\n".join(t.get_text() for t in fig.findobj(Text) if t.get_visible())


def check(fig, *labels: str, alt: tuple[str, ...] = ()) -> None:
    """The site's conventions, plus: every label is drawn and the alt text names the sizes."""
    text = drawn(fig)
    missing = [s for s in labels if s not in text]
    assert not missing, f"not drawn: {missing}\n--- drawn ---\n{text}"
    description = alt_text(fig)
    assert len(description) > 80
    missing_alt = [s for s in alt if s not in description]
    assert not missing_alt, f"alt text lacks {missing_alt}: {description}"
    assert fig.get_facecolor() == (1.0, 1.0, 1.0, 1.0)  # the same in the light and dark themes
    assert fig.get_figwidth() <= MAX_WIDTH
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()]
    assert min(sizes) >= 9
    assert layout_problems(fig) == []


# -- recurrent networks ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: ScratchRNN(7, 13), lambda: nn.RNN(7, 13)])
def test_rnn_diagram_reads_input_and_hidden_size(make):
    fig = rnn_diagram(make(), steps=5)
    check(
        fig,
        "I = 7",
        "H = 13",
        "W_ih [H, I] = [13, 7]",
        "T = 5 steps",
        "$h_{5}$",  # more than 4 steps: the first two, "…", the last
        alt=("input size I = 7", "hidden size H = 13", "T = 5 steps"),
    )


def test_rnn_diagram_says_when_it_draws_one_layer_of_several():
    fig = rnn_diagram(nn.RNN(3, 4, num_layers=2, bidirectional=True), steps=2)
    assert "2 layers, bidirectional" in drawn(fig)
    assert "2 layers, bidirectional" in alt_text(fig)


def test_rnn_diagram_bad_arguments():
    with pytest.raises(TypeError, match="rnn must be an RNN layer.*got Linear"):
        rnn_diagram(nn.Linear(3, 4))
    with pytest.raises(TypeError, match="rnn must be .*1 gate blocks.*got LSTM with 4"):
        rnn_diagram(nn.LSTM(3, 4))
    with pytest.raises(ValueError, match="steps must be > 0"):
        rnn_diagram(ScratchRNN(3, 4), steps=0)
    with pytest.raises(TypeError, match="steps must be an int"):
        rnn_diagram(ScratchRNN(3, 4), steps=2.5)


@pytest.mark.parametrize("make", [lambda: ScratchLSTM(7, 13), lambda: nn.LSTMCell(7, 13)])
def test_lstm_diagram_labels_the_gates_with_the_real_sizes(make):
    fig = lstm_diagram(make())
    check(
        fig,
        "forget f",
        "input i",
        "cand. g",
        "output o",
        "I = 7",
        "H = 13",
        "W_ih [4H, I] = [52, 7]",
        "W_hh [4H, H] = [52, 13]",
        alt=("input size I = 7", "hidden size H = 13", "[52, 7]"),
    )


def test_gru_diagram_labels_reset_and_update_gates_with_the_real_sizes():
    fig = gru_diagram(ScratchGRU(7, 13))
    check(
        fig,
        "reset r",
        "update z",
        "W_ih [3H, I] = [39, 7]",
        "H = 13",
        alt=("input size I = 7", "hidden size H = 13", "[39, 7]"),
    )
    with pytest.raises(TypeError, match="gru must be a GRU .*got ScratchLSTM with 4"):
        gru_diagram(ScratchLSTM(3, 4))
    with pytest.raises(TypeError, match="lstm must be an LSTM .*got GRU with 3"):
        lstm_diagram(nn.GRU(3, 4))


def test_seq2seq_diagram_reads_vocabularies_embedding_and_hidden_sizes():
    fig = seq2seq_diagram(Seq2Seq(src_vocab=23, tgt_vocab=19, embed=11, hidden=13), 5, 2)
    check(
        fig,
        "embed 23 → 11",
        "embed 19 → 11",
        "bidirectional GRU, H = 13",
        "[N, S, 26]",  # both directions
        "hidden 26",
        "Linear [$s_t$; $c_t$] 52 → 26",
        "V = 19",
        alt=("23 source tokens", "hidden size 13", "decoder GRU (size 26)", "19 target tokens"),
    )


def test_seq2seq_diagram_without_attention_says_so():
    fig = seq2seq_diagram(Seq2Seq(23, 19, embed=11, hidden=13, attention=False))
    check(fig, "without attention", "only through its first state", alt=("Without attention",))
    assert "softmax" not in drawn(fig)


def test_seq2seq_diagram_bad_arguments():
    with pytest.raises(TypeError, match="model must be a recurrent encoder-decoder.*got GRU"):
        seq2seq_diagram(nn.GRU(3, 4))
    with pytest.raises(ValueError, match="src_len must be > 0"):
        seq2seq_diagram(Seq2Seq(5, 5), src_len=0)


# -- attention and Transformer layers -------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [lambda: MultiHeadAttention(24, 3), lambda: nn.MultiheadAttention(24, 3)]
)
def test_attention_diagram_splits_d_model_into_heads(make):
    fig = attention_diagram(make())
    check(
        fig,
        "d_model = 24, 3 heads",
        "$W_Q$  24 × 24",
        "d_k = 24 / 3 = 8",
        "head 3",
        "[N, T, 3 × 8 = 24]",
        "$W_O$ (out_proj)  24 × 24",
        alt=("d_model = 24", "3 heads", "d_k = 8"),
    )
    assert "head 4" not in drawn(fig)


def test_attention_diagram_with_many_heads_draws_first_and_last():
    text = drawn(attention_diagram(MultiHeadAttention(40, 10)))
    assert "head 1" in text and "head 10" in text and "…" in text and "head 5" not in text
    with pytest.raises(TypeError, match="attention must be a multi-head attention.*got Linear"):
        attention_diagram(nn.Linear(4, 4))


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_diagram_post_and_pre_norm(norm_first):
    layer = EncoderLayer(24, 3, 40, activation="gelu", norm_first=norm_first)
    fig = encoder_layer_diagram(layer)
    name = "pre-norm (norm_first=True)" if norm_first else "post-norm (norm_first=False)"
    check(
        fig,
        name,
        "d_model = 24",
        "3 heads × d_k = 8",
        "Linear 24 → 40",
        "gelu, Linear 40 → 24",
        "d_ff = 40",
        alt=("d_model = 24", "3 heads", "Linear 24 -> 40", name.split(" (")[0]),
    )
    assert drawn(fig).count("LayerNorm") == 2
    assert "this layer itself" not in drawn(fig)


def test_encoder_layer_diagram_can_draw_the_other_arrangement_and_says_so():
    layer = nn.TransformerEncoderLayer(24, 3, 40, batch_first=True)  # PyTorch's, post-norm
    fig = encoder_layer_diagram(layer, norm_first=True)
    check(fig, "pre-norm (norm_first=True)", "this layer itself is post-norm", "relu")
    with pytest.raises(TypeError, match="norm_first must be True, False or None"):
        encoder_layer_diagram(layer, norm_first="pre")
    with pytest.raises(TypeError, match="layer must be a Transformer encoder layer.*DecoderLayer"):
        encoder_layer_diagram(DecoderLayer(8, 2, 16))


def test_decoder_layer_diagram_has_masked_self_attention_cross_attention_and_feed_forward():
    fig = decoder_layer_diagram(DecoderLayer(24, 3, 40))
    check(
        fig,
        "masked multi-head self-attention",
        "cross-attention to the encoder",
        "3 heads × d_k = 8, causal",
        "memory\n[N, S, 24]",
        "Linear 24 → 40",
        "d_model = 24",
        alt=("d_model = 24", "3 heads", "memory [N, S, 24]", "Linear 24 -> 40"),
    )
    assert drawn(fig).count("LayerNorm") == 3
    with pytest.raises(TypeError, match="layer must be a Transformer decoder layer.*EncoderLayer"):
        decoder_layer_diagram(EncoderLayer(8, 2, 16))


# -- whole models ---------------------------------------------------------------------------------


def test_transformer_diagram_reads_stacks_embeddings_and_output_layer():
    model = Seq2SeqTransformer(41, 43, d_model=24, nhead=3, num_encoder_layers=2,
                               num_decoder_layers=3, dim_feedforward=40)  # fmt: skip
    fig = transformer_diagram(model)
    check(
        fig,
        "2 encoder + 3 decoder layers, d_model = 24",
        "2 × encoder layer",
        "3 × decoder layer",
        "embedding 41 → 24",
        "embedding 43 → 24",
        "sinusoidal\npositions",
        "24 → 40 → 24",
        "3 heads",
        "Linear 24 → vocab 43",
        "memory [N, S, 24]",
        alt=("d_model = 24", "stacks 2 layers", "stacks 3 layers", "41-token", "43 target tokens"),
    )


def test_transformer_diagram_of_a_bare_transformer_has_no_embeddings():
    fig = transformer_diagram(Transformer(24, 3, 1, 2, 40, norm_first=True))
    check(fig, "1 × encoder layer", "2 × decoder layer", "LayerNorm → self-attention",
          "source [N, S, 24]", "output [N, T, 24]")  # fmt: skip
    assert "embedding" not in drawn(fig)
    fig = transformer_diagram(nn.Transformer(24, 4, 2, 1, 40, batch_first=True))
    check(fig, "2 × encoder layer", "1 × decoder layer", "24 → 40 → 24")


def test_gpt_diagram_reads_vocabulary_context_and_layers():
    model = GPT(vocab_size=37, context=11, d_model=24, nhead=3, num_layers=3)
    fig = gpt_diagram(model)
    check(
        fig,
        "GPT (decoder-only): 3 layers, d_model = 24",
        "3 × pre-norm layer",
        "37 × 24",
        "11 × 24",
        "T ≤ 11",
        "causal self-attention\n3 heads × d_k = 8",
        "MLP 24 → 96 → 24",
        "Linear head 24 → vocab 37",
        "tied weights",
        "causal mask",
        alt=("37 x 24", "context = 11", "3 pre-norm", "3 heads", "tied"),
    )


def test_gpt_diagram_of_a_bidirectional_model_draws_no_causal_mask():
    class Bidirectional(GPT):
        causal = False

    fig = gpt_diagram(Bidirectional(37, 11, d_model=24, nhead=3, num_layers=1))
    check(fig, "Masked language model (bidirectional): 1 layer", "no mask")
    assert "causal" not in drawn(fig)


def test_whole_model_diagrams_reject_the_wrong_model():
    gpt = GPT(10, 4, d_model=8, nhead=2, num_layers=1)
    seq2seq = Seq2SeqTransformer(10, 10, d_model=8, nhead=2, num_encoder_layers=1,
                                 num_decoder_layers=1, dim_feedforward=16)  # fmt: skip
    with pytest.raises(TypeError, match="model must be an encoder-decoder Transformer.*GPT"):
        transformer_diagram(gpt)
    with pytest.raises(TypeError, match="model must be a decoder-only language model"):
        gpt_diagram(seq2seq)
    with pytest.raises(TypeError, match="model must be a Vision Transformer.*got GPT"):
        vit_diagram(gpt)
    with pytest.raises(TypeError, match="model must be a DETR detector.*got GPT"):
        detr_diagram(gpt)
    with pytest.raises(TypeError, match=r"model must be .*\(an nn.Module\), got str"):
        transformer_diagram("transformer")


# -- vision ---------------------------------------------------------------------------------------


def _vit():
    return ViT(image_size=12, patch_size=3, in_channels=2, num_classes=7, dim=24, depth=3,
               heads=3, mlp_dim=40)  # fmt: skip


def test_vit_diagram_reads_image_patch_and_model_sizes():
    fig = vit_diagram(_vit())
    check(
        fig,
        "16 patches of 3 × 3, dim = 24",
        "image 12 × 12, C = 2",
        "4 × 4 patches of 3 × 3",
        "C·p·p = 18",
        "dim 24",
        "1 + 16 = 17 tokens",
        "positions 0 … 16",
        "3 × pre-norm layer",
        "3 heads, dim = 24, MLP 40",
        "24 → 7 classes",
        "cls",
        alt=("12 x 12 image", "16 patches", "3 x 3", "18 values", "dim = 24", "7 class"),
    )


def test_vit_diagram_draws_a_given_image_cut_into_patches():
    fig = vit_diagram(_vit(), image=torch.rand(2, 12, 12))  # 2 channels: shown averaged
    images = fig.axes[0].get_images()
    assert len(images) == 1 + 6  # the whole image and the patches drawn (5, "…", the last)
    assert images[1].get_array().shape == (3, 3)  # one 3 × 3 patch
    check(fig, "C = 2")
    with pytest.raises(ValueError, match=r"image must be \[C, 12, 12\]"):
        vit_diagram(_vit(), image=torch.rand(2, 16, 16))
    with pytest.raises(TypeError, match="image must be a torch.Tensor"):
        vit_diagram(_vit(), image=[[0.0]])


def test_detr_diagram_runs_the_backbone_to_read_the_feature_map():
    model = DETR(num_classes=4, num_queries=6, dim=32, heads=2, encoder_layers=1,
                 decoder_layers=3, ff_dim=48)  # fmt: skip
    model.train()
    fig = detr_diagram(model, image_size=24)
    assert model.training  # the probe pass put it back
    check(
        fig,
        "6 object queries, d = 32",
        "[N, 1, 24, 24]",
        "[N, 32, 6, 6]",  # the backbone shrinks 4× per side
        "36 × 32",
        "1 layer, 2 heads",
        "3 layers, 2 heads",
        "6 × 32 (learned)",
        "Linear 32 → 4 + 1",
        "MLP 32 → 4",
        "Hungarian matching",
        alt=("24 x 24", "6 x 6 feature map", "36 tokens", "6 learned object queries", "4 classes"),
    )
    with pytest.raises(ValueError, match="image_size must be > 0"):
        detr_diagram(model, image_size=0)


# -- distributed training and normalization ------------------------------------------------------


def test_ddp_diagram_counts_parameters_and_shards_the_batch():
    model = nn.Sequential(nn.Linear(7, 13), nn.ReLU(), nn.Linear(13, 3))  # 104 + 42 = 146
    fig = ddp_diagram(model, world_size=3, batch_size=12)
    check(
        fig,
        "world_size K = 3",
        "P = 146 parameters",
        "146 params",
        "rank 2",
        "4 of 12 samples",
        "$g_0$ + $g_1$ + $g_2$) / 3",
        alt=("K = 3", "146 trainable parameters", "12 split into 3 shards of 4"),
    )
    assert "rank 3" not in drawn(fig)


def test_ddp_diagram_with_many_processes_and_frozen_parameters():
    model = nn.Linear(1000, 1000)
    model.bias.requires_grad_(False)  # frozen: no gradient to all-reduce
    fig = ddp_diagram(model, world_size=8)
    check(fig, "P = 1,000,000 parameters", "rank 7", "1/8 of the batch", "4.00 MB")
    assert "rank 3" not in drawn(fig)


def test_ddp_diagram_bad_arguments():
    with pytest.raises(TypeError, match="model must be the model every process copies"):
        ddp_diagram("model", 2)
    with pytest.raises(ValueError, match="world_size must be > 0"):
        ddp_diagram(nn.Linear(2, 2), 0)
    with pytest.raises(TypeError, match="world_size must be an int"):
        ddp_diagram(nn.Linear(2, 2), 2.0)
    with pytest.raises(ValueError, match="batch_size must be divisible by world_size=4, got 10"):
        ddp_diagram(nn.Linear(2, 2), 4, batch_size=10)


@pytest.mark.parametrize("make", [lambda: LayerNorm(24), lambda: nn.LayerNorm(24, eps=1e-3)])
def test_layer_norm_diagram_reads_the_normalized_shape(make):
    norm = make()
    fig = layer_norm_diagram(norm, batch=2, steps=3)
    check(
        fig,
        "D = 24 features",
        "2 sequences × 3 positions × 8 of 24 features",
        f"eps = {norm.eps}",
        "γ, β of shape (24,)",
        alt=("D = 24", "2 sequences of 3 tokens", f"eps = {norm.eps}"),
    )
    with pytest.raises(TypeError, match="norm must be a LayerNorm.*got BatchNorm1d"):
        layer_norm_diagram(nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match="batch must be at most 4"):
        layer_norm_diagram(norm, batch=5)


# -- building blocks ------------------------------------------------------------------------------


def test_layout_problems_finds_overlaps_clipping_and_overflowing_boxes():
    fig, ax = canvas(3.0, 2.0)
    assert layout_problems(fig) == []
    label(ax, (1.0, 1.0), "one label")
    label(ax, (1.05, 1.02), "another label")  # on top of the first
    label(ax, (2.95, 0.3), "past the edge")
    box(ax, (1.5, 1.7), "a long text in a narrow box", width=0.6)
    problems = "\n".join(layout_problems(fig))
    assert "'one label' overlaps 'another label'" in problems
    assert "'past the edge' sticks out of the figure" in problems
    assert "'a long text in a narrow box' does not fit in its box" in problems


def test_canvas_fit_height_and_box_checks():
    fig, ax = canvas(4.0, 6.0, "title")
    assert fig.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    fit_height(fig, ax, 2.0)
    assert fig.get_figheight() == pytest.approx(2.65)
    assert ax.diagram_title.get_position()[1] == pytest.approx(2.65 - 0.27)
    with pytest.raises(ValueError, match="width must be at most 7.0 inches"):
        canvas(8.0, 3.0)
    with pytest.raises(ValueError, match="role must be one of"):
        box(ax, (1, 1), "x", role="shiny")


def test_save_writes_the_alt_text_into_the_png(tmp_path):
    fig = rnn_diagram(ScratchRNN(7, 13), steps=2)
    path = tmp_path / "rnn.png"
    assert save(fig, path, dpi=50) == alt_text(fig)
    with Image.open(path) as png:
        assert png.info["Description"] == alt_text(fig)
        assert png.getpixel((0, 0))[:3] == (255, 255, 255)  # a painted white background
    with pytest.raises(ValueError, match="fig must come from a diagram function"):
        alt_text(plt.figure())


def test_every_diagram_function_is_tested_here():
    names = {n for n in dir(diagrams) if n.endswith("_diagram")}
    source = open(__file__).read()
    assert len(names) >= 12
    assert all(f"{n}(" in source for n in names)


def test_diagrams_ignore_the_site_style_and_raise_no_warnings(recwarn):
    with mpl.rc_context():
        use_style()  # constrained layout and grids: a diagram must not use either
        fig = encoder_layer_diagram(EncoderLayer(24, 3, 40))
        fig.canvas.draw()
        assert not fig.get_constrained_layout()
        assert not fig.axes[0].axison
    assert [str(w.message) for w in recwarn] == []


def _pages_with_diagrams() -> list:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs"
    uses = ("from snippets.common.diagrams import", "from snippets.common import diagrams")
    return sorted(p for p in docs.rglob("*/*.md") if any(u in p.read_text() for u in uses))


@pytest.mark.parametrize("page", _pages_with_diagrams(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pages_give_each_diagram_the_alt_text_its_function_writes(page, monkeypatch):
    """A page copies the diagram's alt text into its cell metadata; run the page's
    cells and check each copy against what the function returns, so that a change
    of sizes or wording cannot leave a stale description behind."""
    import contextlib
    import io
    import re
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
    import run_page

    monkeypatch.chdir(page.parent)
    namespace: dict = {"__name__": "__main__"}
    written = []
    for source in run_page.cells(page):
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, str(page), "exec"), namespace)
        for number in plt.get_fignums():
            text = getattr(plt.figure(number), "alt_text", None)
            if text:
                written.append(text)
        plt.close("all")
    copied = re.findall(r'alt: "(Diagram [^"]*)"', page.read_text())
    assert written, f"{page.name}: imports the diagrams but draws none"
    for text in written:
        assert text in copied, f"{page.name}: no cell has the alt text {text[:80]!r}…"
