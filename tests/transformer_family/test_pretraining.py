"""Source passages for BERT and masked-token pretraining: shapes, provenance, the loss, learning."""

from __future__ import annotations

import copy

import pytest
import torch

from snippets.transformer_family.bert import BertForClassification, BertForMaskedLM
from snippets.transformer_family.pretraining import SourcePassages, pretrain_masked_lm
from snippets.transformers.masked_lm import mask_tokens, masked_lm_loss

TEXTS = {
    "letters": ("the cat sat on the mat. " * 30, "a cat sat on a mat. " * 10),
    "digits": ("one two three four five. " * 30, "five four three. " * 10),
}


@pytest.fixture(scope="module")
def task() -> SourcePassages:
    return SourcePassages(TEXTS, length=6, bpe_vocab=40, bpe_chars=500)


def _contains(stream: torch.Tensor, window: torch.Tensor) -> bool:
    n = len(window)
    return any(torch.equal(stream[i : i + n], window) for i in range(len(stream) - n + 1))


def test_passages_are_cls_window_sep_from_the_right_source_and_part(task):
    assert task.vocab_size == len(task.bpe) + 3
    assert task.special_ids == (task.bpe.pad_id, task.cls_id, task.sep_id, task.mask_id)
    for part in ("train", "held out"):
        ids, labels = task.passages(part, 5, torch.Generator().manual_seed(0))
        assert ids.shape == (10, 8) and labels.tolist() == [0] * 5 + [1] * 5
        assert (ids[:, 0] == task.cls_id).all() and (ids[:, -1] == task.sep_id).all()
        for row, label in zip(ids, labels):
            assert _contains(task.streams[part][label], row[1:-1])
    # the held-out streams are the encoded held-out texts, not the training ones
    assert task.bpe.decode(task.streams["held out"][0].tolist()) == TEXTS["letters"][1]


def test_shuffle_permutes_the_same_passages(task):
    ids, labels = task.passages("train", 8, torch.Generator().manual_seed(3))
    mixed, mixed_labels = task.passages("train", 8, torch.Generator().manual_seed(3), shuffle=True)
    assert not torch.equal(mixed_labels, labels)
    assert sorted(map(tuple, mixed.tolist())) == sorted(map(tuple, ids.tolist()))
    for row, label in zip(mixed, mixed_labels):  # each passage keeps its label
        assert _contains(task.streams["train"][label], row[1:-1])


def test_config_fits_the_passages(task):
    config = task.config(d_model=16, num_layers=2, nhead=2)
    assert config.vocab_size == task.vocab_size and config.max_positions == task.length + 2
    assert config.pad_id == task.bpe.pad_id and config.dim_feedforward == 32
    assert config.dropout == 0.0
    ids, _ = task.passages("train", 3, torch.Generator().manual_seed(0))
    assert BertForClassification(config, 2)(ids).shape == (6, 2)


def test_pretraining_loss_is_the_masked_lm_loss_of_the_masked_batch(task):
    torch.manual_seed(0)
    model = BertForMaskedLM(task.config(d_model=16, num_layers=1, nhead=2))
    before = copy.deepcopy(model)
    ids, _ = task.passages("train", 16, torch.Generator().manual_seed(1))
    inputs, labels = mask_tokens(
        ids,
        task.mask_id,
        task.vocab_size,
        special_ids=task.special_ids,
        generator=torch.Generator().manual_seed(7),
    )
    expected = masked_lm_loss(before(inputs), labels).item()
    history = pretrain_masked_lm(
        model,
        ids,
        task.mask_id,
        task.special_ids,
        epochs=1,
        batch_size=len(ids),
        generator=torch.Generator().manual_seed(7),
    )
    assert history.train_loss[0] == pytest.approx(expected, rel=1e-5)
    assert not torch.equal(model.head.dense.weight, before.head.dense.weight)  # it trained


def test_pretraining_learns_the_masked_tokens(task):
    torch.manual_seed(0)
    model = BertForMaskedLM(task.config(d_model=32, num_layers=1, nhead=2))
    ids, _ = task.passages("train", 64, torch.Generator().manual_seed(2), shuffle=True)
    history = pretrain_masked_lm(
        model, ids, task.mask_id, task.special_ids, epochs=8, lr=3e-3, batch_size=16,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    assert history.train_loss[-1] < 0.8 * history.train_loss[0], history.train_loss


def test_pretrained_bert_is_pretrain_masked_lm_on_shuffled_training_passages(task):
    config = task.config(d_model=16, num_layers=1, nhead=2)
    torch.manual_seed(0)
    model, history = task.pretrained_bert(config, 8, 2, torch.Generator().manual_seed(4))
    assert isinstance(model, BertForMaskedLM) and model.bert.config == config
    assert len(history.train_loss) == 2
    torch.manual_seed(0)
    by_hand = BertForMaskedLM(config)
    ids, _ = task.passages("train", 8, torch.Generator().manual_seed(4), shuffle=True)
    masks = torch.Generator().manual_seed(1)
    pretrain_masked_lm(by_hand, ids, task.mask_id, task.special_ids, 2, generator=masks)
    for name, value in by_hand.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value, msg=name)


def test_bad_input(task):
    with pytest.raises(ValueError, match="part must be one of"):
        task.passages("test", 2, torch.Generator())
    with pytest.raises(ValueError, match="texts must hold at least one source"):
        SourcePassages({})
    with pytest.raises(TypeError, match="texts must be a dict"):
        SourcePassages([("a", "b")])
    with pytest.raises(TypeError, match=r"texts\['x'\] must be a \(train, held out\) pair"):
        SourcePassages({"x": "train text"})
    with pytest.raises(ValueError, match="length must be > 0"):
        SourcePassages(TEXTS, length=0)
    model = BertForMaskedLM(task.config(d_model=8, num_layers=1, nhead=2))
    ids, _ = task.passages("train", 2, torch.Generator())
    with pytest.raises(TypeError, match="model must be a BertForMaskedLM"):
        pretrain_masked_lm(model.bert, ids, task.mask_id, task.special_ids, epochs=1)
    with pytest.raises(TypeError, match="ids must have dtype torch.int64"):
        pretrain_masked_lm(model, ids.float(), task.mask_id, task.special_ids, epochs=1)
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        pretrain_masked_lm(model, ids, task.mask_id, task.special_ids, epochs=1, batch_size=0)
