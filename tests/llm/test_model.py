"""The modern language model: cached generation equals uncached, causality, tying, bad input."""

from __future__ import annotations

import pytest
import torch

from snippets.llm.model import ModernLM, cache_bytes, generate

VOCAB = 11


def _model(seed: int = 0, heads: int = 4, kv_heads: int = 2, context: int = 16) -> ModernLM:
    torch.manual_seed(seed)
    model = ModernLM(VOCAB, dim=16, layers=2, heads=heads, kv_heads=kv_heads, context=context)
    with torch.no_grad():  # larger weights than the init, so that the logits differ clearly
        for p in model.parameters():
            if p.ndim == 2:
                p.mul_(20.0)
    return model.eval()


def _ids(seed: int, n: int = 2, length: int = 5) -> torch.Tensor:
    return torch.randint(0, VOCAB, (n, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cached_generation_equals_uncached(seed, kv_heads):
    model = _model(seed, kv_heads=kv_heads)
    prompt = _ids(seed)
    steps = 20  # 5 + 20 > context = 16: the window slides after the cache fills
    cached = generate(model, prompt, steps, use_cache=True)
    uncached = generate(model, prompt, steps, use_cache=False)
    assert cached.shape == (2, 5 + steps)
    assert torch.equal(cached[:, :5], prompt)
    assert torch.equal(cached, uncached)
    assert len(set(cached[:, 5:].flatten().tolist())) > 1  # not a trivial constant output


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_cached_step_equals_full_forward(kv_heads):
    model = _model(3, kv_heads=kv_heads)
    ids = _ids(3, length=9)
    full, full_cache = model(ids)
    _, past = model(ids[:, :8])
    last, cache = model(ids[:, 8:], past)
    torch.testing.assert_close(last[:, 0], full[:, -1], rtol=1e-5, atol=1e-5)
    for (k, v), (fk, fv) in zip(cache, full_cache):
        assert k.shape == (2, kv_heads, 9, 4)
        torch.testing.assert_close(k, fk, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(v, fv, rtol=1e-5, atol=1e-5)
    assert cache_bytes(cache) == 2 * 2 * (2 * kv_heads * 9 * 4) * 4  # layers·(k,v)·numbers·fp32


def test_prefill_in_chunks_equals_full_forward():
    model = _model(4)
    ids = _ids(4, length=12)
    full, _ = model(ids)
    past, pieces = None, []
    for chunk in ids.split([5, 1, 6], dim=1):
        logits, past = model(chunk, past)
        pieces.append(logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=1e-5, atol=1e-5)


def test_causal_later_tokens_do_not_change_earlier_logits():
    model = _model(5)
    ids = _ids(5, length=10)
    changed = ids.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % VOCAB
    a, _ = model(ids)
    b, _ = model(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_output_layer_is_tied_to_the_embedding():
    model = ModernLM(VOCAB, dim=16, layers=1, heads=4, kv_heads=1, context=8)
    assert model.head.weight is model.token.weight
    names = [name for name, _ in model.named_parameters()]
    assert "head.weight" not in names  # counted once
    logits, _ = model(_ids(0))
    logits.sum().backward()
    assert model.token.weight.grad is not None


def test_positions_come_from_rope_only():
    model = _model(6)
    assert not any("pos" in name for name, _ in model.named_parameters())
    assert model(_ids(6))[0].shape == (2, 5, VOCAB)


def test_bad_input():
    model = _model(7, context=8)
    with pytest.raises(TypeError, match="ids"):
        model(_ids(0).float())
    with pytest.raises(ValueError, match="ids"):
        model(torch.zeros(5, dtype=torch.int64))
    with pytest.raises(ValueError, match="ids"):
        model(torch.full((1, 3), VOCAB))
    with pytest.raises(ValueError, match="context=8"):
        model(_ids(0, length=9))
    _, past = model(_ids(0, length=6))
    with pytest.raises(ValueError, match="context=8"):
        model(_ids(0, length=3), past)
    with pytest.raises(ValueError, match="past"):
        model(_ids(0, length=1), past[:1])
    with pytest.raises(TypeError, match="prompt_ids"):
        generate(model, _ids(0).int(), 3)
    with pytest.raises(ValueError, match="prompt_ids"):
        generate(model, torch.zeros(2, 0, dtype=torch.int64), 3)
    with pytest.raises(ValueError, match="steps"):
        generate(model, _ids(0), -1)
    with pytest.raises(ValueError, match="kv_heads"):
        ModernLM(VOCAB, dim=16, layers=1, heads=4, kv_heads=3, context=8)
    with pytest.raises(ValueError, match="heads"):
        ModernLM(VOCAB, dim=18, layers=1, heads=4, kv_heads=1, context=8)


def test_generate_keeps_training_mode_and_zero_steps():
    model = _model(8).train()
    prompt = _ids(8)
    assert torch.equal(generate(model, prompt, 0), prompt)
    assert model.training


def test_fused_model_gives_the_logits_and_tokens_of_the_from_scratch_one():
    model = _model(3)
    fused = ModernLM(VOCAB, dim=16, layers=2, heads=4, kv_heads=2, context=16, fused=True)
    fused.load_state_dict(model.state_dict())
    fused.eval()
    assert all(block.attn.fused for block in fused.blocks)
    ids = _ids(3, length=9)
    torch.testing.assert_close(fused(ids)[0], model(ids)[0])
    assert torch.equal(generate(fused, ids[:, :3], 8), generate(model, ids[:, :3], 8))
