"""BERT built from the site's layers: published counts, PyTorch's encoder, embeddings, heads."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.fundamentals.nn_basics import count_parameters
from snippets.transformer_family.bert import (
    BERT_BASE,
    DISTILBERT_BASE,
    ROBERTA_BASE,
    Bert,
    BertCharTokenizer,
    BertConfig,
    BertForClassification,
    BertForMaskedLM,
    released_name,
)
from snippets.transformers.masked_lm import IGNORE, mask_tokens

SMALL = BertConfig(
    vocab_size=20,
    max_positions=16,
    type_vocab_size=2,
    d_model=16,
    num_layers=2,
    nhead=4,
    dim_feedforward=32,
    dropout=0.0,
)


def _small(dtype=torch.float32, **changes):
    torch.manual_seed(0)
    config = BertConfig(**{**SMALL.__dict__, **changes})
    return Bert(config).to(dtype).eval()


@pytest.mark.parametrize(
    ("config", "expected"),
    [(BERT_BASE, 109_482_240), (ROBERTA_BASE, 124_645_632), (DISTILBERT_BASE, 66_362_880)],
)
def test_published_sizes_have_the_published_counts(config, expected):
    with torch.device("meta"):
        model = Bert(config)
    assert count_parameters(model) == expected


def test_heads_add_their_own_parameters_only():
    with torch.device("meta"):
        encoder = Bert(BERT_BASE)
        mlm = BertForMaskedLM(BERT_BASE)
        classifier = BertForClassification(BERT_BASE, num_classes=3)
    d, v = BERT_BASE.d_model, BERT_BASE.vocab_size
    # dense + LayerNorm + the decoder's bias; the decoder weight is the token embedding
    assert count_parameters(mlm) == count_parameters(encoder) + d * d + d + 2 * d + v
    assert mlm.head.decoder.weight is mlm.bert.embeddings.token.weight
    assert count_parameters(classifier) == count_parameters(encoder) + 3 * d + 3


@pytest.mark.parametrize(
    ("dtype", "batch", "length"),
    [(torch.float32, 3, 7), (torch.float64, 2, 16), (torch.float32, 1, 1)],
)
def test_encoder_equals_torch_transformer_encoder(dtype, batch, length):
    model = _small(dtype)
    layer = nn.TransformerEncoderLayer(
        16,
        4,
        32,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=False,
        layer_norm_eps=SMALL.layer_norm_eps,
        dtype=dtype,
    )
    reference = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    reference.load_state_dict(model.encoder.state_dict())
    gen = torch.Generator().manual_seed(length)
    ids = torch.randint(1, 20, (batch, length), generator=gen)
    ids[0, length // 2 + 1 :] = 0  # padding in the first row
    segments = torch.randint(0, 2, (batch, length), generator=gen)
    with torch.no_grad():
        x = model.embeddings(ids, segments)
        expected = reference(x, src_key_padding_mask=ids == 0)
        got = model(ids, segments)
    keep = ids != 0  # PyTorch's fast path may leave padded rows different
    torch.testing.assert_close(got[keep], expected[keep])


def test_embeddings_are_the_layer_norm_of_token_plus_position_plus_segment():
    model = _small()
    emb = model.embeddings
    ids = torch.tensor([[5, 6, 7, 8]])
    segments = torch.tensor([[0, 0, 1, 1]])
    total = emb.token.weight[ids] + emb.position.weight[:4] + emb.segment.weight[segments]
    expected = F.layer_norm(total, (16,), emb.norm.weight, emb.norm.bias, SMALL.layer_norm_eps)
    with torch.no_grad():
        torch.testing.assert_close(emb(ids, segments), expected)
        torch.testing.assert_close(emb(ids), emb(ids, torch.zeros_like(ids)))
        # swapping a segment id changes the embedding: the table is used
        assert not torch.allclose(emb(ids, 1 - segments), expected)


def test_without_segments_only_tokens_and_positions_count():
    model = _small(type_vocab_size=0, pooler=False)
    emb = model.embeddings
    ids = torch.tensor([[1, 2, 3]])
    expected = F.layer_norm(
        emb.token.weight[ids] + emb.position.weight[:3],
        (16,),
        emb.norm.weight,
        emb.norm.bias,
        SMALL.layer_norm_eps,
    )
    with torch.no_grad():
        torch.testing.assert_close(emb(ids), expected)
    assert emb.segment is None and model.pooler is None


@settings(max_examples=6, deadline=None)
@given(length=st.integers(1, 10), extra=st.integers(1, 5), seed=st.integers(0, 100))
def test_padding_never_changes_the_other_positions(length, extra, seed):
    model = _small()
    ids = torch.randint(1, 20, (1, length), generator=torch.Generator().manual_seed(seed))
    padded = torch.cat([ids, torch.zeros(1, extra, dtype=torch.int64)], dim=1)
    with torch.no_grad():
        torch.testing.assert_close(model(padded)[:, :length], model(ids))


def test_pooler_is_tanh_of_a_dense_layer_on_cls():
    model = _small()
    hidden = torch.randn(2, 5, 16)
    expected = torch.tanh(hidden[:, 0] @ model.pooler.weight.T + model.pooler.bias)
    with torch.no_grad():
        torch.testing.assert_close(model.pool(hidden), expected)


def test_classifier_reads_the_cls_position_only():
    torch.manual_seed(0)
    for pooler in (True, False):
        config = BertConfig(**{**SMALL.__dict__, "pooler": pooler})
        model = BertForClassification(config, num_classes=3).eval()
        hidden = torch.randn(2, 5, 16)
        changed = hidden.clone()
        changed[:, 1:] = torch.randn(2, 4, 16)
        with torch.no_grad():
            logits = model.classify(hidden)
            torch.testing.assert_close(model.classify(changed), logits)
            assert logits.shape == (2, 3)
            assert not torch.allclose(model.classify(hidden + 1), logits)


def test_mlm_head_is_dense_gelu_norm_then_the_tied_decoder():
    torch.manual_seed(0)
    model = BertForMaskedLM(SMALL).eval()
    head = model.head
    nn.init.normal_(head.decoder.bias)
    ids = torch.randint(1, 20, (2, 6))
    with torch.no_grad():
        h = model.bert(ids)
        t = F.layer_norm(F.gelu(head.dense(h)), (16,), head.norm.weight, head.norm.bias, 1e-12)
        expected = t @ model.bert.embeddings.token.weight.T + head.decoder.bias
        torch.testing.assert_close(model(ids), expected)


def test_encode_pair_builds_cls_sep_and_segments():
    tok = BertCharTokenizer(["abc"])
    ids, segments = tok.encode_pair("ab", "c")
    assert ids == [tok.cls_id, tok.stoi["a"], tok.stoi["b"], tok.sep_id, tok.stoi["c"], tok.sep_id]
    assert segments == [0, 0, 0, 0, 1, 1]
    ids, segments = tok.encode_pair("abcabc", "ab", length=8)  # the longer text is cut
    assert ids == [tok.cls_id, *tok.encode("abc"), tok.sep_id, *tok.encode("ab"), tok.sep_id]
    ids, segments = tok.encode_pair("a", length=5)
    assert ids == [tok.cls_id, tok.stoi["a"], tok.sep_id, tok.pad_id, tok.pad_id]
    assert segments == [0] * 5


def test_masking_a_bert_batch_follows_80_10_10_and_spares_special_tokens():
    tok = BertCharTokenizer(["abcdefghijklmnopqrstuvwxyz "])
    texts = ["the quick brown fox jumps", "over the lazy dog again and again"]
    batch = [tok.encode_pair(a, b, length=48) for a in texts for b in texts] * 100
    ids = torch.tensor([ids for ids, _ in batch])
    gen = torch.Generator().manual_seed(0)
    inputs, labels = mask_tokens(
        ids, tok.mask_id, len(tok), special_ids=tok.special_ids, generator=gen
    )
    picked = labels != IGNORE
    special = torch.isin(ids, torch.tensor(tok.special_ids))
    assert not picked[special].any()
    assert torch.equal(inputs[special], ids[special])
    share = picked.sum() / (~special).sum()
    assert 0.14 < share < 0.16
    masked = (inputs[picked] == tok.mask_id).float().mean()
    kept = (inputs[picked] == ids[picked]).float().mean()
    assert 0.78 < masked < 0.82 and 0.085 < kept < 0.12


def test_released_names_cover_every_parameter_once():
    with torch.device("meta"):
        mlm = BertForMaskedLM(SMALL)
        classifier = BertForClassification(SMALL, 2)
    names = [released_name(n) for n, _ in mlm.named_parameters()]
    names += [released_name(n) for n, _ in classifier.named_parameters() if "classifier" in n]
    assert len(names) == len(set(names))
    assert released_name("bert.encoder.layers.1.norm1.weight") == (
        "bert.encoder.layer.1.attention.output.LayerNorm.weight"
    )
    assert released_name("embeddings.segment.weight") == "embeddings.token_type_embeddings.weight"
    assert released_name("head.decoder.bias") == "cls.predictions.bias"


def test_bad_input():
    with pytest.raises(ValueError, match="d_model must be divisible by nhead"):
        BertConfig(d_model=10, nhead=4)
    with pytest.raises(ValueError, match="type_vocab_size must be >= 0"):
        BertConfig(type_vocab_size=-1)
    with pytest.raises(ValueError, match="dropout must be in"):
        BertConfig(dropout=1.0)
    with pytest.raises(ValueError, match="pad_id must be an id"):
        BertConfig(vocab_size=5, pad_id=5)
    with pytest.raises(TypeError, match="config must be a BertConfig"):
        Bert({"d_model": 16})
    model = _small()
    with pytest.raises(ValueError, match="more than max_positions=16"):
        model(torch.ones(1, 17, dtype=torch.int64))
    with pytest.raises(ValueError, match="ids must hold ids from 0 to 19"):
        model(torch.tensor([[1, 20]]))
    with pytest.raises(TypeError, match="ids must have dtype torch.int64"):
        model(torch.ones(1, 3))
    with pytest.raises(ValueError, match="segments must have the shape of ids"):
        model(torch.ones(1, 3, dtype=torch.int64), torch.zeros(1, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="segments must hold ids from 0 to 1"):
        model(torch.ones(1, 3, dtype=torch.int64), torch.full((1, 3), 2))
    with pytest.raises(ValueError, match="no segment embedding"):
        _small(type_vocab_size=0)(torch.ones(1, 3, dtype=torch.int64), torch.zeros(1, 3).long())
    with pytest.raises(ValueError, match="no pooler"):
        _small(pooler=False).pool(torch.randn(1, 2, 16))
    with pytest.raises(ValueError, match="hidden must be"):
        model.pool(torch.randn(1, 2, 8))
    with pytest.raises(ValueError, match="num_classes must be > 0"):
        BertForClassification(SMALL, 0)
    with pytest.raises(ValueError, match="parameter name of Bert"):
        released_name("encoder.layers.0.nonsense")
    with pytest.raises(ValueError, match="length must be at least 3"):
        BertCharTokenizer(["a"]).encode_pair("a", "a", length=2)
