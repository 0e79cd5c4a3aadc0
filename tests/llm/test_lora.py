"""LoRA: equal to the frozen layer at the start, merge equals unmerged, only adapters train."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.llm.lora import (
    LoRALinear,
    add_lora,
    count_parameters,
    lora_parameter_count,
    merge_lora,
)
from snippets.llm.model import ModernLM


@st.composite
def linear_cases(draw):
    in_features, out_features = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    rank = draw(st.integers(1, min(in_features, out_features)))
    batch = draw(st.lists(st.integers(0, 3), min_size=0, max_size=2))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    bias = draw(st.booleans())
    alpha = draw(st.sampled_from([0.5, 1.0, 8.0]))
    return in_features, out_features, rank, batch, dtype, bias, alpha, draw(st.integers(0, 999))


def _layer(case):
    in_features, out_features, rank, batch, dtype, bias, alpha, seed = case
    torch.manual_seed(seed)
    base = nn.Linear(in_features, out_features, bias=bias, dtype=dtype)
    layer = LoRALinear(base, rank, alpha)
    return layer, torch.randn(*batch, in_features, dtype=dtype)


@settings(max_examples=20, deadline=None)
@given(case=linear_cases())
def test_equals_the_frozen_layer_at_init(case):
    layer, x = _layer(case)
    torch.testing.assert_close(layer(x), F.linear(x, layer.base.weight, layer.base.bias))
    assert torch.count_nonzero(layer.lora_b) == 0 and torch.count_nonzero(layer.lora_a) > 0


@settings(max_examples=20, deadline=None)
@given(case=linear_cases())
def test_merged_weight_gives_the_outputs_of_the_adapter(case):
    layer, x = _layer(case)
    with torch.no_grad():
        layer.lora_b.normal_()  # a trained-looking B, so that the update is not zero
    weight = layer.base.weight.detach().clone()
    unmerged = layer(x)
    expected = weight + layer.alpha / layer.rank * layer.lora_b @ layer.lora_a
    layer.merge()
    torch.testing.assert_close(layer.base.weight, expected)
    torch.testing.assert_close(layer(x), unmerged)
    torch.testing.assert_close(F.linear(x, layer.base.weight, layer.base.bias), unmerged)
    layer.unmerge()
    torch.testing.assert_close(layer.base.weight, weight)
    torch.testing.assert_close(layer(x), unmerged)


def test_update_has_the_chosen_rank():
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(12, 10), rank=3)
    nn.init.normal_(layer.lora_b)
    assert torch.linalg.matrix_rank(layer.delta_weight()) == 3


def test_only_adapter_parameters_receive_gradients():
    torch.manual_seed(0)
    model = ModernLM(vocab_size=11, dim=16, layers=2, heads=4, kv_heads=2, context=8)
    report = add_lora(model, ["q", "v"], rank=2)
    model(torch.randint(0, 11, (2, 5)))[0].sum().backward()
    for name, p in model.named_parameters():
        if "lora_" in name:
            assert p.requires_grad and p.grad is not None, name
        else:
            assert not p.requires_grad and p.grad is None, name
    assert report.wrapped == [f"blocks.{i}.attn.{t}" for i in range(2) for t in ("q", "v")]
    # lora_a gets a gradient through B only after B moves; at init B = 0 gives A zero gradient
    assert all(
        torch.count_nonzero(p.grad) == 0 for n, p in model.named_parameters() if "lora_a" in n
    )


def test_trainable_count_is_rank_times_in_plus_out_per_layer():
    with torch.device("meta"):  # sizes of a 7B-like stack, without allocating it
        model = nn.Sequential(*(nn.Linear(4096, 4096, bias=False) for _ in range(4)))
    total = count_parameters(model)
    report = add_lora(model, ["0", "2"], rank=8)
    assert report.trainable == 2 * 8 * (4096 + 4096) == 2 * lora_parameter_count(4096, 4096, 8)
    assert report.total == total + report.trainable
    assert report.fraction == pytest.approx(report.trainable / report.total)
    with torch.device("meta"):
        model = ModernLM(vocab_size=50, dim=32, layers=3, heads=4, kv_heads=2, context=8)
    q_in, q_out = 32, 32
    v_in, v_out = 32, 2 * 8  # two key/value heads of width 8
    report = add_lora(model, ["q", "v"], rank=4)
    assert report.trainable == 3 * (4 * (q_in + q_out) + 4 * (v_in + v_out))


def test_training_changes_only_the_adapters_and_merge_keeps_the_function():
    torch.manual_seed(0)
    model = ModernLM(vocab_size=7, dim=8, layers=1, heads=2, kv_heads=1, context=6)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters()}
    add_lora(model, ["q", "v", "out"], rank=2, alpha=4.0)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    ids = torch.randint(0, 7, (3, 6))
    for _ in range(3):
        loss = F.cross_entropy(model(ids)[0].reshape(-1, 7), ids.roll(-1, 1).reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    for name, p in model.named_parameters():
        key = name.replace(".base", "")
        if key in frozen:
            torch.testing.assert_close(p, frozen[key], rtol=0, atol=0)
    before = model(ids)[0]
    assert merge_lora(model) == 3 and merge_lora(model) == 0
    torch.testing.assert_close(model(ids)[0], before)


def test_bad_input():
    with pytest.raises(TypeError, match="base must be an nn.Linear"):
        LoRALinear(nn.Conv1d(2, 2, 1))
    with pytest.raises(TypeError, match="rank must be an int"):
        LoRALinear(nn.Linear(4, 4), rank=2.0)
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(4, 4), rank=0)
    with pytest.raises(
        ValueError, match=r"rank must be at most min\(in_features, out_features\) = 3"
    ):
        LoRALinear(nn.Linear(4, 3), rank=4)
    with pytest.raises(ValueError, match="alpha"):
        LoRALinear(nn.Linear(4, 4), alpha=0.0)
    layer = LoRALinear(nn.Linear(4, 3), rank=2)
    with pytest.raises(ValueError, match=r"x must be \[\.\.\., in_features\] with in_features = 4"):
        layer(torch.randn(2, 5))
    with pytest.raises(TypeError, match="x must have the weights' dtype"):
        layer(torch.randn(2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="x must be"):
        layer([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(RuntimeError, match="not merged"):
        layer.unmerge()
    layer.merge()
    with pytest.raises(RuntimeError, match="already merged"):
        layer.merge()
    model = nn.Sequential(nn.Linear(3, 3))
    with pytest.raises(TypeError, match="targets must be a sequence of names"):
        add_lora(model, "0")
    with pytest.raises(ValueError, match="targets must name at least one layer"):
        add_lora(model, [])
    with pytest.raises(ValueError, match=r"targets \['q'\] match no nn.Linear"):
        add_lora(model, ["q"])
    with pytest.raises(ValueError, match="in_features"):
        lora_parameter_count(0, 3, 1)
