"""The decoder-only language model: init, optimizer groups, data windows and sampling."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.sequence_models.char_lm import lm_loss
from snippets.transformers.gpt import GPT, evaluate_lm, generate, param_groups


def _model():
    torch.manual_seed(0)
    return GPT(vocab_size=12, context=8, d_model=16, nhead=2, num_layers=2, dropout=0.0).eval()


def test_gpt_shapes_and_weight_tying():
    model = _model()
    assert model(torch.randint(12, (3, 8))).shape == (3, 8, 12)
    assert model.head.weight is model.token.weight


CAUSAL_MODEL = _model()


@settings(max_examples=10)
@given(t=st.integers(0, 6), seed=st.integers(0, 100))
def test_gpt_prediction_at_t_ignores_later_tokens(t, seed):
    model = CAUSAL_MODEL
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(12, (1, 8), generator=gen)
    changed = ids.clone()
    changed[0, t + 1 :] = torch.randint(12, (7 - t,), generator=gen)
    torch.testing.assert_close(model(ids)[:, : t + 1], model(changed)[:, : t + 1])


def test_blocks_equal_torch_causal_encoder_layer():
    model = _model()
    block = model.blocks.layers[0]
    reference = torch.nn.TransformerEncoderLayer(
        16, 2, 64, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    ).eval()
    reference.load_state_dict(block.state_dict())
    x = torch.randn(2, 8, 16)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(8)
    torch.testing.assert_close(
        block(x, is_causal=True), reference(x, src_mask=mask, is_causal=True)
    )


class ReferenceGPT(nn.Module):
    """The same GPT from PyTorch's own layers, written independently (nanoGPT's names).

    ``ln_1``, ``attn``, ``ln_2``, ``fc`` and ``proj`` are ``nn.LayerNorm``,
    ``nn.MultiheadAttention`` and ``nn.Linear``; the forward pass is the
    pre-norm block as GPT-2 defines it.
    """

    def __init__(self, vocab_size, context, d_model, nhead, num_layers):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab_size, d_model), nn.Embedding(context, d_model)
        self.h = nn.ModuleList(
            nn.ModuleDict(
                dict(
                    ln_1=nn.LayerNorm(d_model),
                    attn=nn.MultiheadAttention(d_model, nhead, batch_first=True),
                    ln_2=nn.LayerNorm(d_model),
                    fc=nn.Linear(d_model, 4 * d_model),
                    proj=nn.Linear(4 * d_model, d_model),
                )
            )
            for _ in range(num_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, ids):
        length = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(length))
        future = torch.ones(length, length, dtype=torch.bool).triu(1)
        for block in self.h:
            h = block["ln_1"](x)
            x = x + block["attn"](h, h, h, attn_mask=future, need_weights=False)[0]
            x = x + block["proj"](F.gelu(block["fc"](block["ln_2"](x))))
        return self.ln_f(x) @ self.wte.weight.T  # the output layer is the embedding

    def load_from(self, model: GPT) -> ReferenceGPT:
        """Copy the weights of the site's GPT, module by module."""
        self.wte.load_state_dict(model.token.state_dict())
        self.wpe.load_state_dict(model.position.embedding.state_dict())
        self.ln_f.load_state_dict(model.blocks.norm.state_dict())
        for block, layer in zip(self.h, model.blocks.layers, strict=True):
            pairs = dict(ln_1="norm1", attn="self_attn", ln_2="norm2", fc="linear1", proj="linear2")
            for mine, theirs in pairs.items():
                block[mine].load_state_dict(getattr(layer, theirs).state_dict())
        return self.eval()


@pytest.mark.parametrize("nhead, num_layers", [(1, 1), (2, 3), (4, 2)])
def test_gpt_logits_and_greedy_samples_equal_an_independent_reference(nhead, num_layers):
    torch.manual_seed(nhead + num_layers)
    model = GPT(13, 8, d_model=16, nhead=nhead, num_layers=num_layers, dropout=0.0).eval()
    for p in model.parameters():  # leave GPT-2's start: zero biases, unit LayerNorms ...
        p.data.normal_(0, 0.3)  # ... would hide a swapped or missing bias or gain
    reference = ReferenceGPT(13, 8, 16, nhead, num_layers).load_from(model)
    for shape in [(3, 8), (2, 5), (1, 1)]:
        ids = torch.randint(13, shape)
        with torch.no_grad():
            torch.testing.assert_close(model(ids), reference(ids))
    prompt = torch.randint(13, (3, 3))
    samples = generate(model, prompt, 12, top_k=1)  # runs past the context of 8
    ids = prompt
    with torch.no_grad():
        for _ in range(12):
            next_id = reference(ids[:, -8:])[:, -1].argmax(-1, keepdim=True)
            ids = torch.cat([ids, next_id], dim=1)
    assert torch.equal(samples, ids)
    assert model(torch.zeros(0, 4, dtype=torch.int64)).shape == (0, 4, 13)
    assert model(torch.zeros(2, 0, dtype=torch.int64)).shape == (2, 0, 13)


def test_evaluate_lm_equals_the_mean_loss_over_windows():
    model = _model()
    data = torch.randint(12, (41,))
    x, y = data[:40].reshape(5, 8), data[1:41].reshape(5, 8)
    with torch.no_grad():
        expected = lm_loss(model(x), y).item()
    assert evaluate_lm(model, data, 8, batch_size=2) == pytest.approx(expected, rel=1e-5)
    assert evaluate_lm(model, data[:44], 8, batch_size=3) == pytest.approx(expected, rel=1e-5)

    class WithCache(nn.Module):  # returns (logits, cache), like snippets.llm.model.ModernLM
        def __init__(self, inner):
            super().__init__()
            self.inner, self.context = inner, inner.context

        def forward(self, ids):
            return self.inner(ids), None

    assert evaluate_lm(WithCache(model), data, 8, batch_size=2) == pytest.approx(expected, rel=1e-5)


def test_generate_is_reproducible_and_top1_is_greedy():
    model = _model()
    prompt = torch.tensor([[1, 2, 3]])
    a = generate(model, prompt, 6, generator=torch.Generator().manual_seed(1))
    b = generate(model, prompt, 6, generator=torch.Generator().manual_seed(1))
    assert a.shape == (1, 9) and torch.equal(a, b)
    greedy = generate(model, prompt, 4, top_k=1)
    ids = prompt
    for _ in range(4):
        ids = torch.cat([ids, model(ids)[:, -1:].argmax(-1)], dim=1)
    assert torch.equal(greedy, ids)


def test_init_follows_gpt2_with_scaled_residual_projections():
    torch.manual_seed(0)
    layers, d = 6, 256
    model = GPT(vocab_size=500, context=64, d_model=d, nhead=4, num_layers=layers)
    residual = 0.02 / math.sqrt(2 * layers)  # about 0.0041
    for block in model.blocks.layers:
        for weight in (block.self_attn.out_proj.weight, block.linear2.weight):
            assert weight.std().item() == pytest.approx(residual, rel=0.05)
        for weight in (block.self_attn.in_proj_weight, block.linear1.weight):
            assert weight.std().item() == pytest.approx(0.02, rel=0.05)
        biases = (block.self_attn.in_proj_bias, block.self_attn.out_proj.bias)
        for bias in (*biases, block.linear1.bias, block.linear2.bias):
            assert not bias.any()
        assert torch.equal(block.norm1.weight, torch.ones(d))
    assert model.token.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.position.embedding.weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_param_groups_decay_matrices_only_and_hold_every_parameter_once():
    model = _model()
    decayed, others = param_groups(model, weight_decay=0.1)
    assert decayed["weight_decay"] == 0.1 and others["weight_decay"] == 0.0
    ids = [id(p) for p in decayed["params"] + others["params"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    names = {id(p): name for name, p in model.named_parameters()}
    decayed_names = {names[id(p)] for p in decayed["params"]}
    block = {"self_attn.in_proj_weight", "self_attn.out_proj.weight"}
    block |= {"linear1.weight", "linear2.weight"}
    assert decayed_names == {f"blocks.layers.{i}.{name}" for i in (0, 1) for name in block}
    other_names = {names[id(p)] for p in others["params"]}
    assert {"token.weight", "position.embedding.weight", "blocks.norm.weight"} <= other_names
    embeddings = {id(model.token.weight), id(model.position.embedding.weight)}
    assert all(p.ndim == 1 or id(p) in embeddings for p in others["params"])


def test_adamw_with_the_groups_shrinks_matrices_and_leaves_the_rest():
    model = _model()
    decayed, others = param_groups(model, weight_decay=0.5)
    before = [p.detach().clone() for p in decayed["params"] + others["params"]]
    optimizer = torch.optim.AdamW([decayed, others], lr=0.1)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # a zero gradient: only the decay moves a parameter
    optimizer.step()
    shrink = [1 - 0.1 * 0.5] * len(decayed["params"]) + [1.0] * len(others["params"])
    for p, old, factor in zip(decayed["params"] + others["params"], before, shrink, strict=True):
        torch.testing.assert_close(p.detach(), old * factor)


def test_bad_inputs_are_named():
    model = _model()
    with pytest.raises(ValueError, match="more than context=8"):
        model(torch.zeros(1, 9, dtype=torch.int64))
    with pytest.raises(ValueError, match="ids must hold ids from 0 to 11 .* from 0 to 12"):
        model(torch.tensor([[0, 12]]))
    with pytest.raises(ValueError, match="ids must hold at least one token"):
        generate(model, torch.zeros(1, 0, dtype=torch.int64), 3)
    with pytest.raises(ValueError, match="ids must hold ids from 0 to 11"):
        generate(model, torch.tensor([[-1]]), 3)
    with pytest.raises(ValueError, match="context must be at most the model's, 8, got 9"):
        evaluate_lm(model, torch.arange(12).repeat(2), 9)
    with pytest.raises(TypeError, match="data must have dtype torch.int64"):
        evaluate_lm(model, torch.zeros(20), 8)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        generate(model, torch.ones(1, 2, dtype=torch.int64), 3, temperature=0.0)
    with pytest.raises(ValueError, match="d_model must be divisible by nhead, got 10 and 4"):
        GPT(12, 8, d_model=10, nhead=4)
    with pytest.raises(ValueError, match="num_layers must be > 0"):
        GPT(12, 8, num_layers=0)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        param_groups(model, -0.1)
    with pytest.raises(TypeError, match="ids must have dtype torch.int64"):
        model(torch.zeros(1, 3))
