"""Bits per character: one scale for language models with different tokenizers.

A model's loss is in nats per *token*, and a token is one character for a
character-level model but a few characters for a BPE model: the two losses
cannot be compared directly. Both models, though, spend some total number of
nats on the same text. Divide that total by the text's characters (and by
``ln 2``, to count bits) and the two models are measured on one scale: how
many bits each needs to encode one character of the text.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snippets.common.checks import check_positive
from snippets.common.tokenizers import Tokenizer
from snippets.transformers.gpt import evaluate_lm


def bits_per_char(nats_per_token: float, tokens: int, chars: int) -> float:
    """``nats_per_token · tokens / (ln 2 · chars)``: the total code length per character.

    Args:
        nats_per_token: mean cross-entropy loss over the ``tokens`` predicted tokens.
        tokens: how many tokens were predicted.
        chars: how many characters those tokens spell.

    Raises:
        TypeError: if ``tokens`` or ``chars`` is not an int.
        ValueError: if ``nats_per_token`` is negative or ``tokens`` or ``chars``
            is not positive.
    """
    for name, value in (("tokens", tokens), ("chars", chars)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        check_positive(value, name)
    check_positive(nats_per_token, "nats_per_token", allow_zero=True)
    return nats_per_token * tokens / (math.log(2) * chars)


def evaluate_bits_per_char(
    model: nn.Module, ids: torch.Tensor, context: int, tokenizer: Tokenizer
) -> float:
    """Bits per character of ``model`` on the token ids ``ids`` of a validation text.

    :func:`~snippets.transformers.gpt.evaluate_lm` scores the next-token loss
    over windows of ``context`` tokens: it predicts the tokens
    ``ids[1 : count·context + 1]``, with ``count = (len(ids) - 1) // context``.
    Those tokens spell ``sum(len(token))`` characters of the text, which
    :func:`bits_per_char` divides the total loss by.

    Raises:
        ValueError: if a predicted id is a special token, which spells no
            characters of the text; and as :func:`~snippets.transformers.gpt.evaluate_lm`.
    """
    nats = evaluate_lm(model, ids, context)
    count = (len(ids) - 1) // context
    predicted = ids[1 : count * context + 1].tolist()
    specials = {tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.unk_id}
    if specials & set(predicted):
        raise ValueError(
            "ids must hold no special token: <pad>, <bos>, <eos> and <unk> spell no text"
        )
    chars = sum(len(tokenizer.itos[i]) for i in predicted)
    return bits_per_char(nats, len(predicted), chars)
