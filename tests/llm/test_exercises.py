"""The coding exercises of this chapter: each checker passes its reference, rejects wrong ones."""

from __future__ import annotations

import pytest

from snippets.common.exercises import check, exercises

CHAPTER = "llm"
NAMES = [e.name for e in exercises(CHAPTER)]


@pytest.mark.parametrize("name", NAMES)
def test_checker_passes_the_reference_and_rejects_each_wrong_solution(name):
    exercise = next(e for e in exercises(CHAPTER) if e.name == name)
    assert check(name, exercise.reference, verbose=False)
    for wrong in exercise.wrong:
        result = check(name, wrong, verbose=False)
        assert not result, f"{name}: the checker accepts {wrong.__name__}"
        assert result.message.startswith("fails on"), result.message


def test_references_agree_with_pytorch():
    import torch
    import torch.nn.functional as F

    from snippets.llm.exercises import (
        cached_attention_step,
        expand_kv_heads,
        llama_ffn_hidden,
        lora_from_delta,
        min_p_filter,
        rms_norm_backward,
        rope_shift,
    )
    from snippets.llm.rope import apply_rope
    from snippets.llm.swiglu import swiglu_hidden

    x = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(2, 3, 5, dtype=torch.float64)
    F.rms_norm(x, (5,), weight, eps=1e-5).backward(upstream)
    grads = rms_norm_backward(x.detach(), weight.detach(), upstream, 1e-5)
    torch.testing.assert_close(grads, (x.grad, weight.grad))

    k = torch.randn(2, 3, 6, 8, dtype=torch.float64)
    positions = torch.tensor([0, 4, 5, 9, 10, 30])
    for offset in (-3, 0, 7, 5000):
        shifted = rope_shift(apply_rope(k, positions, base=500.0), offset, base=500.0)
        torch.testing.assert_close(shifted, apply_rope(k, positions + offset, base=500.0))

    q = torch.randn(2, 6, 4, 3)
    kv = torch.randn(2, 2, 4, 3)
    torch.testing.assert_close(expand_kv_heads(kv, 6), kv.repeat_interleave(3, dim=1))
    torch.testing.assert_close(
        F.scaled_dot_product_attention(q, expand_kv_heads(kv, 6), expand_kv_heads(kv, 6)),
        F.scaled_dot_product_attention(q, kv, kv, enable_gqa=True),
    )

    q, k, v = (torch.randn(2, 3, 7, 4, dtype=torch.float64) for _ in range(3))
    full = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    out, keys, values = cached_attention_step(
        q[:, :, 4:], k[:, :, 4:], v[:, :, 4:], k[:, :, :4], v[:, :, :4]
    )
    torch.testing.assert_close(out, full[:, :, 4:])  # the last 3 rows of full causal attention
    torch.testing.assert_close((keys, values), (k, v))

    # the published sizes of Llama 2 7B, 13B, 70B and Llama 3 8B, 405B
    published = {
        (4096, 256, None): 11008,
        (5120, 256, None): 13824,
        (8192, 4096, 1.3): 28672,
        (4096, 1024, 1.3): 14336,
        (16384, 4096, 1.2): 53248,
    }
    for args, hidden in published.items():
        assert llama_ffn_hidden(*args) == hidden
    for dim in (1, 7, 512, 768, 1000):
        assert llama_ffn_hidden(dim, 8, None) == swiglu_hidden(dim)

    logits = torch.randn(4, 50, dtype=torch.float64) * 3
    filtered = min_p_filter(logits, 0.1)
    for row, out_row in zip(logits, filtered):  # token by token
        probs = row.softmax(-1).tolist()
        for z, p, kept in zip(row.tolist(), probs, out_row.tolist()):
            assert kept == (z if p >= 0.1 * max(probs) else float("-inf"))

    base = torch.randn(8, 6, dtype=torch.float64)
    b, a = torch.randn(8, 2, dtype=torch.float64), torch.randn(2, 6, dtype=torch.float64)
    torch.testing.assert_close(lora_from_delta(base, base + b @ a, 2), b @ a)  # exact if rank 2
    tuned = base + torch.randn(8, 6, dtype=torch.float64)
    best = (tuned - base - lora_from_delta(base, tuned, 2)).norm()
    tail = torch.linalg.svdvals(tuned - base)[2:]
    torch.testing.assert_close(best, tail.norm())  # Eckart–Young: the error is the dropped values
    for seed in range(20):  # no other rank-2 update comes closer
        g = torch.Generator().manual_seed(seed)
        b, a = (
            torch.randn(8, 2, generator=g, dtype=torch.float64),
            torch.randn(2, 6, generator=g, dtype=torch.float64),
        )
        assert (tuned - base - b @ a).norm() >= best
