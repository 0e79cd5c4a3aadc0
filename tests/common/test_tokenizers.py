import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from snippets.common.tokenizers import SPECIALS, CharTokenizer


def test_specials_come_first_and_padding_is_zero():
    tok = CharTokenizer(["hello", "world"])
    assert tok.itos[:4] == list(SPECIALS)
    assert tok.pad_id == 0
    assert len(tok) == 4 + len(set("helloworld"))


@given(st.text(alphabet="abc xyz", max_size=30))
def test_round_trip(text):
    tok = CharTokenizer(["abc xyz"])
    assert tok.decode(tok.encode(text, add_bos=True, add_eos=True)) == text


def test_unknown_characters_map_to_unk():
    tok = CharTokenizer(["ab"])
    assert tok.encode("aXb") == [tok.stoi["a"], tok.unk_id, tok.stoi["b"]]
    assert tok.decode(tok.encode("aXb")) == "a<unk>b"


def test_encode_batch_pads_right():
    tok = CharTokenizer(["abc"])
    batch = tok.encode_batch(["a", "abc"], add_eos=True)
    assert batch.dtype == torch.int64 and batch.shape == (2, 4)
    assert batch[0].tolist() == [tok.stoi["a"], tok.eos_id, 0, 0]
    assert [tok.decode(row) for row in batch] == ["a", "abc"]


def test_decode_stops_at_eos_unless_told():
    tok = CharTokenizer(["ab"])
    ids = [tok.stoi["a"], tok.eos_id, tok.stoi["b"]]
    assert tok.decode(ids) == "a"
    assert tok.decode(ids, stop_at_eos=False) == "a<eos>b"


def test_bad_input():
    tok = CharTokenizer(["ab"])
    with pytest.raises(TypeError, match="text must be a str, got int"):
        tok.encode(5)
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 6\), got 99"):
        tok.decode([99])
    with pytest.raises(ValueError, match="texts must hold at least one string"):
        tok.encode_batch([])


def test_tokenizer_base_requires_specials_first_and_keeps_first_duplicate():
    from snippets.common.tokenizers import Tokenizer

    with pytest.raises(ValueError, match="itos must start with"):
        Tokenizer(["a", "b"])
    tok = Tokenizer([*SPECIALS, "a", "a"])
    assert tok.stoi["a"] == 4 and len(tok) == 6
    with pytest.raises(NotImplementedError):
        tok.encode("a")


def test_bpe_and_char_tokenizers_share_decoding():
    from snippets.common.tokenizers import Tokenizer
    from snippets.transformers.bpe import BPETokenizer

    assert issubclass(BPETokenizer, Tokenizer) and issubclass(CharTokenizer, Tokenizer)
    bpe = BPETokenizer.train("low lower lowest " * 20, vocab_size=30)
    batch = bpe.encode_batch(["low", "lowest"], add_eos=True)
    assert [bpe.decode(row) for row in batch] == ["low", "lowest"]


@given(
    texts=st.lists(st.text(alphabet="abc\u00e9 ", max_size=12), min_size=1, max_size=8),
    add_bos=st.booleans(),
    add_eos=st.booleans(),
)
@example(texts=["", ""], add_bos=False, add_eos=False)  # every text empty: 0 wide
def test_encode_batch_rows_are_the_encodings_then_padding(texts, add_bos, add_eos):
    """Each row is encode(text) followed by <pad>, as wide as the longest (0 wide if all empty)."""
    tok = CharTokenizer(["abc"])
    batch = tok.encode_batch(texts, add_bos, add_eos)
    encoded = [tok.encode(t, add_bos, add_eos) for t in texts]
    width = max(len(ids) for ids in encoded)
    assert batch.dtype == torch.int64 and batch.shape == (len(texts), width)
    assert batch.tolist() == [ids + [tok.pad_id] * (width - len(ids)) for ids in encoded]
