"""The coding exercises of this chapter: each checker passes its reference, rejects wrong ones."""

from __future__ import annotations

import pytest

from snippets.common.exercises import check, exercises

CHAPTER = "rl"
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

    from snippets.rl.dqn import td_targets
    from snippets.rl.exercises import (
        dpo_loss,
        dual_clip_surrogate,
        dueling_aggregation,
        exact_action_values,
        expected_sarsa_targets,
        n_step_returns,
        softmax_score_function,
    )
    from snippets.rl.gae import gae
    from snippets.rl.ppo import clipped_surrogate
    from snippets.rl.rlhf import bradley_terry_loss
    from snippets.rl.value_iteration import action_values, evaluate_policy_exact

    g = torch.Generator().manual_seed(0)
    f64 = {"generator": g, "dtype": torch.float64}

    # Q_π from the pair-level solve = one look-ahead from the exact V_π
    P = torch.randn(4, 3, 4, **f64).softmax(-1)
    R, policy = torch.randn(4, 3, **f64), torch.randn(4, 3, **f64).softmax(-1)
    V = evaluate_policy_exact(P, R, policy, 0.9)
    torch.testing.assert_close(exact_action_values(P, R, policy, 0.9), action_values(P, R, V, 0.9))

    # expected SARSA, one transition at a time; with ε = 0 it is Q-learning's target
    q, rewards = torch.randn(5, 3, **f64), torch.randn(6, **f64)
    nxt, term = torch.randint(0, 5, (6,), generator=g), torch.tensor([0, 1, 0, 0, 1, 0]).bool()
    targets = expected_sarsa_targets(q, rewards, nxt, term, 0.9, 0.3)
    for i in range(6):
        probs = [0.1 + (0.7 if a == int(q[nxt[i]].argmax()) else 0.0) for a in range(3)]
        future = 0.0 if term[i] else sum(p * float(q[nxt[i], a]) for a, p in enumerate(probs))
        assert abs(float(targets[i]) - (float(rewards[i]) + 0.9 * future)) < 1e-12
    torch.testing.assert_close(
        expected_sarsa_targets(q, rewards, nxt, term, 0.9, 0.0),
        td_targets(rewards, q[nxt], term, 0.9),
    )

    logits, actions = torch.randn(5, 4, **f64, requires_grad=True), torch.tensor([0, 3, 1, 1, 2])
    logits.log_softmax(1).gather(1, actions[:, None]).sum().backward()
    torch.testing.assert_close(softmax_score_function(logits.detach(), actions), logits.grad)

    # n = 1 is the TD target (GAE with λ = 0), n ≥ T the bootstrapped return (λ = 1)
    rewards, values, last = torch.randn(7, **f64), torch.randn(7, **f64), torch.randn((), **f64)
    flags = torch.zeros(7, 1, dtype=torch.bool)
    all_values = torch.cat([values, last[None]])[:, None]
    for n, lam in [(1, 0.0), (7, 1.0), (20, 1.0)]:
        advantages = gae(rewards[:, None], all_values, flags, flags, 0.9, lam)[:, 0]
        torch.testing.assert_close(
            n_step_returns(rewards, values, last, 0.9, n), advantages + values
        )

    values, advantages = torch.randn(4, 1, **f64), torch.randn(4, 5, **f64)
    q = dueling_aggregation(values, advantages)
    torch.testing.assert_close(q.mean(dim=1, keepdim=True), values)
    assert torch.equal(q.argmax(dim=1), advantages.argmax(dim=1))

    # a dual clip that never binds leaves PPO's objective; by hand at r = 5, Â = −1: max(−5, −3)
    new, old, adv = torch.randn(9, **f64), torch.randn(9, **f64), torch.randn(9, **f64)
    torch.testing.assert_close(
        dual_clip_surrogate(new, old, adv, 0.2, 1e9), clipped_surrogate(new, old, adv, 0.2)
    )
    one = torch.tensor([5.0], dtype=torch.float64).log(), torch.zeros(1, dtype=torch.float64)
    assert (
        float(dual_clip_surrogate(*one, torch.tensor([-1.0], dtype=torch.float64), 0.2, 3.0))
        == -3.0
    )

    logps = [torch.randn(6, **f64) for _ in range(4)]
    torch.testing.assert_close(
        dpo_loss(*logps, 0.5),
        bradley_terry_loss(0.5 * (logps[0] - logps[2]), 0.5 * (logps[1] - logps[3])),
    )
