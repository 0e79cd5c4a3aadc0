import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.common.tokenizers import CharTokenizer
from snippets.sequence_models.char_lm import (
    CharLM,
    generate,
    lm_loss,
    random_windows,
    temperature_probs,
)


def test_random_windows_targets_are_shifted_inputs():
    ids = torch.arange(100)
    x, y = random_windows(ids, 10, 7, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (7, 10)
    torch.testing.assert_close(y[:, :-1], x[:, 1:])
    torch.testing.assert_close(y[:, -1], x[:, -1] + 1)
    with pytest.raises(ValueError, match="at least seq_len"):
        random_windows(torch.arange(5), 10, 1)


@given(st.lists(st.floats(-5, 5), min_size=2, max_size=8), st.floats(0.1, 10))
def test_temperature_probs_is_a_distribution_and_keeps_the_order(values, temperature):
    logits = torch.tensor(values)
    probs = temperature_probs(logits, temperature)
    torch.testing.assert_close(probs.sum(), torch.tensor(1.0))
    # a larger logit never gets a smaller probability (ties may round either way)
    by_logit = probs[torch.argsort(logits, stable=True)]
    assert (by_logit.diff() >= -1e-7).all()


def test_temperature_limits():
    logits = torch.tensor([2.0, 1.0, 0.0])
    torch.testing.assert_close(temperature_probs(logits, 1.0), torch.softmax(logits, -1))
    torch.testing.assert_close(temperature_probs(logits, 1e-3), torch.tensor([1.0, 0.0, 0.0]))
    torch.testing.assert_close(
        temperature_probs(logits, 1e4), torch.full((3,), 1 / 3), atol=1e-3, rtol=0
    )

    def entropy(p):
        return -(p * p.log()).sum()

    assert entropy(temperature_probs(logits, 0.5)) < entropy(temperature_probs(logits, 2.0))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        temperature_probs(logits, 0.0)


def test_char_lm_shapes_and_step_state_matches_full_pass():
    model = CharLM(vocab=10, embed=4, hidden=8).eval()
    ids = torch.randint(10, (2, 6))
    logits = model(ids)
    assert logits.shape == (2, 6, 10)
    first, state = model.step(ids[:, :4])
    rest, _ = model.step(ids[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), logits)


def test_untrained_loss_is_near_uniform():
    model = CharLM(vocab=50)
    ids = torch.randint(50, (4, 20))
    assert abs(lm_loss(model(ids), ids).item() - math.log(50)) < 0.2


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lm_loss_is_the_mean_negative_log_probability_of_the_next_token(dtype):
    logits, targets = torch.randn(3, 5, 7, dtype=dtype), torch.randint(7, (3, 5))
    log_p = torch.log_softmax(logits, dim=-1)
    expected = -log_p.gather(2, targets[..., None]).mean()
    loss = lm_loss(logits, targets)
    assert loss.dtype == dtype  # also the loss of the Transformer chapter's GPT
    torch.testing.assert_close(loss, expected)
    with pytest.raises(ValueError, match=r"targets must have shape \(3, 5\)"):
        lm_loss(logits, targets[:, :4])
    with pytest.raises(ValueError, match="logits must have 3 dimensions"):
        lm_loss(logits[0], targets)


def test_generate_is_seeded_and_low_temperature_is_greedy():
    tok = CharTokenizer(["abcd"])
    model = CharLM(len(tok), embed=4, hidden=8)
    a = generate(model, tok, "ab", 20, 1.0, torch.Generator().manual_seed(0))
    b = generate(model, tok, "ab", 20, 1.0, torch.Generator().manual_seed(0))
    assert a == b and a.startswith("ab") and len(a) == 22
    greedy = [
        generate(model, tok, "ab", 10, 1e-4, torch.Generator().manual_seed(s)) for s in (0, 1)
    ]
    assert greedy[0] == greedy[1]
    with pytest.raises(ValueError, match="prompt must hold at least one character"):
        generate(model, tok, "", 5)
    with pytest.raises(ValueError, match="length must be > 0"):
        generate(model, tok, "a", 0)


def test_char_lm_checks_ids_and_state():
    model = CharLM(vocab=10, embed=4, hidden=8, layers=2)
    ids = torch.randint(10, (3, 5))
    _, state = model.step(ids)
    assert [tuple(s.shape) for s in state] == [(2, 3, 8)] * 2
    with pytest.raises(ValueError, match="ids must hold ids from 0 to 9"):
        model(torch.tensor([[1, 10]]))  # was an IndexError inside nn.Embedding
    with pytest.raises(ValueError, match=r"state\[0\] \(h\) must have shape \(2, 2, 8\)"):
        model.step(ids[:2], state)  # the state of 3 sequences for 2: was a RuntimeError
    with pytest.raises(ValueError, match=r"state\[1\] \(c\) must have shape \(2, 3, 8\)"):
        model.step(ids, (state[0], state[1][:1]))
    with pytest.raises(TypeError, match=r"state\[1\] \(c\) must have dtype torch.float32"):
        model.step(ids, (state[0], state[1].double()))
    with pytest.raises(TypeError, match=r"state must be a pair \(h, c\)"):
        model.step(ids, state[0])
    with pytest.raises(ValueError, match="ids must hold at least one position"):
        model(ids[:, :0])


def test_lm_loss_checks_the_target_range():
    logits = torch.randn(2, 3, 5)
    with pytest.raises(ValueError, match="targets must hold ids from 0 to 4 .*got ids from 0 to 5"):
        lm_loss(logits, torch.tensor([[0, 1, 2], [3, 4, 5]]))
    with pytest.raises(ValueError, match="got ids from -1 to 4"):
        lm_loss(logits, torch.tensor([[0, 1, 2], [3, 4, -1]]))
