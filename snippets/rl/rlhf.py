"""Reinforcement learning from human feedback (RLHF), at the size of a bandit.

RLHF fine-tunes a language model in two stages. First a *reward model*
learns a scalar score from pairwise comparisons ("answer A is better than
answer B") with the Bradley–Terry loss. Then PPO fine-tunes the language
model, the *policy*, to raise that score while a KL penalty keeps it close
to the *reference* model it started from, so that it cannot drift into text
that fools the reward model.

Here the "language model" answers one prompt with one of ``K`` whole
responses, so that a policy is a vector of ``K`` logits, every expectation
can be computed exactly, and the KL-regularised optimum has a closed form to
check the training against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.common.data import make_loader
from snippets.common.train import History, fit
from snippets.rl.ppo import clipped_surrogate


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """The reward model's loss on preference pairs: ``-mean(log σ(r_chosen - r_rejected))``.

    Under the Bradley–Terry model a rater prefers response ``a`` to ``b``
    with probability ``σ(r(a) - r(b))``; this is the negative log-likelihood
    of the observed preferences. Only differences of rewards matter: adding
    a constant to every reward leaves the loss unchanged.

    Shapes:
        ``chosen``, ``rejected`` ``[B]`` (the rewards of the preferred and
        the other response of each pair) → a scalar.

    Raises:
        TypeError: if an input is not floating point.
        ValueError: if the shapes differ.
    """
    check_tensor(chosen, "chosen", ndim=1, floating=True)
    check_tensor(rejected, "rejected", ndim=1, floating=True)
    if chosen.shape != rejected.shape:
        raise ValueError(
            f"rejected must have the shape of chosen {tuple(chosen.shape)}, "
            f"got {tuple(rejected.shape)}"
        )
    return -F.logsigmoid(chosen - rejected).mean()


class RewardTable(nn.Module):
    """A reward model for ``K`` fixed responses: one learned score per response.

    In a real system the reward model is a language model with a scalar head
    that reads the last token of prompt + response; here the responses are
    few enough to give each its own number.

    Shapes:
        ``responses`` ``[...]`` (int64 in ``[0, K)``) → rewards ``[...]``.
    """

    def __init__(self, num_responses: int):
        super().__init__()
        check_positive(num_responses, "num_responses")
        self.scores = nn.Parameter(torch.zeros(num_responses))

    def forward(self, responses: torch.Tensor) -> torch.Tensor:
        return self.scores[responses]


def _pair_forward(model: nn.Module, batch) -> tuple[tuple[torch.Tensor, torch.Tensor], None]:
    pairs, _ = batch  # [B, 2]: (chosen, rejected)
    rewards = model(pairs)
    return (rewards[:, 0], rewards[:, 1]), None


def fit_reward_model(
    model: nn.Module,
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    epochs: int = 20,
    lr: float = 2.0,
    batch_size: int = 128,
    seed: int = 0,
) -> History:
    """Fit ``model`` to preference pairs with :func:`bradley_terry_loss` and the site's ``fit``.

    Plain SGD: the loss of a reward table is convex, and a learning rate of
    a few units reaches the optimum in a few hundred steps.

    Shapes:
        ``chosen``, ``rejected`` ``[P]`` (int64 response ids of each pair).

    Raises:
        TypeError: if the ids are not int64.
        ValueError: if their shapes differ.
    """
    check_tensor(chosen, "chosen", ndim=1, dtype=torch.int64)
    check_tensor(rejected, "rejected", ndim=1, dtype=torch.int64)
    if chosen.shape != rejected.shape:
        raise ValueError(f"rejected must have {len(chosen)} pairs like chosen, got {len(rejected)}")
    pairs = torch.stack([chosen, rejected], dim=1)
    loader = make_loader(pairs, torch.zeros(len(pairs)), batch_size=batch_size, seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return fit(
        model,
        loader,
        lambda rewards, _: bradley_terry_loss(*rewards),
        optimizer,
        epochs,
        forward=_pair_forward,
    )


def simulate_preferences(
    true_rewards: torch.Tensor,
    probs: torch.Tensor,
    pairs: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Raters compare two responses sampled from ``probs``, following Bradley–Terry.

    Each pair's first response wins with probability
    ``σ(true_rewards[a] - true_rewards[b])``: raters mostly, not always,
    prefer the better response.

    Shapes:
        ``true_rewards``, ``probs`` ``[K]`` → ``(chosen [pairs], rejected [pairs])``.
    """
    check_tensor(true_rewards, "true_rewards", ndim=1, floating=True)
    check_tensor(probs, "probs", ndim=1, floating=True)
    check_positive(pairs, "pairs")
    a, b = torch.multinomial(probs, 2 * pairs, replacement=True, generator=generator).chunk(2)
    a_wins = torch.rand(pairs, generator=generator) < torch.sigmoid(
        true_rewards[a] - true_rewards[b]
    )
    return torch.where(a_wins, a, b), torch.where(a_wins, b, a)


def kl_divergence(log_p: torch.Tensor, log_q: torch.Tensor) -> torch.Tensor:
    """``KL(p ‖ q) = Σ p (log p - log q)`` over the last axis, from log-probabilities."""
    return (log_p.exp() * (log_p - log_q)).sum(-1)


def kl_regularized_optimum(
    ref_logits: torch.Tensor, rewards: torch.Tensor, beta: float
) -> torch.Tensor:
    """The policy that maximises ``E_π[r] - β KL(π ‖ π_ref)``: ``π* ∝ π_ref · exp(r / β)``.

    Large ``beta`` keeps ``π_ref``; small ``beta`` piles the probability on
    the highest reward. Returns log-probabilities.

    Shapes:
        ``ref_logits``, ``rewards`` ``[K]`` → ``[K]``.

    Raises:
        ValueError: if ``beta`` is not positive.
    """
    check_tensor(ref_logits, "ref_logits", ndim=1, floating=True)
    check_tensor(rewards, "rewards", ndim=1, floating=True)
    check_positive(beta, "beta")
    return torch.log_softmax(torch.log_softmax(ref_logits, -1) + rewards / beta, -1)


def kl_penalized_rewards(
    scores: torch.Tensor, log_probs: torch.Tensor, ref_log_probs: torch.Tensor, beta: float
) -> torch.Tensor:
    """RLHF's per-token rewards: ``-β (log π - log π_ref)`` at every token, the score at the end.

    The reward model scores a whole response once (``scores``); the KL
    penalty is paid token by token, at the log-ratio of the sampled token.
    Summed over a response the penalty is a sample of ``β KL(π ‖ π_ref)``.

    Shapes:
        ``scores`` ``[B]``, ``log_probs``, ``ref_log_probs`` ``[B, L]`` (of the
        sampled tokens) → ``[B, L]``.

    Raises:
        ValueError: if the shapes disagree or ``beta`` is negative.
    """
    check_tensor(scores, "scores", ndim=1, floating=True)
    check_tensor(log_probs, "log_probs", ndim=2, floating=True)
    check_tensor(ref_log_probs, "ref_log_probs", ndim=2, floating=True)
    if log_probs.shape != ref_log_probs.shape or log_probs.shape[0] != scores.shape[0]:
        raise ValueError(
            f"log_probs and ref_log_probs must both be [B, L] with B = {len(scores)} like scores, "
            f"got {tuple(log_probs.shape)} and {tuple(ref_log_probs.shape)}"
        )
    check_positive(beta, "beta", allow_zero=True)
    rewards = -beta * (log_probs - ref_log_probs).detach()
    rewards[:, -1] += scores
    return rewards


def ppo_bandit(
    ref_logits: torch.Tensor,
    reward_model: nn.Module,
    beta: float,
    iterations: int = 60,
    batch: int = 256,
    epochs: int = 4,
    lr: float = 0.05,
    clip: float = 0.2,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, list[float]]:
    """Fine-tune a ``K``-response policy from ``ref_logits`` with PPO against ``reward_model``.

    Each iteration samples ``batch`` responses from the current policy,
    rewards each with ``reward_model`` minus the KL penalty
    (:func:`kl_penalized_rewards` with one token per response), subtracts
    the batch mean as a baseline, and takes ``epochs`` Adam steps on
    :func:`~snippets.rl.ppo.clipped_surrogate`. One step per response needs
    no value head; a language model's PPO learns one to get per-token
    advantages. Returns the final logits and the KL to the reference after
    every iteration.

    Shapes:
        ``ref_logits`` ``[K]`` → ``([K], list of iterations floats)``.

    Raises:
        ValueError: if ``beta`` is negative or a count is not positive.
    """
    check_tensor(ref_logits, "ref_logits", ndim=1, floating=True)
    check_positive(beta, "beta", allow_zero=True)
    for value, name in ((iterations, "iterations"), (batch, "batch"), (epochs, "epochs")):
        check_positive(value, name)
    ref_log_probs = torch.log_softmax(ref_logits.detach(), -1)
    logits = ref_logits.detach().clone().requires_grad_(True)  # start from the reference
    optimizer = torch.optim.Adam([logits], lr=lr)
    kls = []
    for _ in range(iterations):
        with torch.no_grad():
            old_log_probs = torch.log_softmax(logits, -1)
            responses = torch.multinomial(old_log_probs.exp(), batch, True, generator=generator)
            rewards = kl_penalized_rewards(
                reward_model(responses),
                old_log_probs[responses, None],
                ref_log_probs[responses, None],
                beta,
            )[:, 0]
            advantages = rewards - rewards.mean()
        for _ in range(epochs):
            log_probs = torch.log_softmax(logits, -1)[responses]
            loss = -clipped_surrogate(log_probs, old_log_probs[responses], advantages, clip)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            kls.append(kl_divergence(torch.log_softmax(logits, -1), ref_log_probs).item())
    return logits.detach(), kls
