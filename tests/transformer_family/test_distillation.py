"""Distillation losses: the KL·T² formula, zero at agreement, cosine term, student layers, FLOPs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.transformer_family.bert import BertConfig, BertForClassification
from snippets.transformer_family.distillation import (
    DistillationLoss,
    forward_flops,
    hidden_cosine_loss,
    soft_target_loss,
    soft_targets,
    student_from_teacher,
)

CONFIG = BertConfig(
    vocab_size=12,
    max_positions=8,
    d_model=8,
    num_layers=4,
    nhead=2,
    dim_feedforward=16,
    dropout=0.0,
)


def test_soft_targets_flatten_with_temperature_on_a_worked_case():
    logits = torch.tensor([2.0, 1.0, 0.0])
    expected = torch.tensor([math.exp(0.5), math.exp(0.25), 1.0])
    torch.testing.assert_close(soft_targets(logits, 4.0), expected / expected.sum())
    assert soft_targets(logits, 4.0).max() < soft_targets(logits, 1.0).max()


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
def test_soft_target_loss_is_kl_times_t_squared(temperature):
    gen = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(5, 3, generator=gen), torch.randn(5, 3, generator=gen)
    p = torch.softmax(teacher / temperature, -1)
    q = torch.softmax(student / temperature, -1)
    by_hand = temperature**2 * (p * (p.log() - q.log())).sum(-1).mean()
    reference = temperature**2 * F.kl_div(
        F.log_softmax(student / temperature, -1), p, reduction="batchmean"
    )
    got = soft_target_loss(student, teacher, temperature)
    torch.testing.assert_close(got, by_hand)
    torch.testing.assert_close(got, reference)


@settings(max_examples=20)
@given(seed=st.integers(0, 1000), temperature=st.floats(0.5, 8.0))
def test_soft_target_loss_is_zero_only_when_student_agrees(seed, temperature):
    logits = torch.randn(4, 5, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    same = soft_target_loss(logits, logits + 3.0, temperature)  # a shift keeps the softmax
    torch.testing.assert_close(same, torch.zeros((), dtype=torch.float64))
    other = logits.flip(-1)
    if not torch.allclose(torch.softmax(other, -1), torch.softmax(logits, -1)):
        assert soft_target_loss(other, logits, temperature) > 0


def test_hidden_cosine_loss_ignores_length_and_skips_masked_positions():
    gen = torch.Generator().manual_seed(1)
    hidden = torch.randn(2, 3, 4, generator=gen)
    torch.testing.assert_close(hidden_cosine_loss(3 * hidden, hidden), torch.tensor(0.0))
    torch.testing.assert_close(hidden_cosine_loss(-hidden, hidden), torch.tensor(2.0))
    other = torch.randn(2, 3, 4, generator=gen)
    keep = torch.tensor([[True, False, False], [True, True, False]])
    expected = (1 - F.cosine_similarity(other, hidden, dim=-1))[keep].mean()
    torch.testing.assert_close(hidden_cosine_loss(other, hidden, keep), expected)


def test_distillation_loss_is_the_weighted_sum():
    gen = torch.Generator().manual_seed(2)
    s_logits, t_logits = torch.randn(4, 3, generator=gen), torch.randn(4, 3, generator=gen)
    s_hidden, t_hidden = torch.randn(4, 5, 6, generator=gen), torch.randn(4, 5, 6, generator=gen)
    labels = torch.tensor([0, 2, 1, 1])
    loss = DistillationLoss(temperature=3.0, soft=0.5, hard=2.0, cosine=0.25)
    expected = (
        0.5 * soft_target_loss(s_logits, t_logits, 3.0)
        + 2.0 * F.cross_entropy(s_logits, labels)
        + 0.25 * hidden_cosine_loss(s_hidden, t_hidden)
    )
    torch.testing.assert_close(loss((s_logits, s_hidden), (t_logits, t_hidden, labels)), expected)


def test_student_starts_from_every_other_teacher_layer():
    torch.manual_seed(0)
    teacher = BertForClassification(CONFIG, 3).eval()
    student = student_from_teacher(teacher, 2)
    assert len(student.bert.encoder.layers) == 2 and student.bert.config.num_layers == 2
    for s_layer, t_index in zip(student.bert.encoder.layers, (0, 2)):
        t_state = teacher.bert.encoder.layers[t_index].state_dict()
        for name, value in s_layer.state_dict().items():
            torch.testing.assert_close(value, t_state[name])
    # a copy: training the student leaves the teacher alone
    with torch.no_grad():
        student.bert.embeddings.token.weight.add_(1.0)
    assert not torch.equal(
        student.bert.embeddings.token.weight, teacher.bert.embeddings.token.weight
    )
    ids = torch.randint(1, 12, (2, 5))
    assert student(ids).shape == (2, 3)


def test_bad_input():
    with pytest.raises(ValueError, match="temperature must be > 0"):
        soft_targets(torch.zeros(3), 0.0)
    with pytest.raises(ValueError, match="teacher_logits must have the shape"):
        soft_target_loss(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="student_logits must have a floating-point dtype"):
        soft_target_loss(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="teacher_hidden must have the shape"):
        hidden_cosine_loss(torch.zeros(1, 2, 3), torch.zeros(1, 3, 3))
    with pytest.raises(ValueError, match="keep must keep at least one"):
        hidden_cosine_loss(torch.ones(1, 2, 3), torch.ones(1, 2, 3), torch.zeros(1, 2, dtype=bool))
    with pytest.raises(ValueError, match="soft must be >= 0"):
        DistillationLoss(soft=-1.0)
    with pytest.raises(ValueError, match="num_layers must be at most the teacher's 4"):
        student_from_teacher(BertForClassification(CONFIG, 2), 5)
    with pytest.raises(TypeError, match="teacher must be a BertForClassification"):
        student_from_teacher(torch.nn.Linear(2, 2), 1)


def test_forward_flops_counts_the_matrix_products():
    linear = torch.nn.Linear(4, 3)
    assert forward_flops(linear, torch.zeros(5, 4)) == 2 * 5 * 4 * 3
    teacher = BertForClassification(CONFIG, 3).eval()
    n, t, d, d_ff, layers = 2, 6, CONFIG.d_model, CONFIG.dim_feedforward, CONFIG.num_layers
    ids = torch.randint(1, 12, (n, t))
    # per position: Q, K, V and output projections, two feed-forward matrices;
    # per sequence: scores Q K^T and weights @ V; then pooler and classifier
    layer = t * (4 * 2 * d * d + 2 * 2 * d * d_ff) + 2 * 2 * t * t * d
    expected = n * (layers * layer + 2 * d * d + 2 * d * 3)
    assert forward_flops(teacher, ids) == expected
    student = student_from_teacher(teacher, 2)
    assert forward_flops(student, ids) == n * (2 * layer + 2 * d * d + 2 * d * 3)
    assert teacher.training is False and not any(p.grad is not None for p in teacher.parameters())


def test_forward_flops_rejects_a_non_module():
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        forward_flops(lambda x: x, torch.zeros(2))
