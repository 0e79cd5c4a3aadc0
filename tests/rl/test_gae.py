import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.rl.gae import gae, returns_with_dones


def lambda_return(rewards, values, terminated, truncated, gamma, lam, t):
    """G^λ_t of one environment, summed from its n-step returns (the definition, O(T²))."""
    steps = len(rewards)
    end = t
    while end < steps - 1 and not (terminated[end] or truncated[end]):
        end += 1
    horizon = end - t + 1  # n-step returns exist for n = 1 … horizon

    def n_step(n):
        head = sum(gamma**k * rewards[t + k] for k in range(n))
        tail = 0.0 if terminated[t + n - 1] else gamma**n * values[t + n]
        return head + tail

    total = sum((1 - lam) * lam ** (n - 1) * n_step(n) for n in range(1, horizon))
    return total + lam ** (horizon - 1) * n_step(horizon)


def random_rollout(seed, steps, envs, p_end=0.2):
    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(steps, envs, generator=g, dtype=torch.float64)
    values = torch.randn(steps + 1, envs, generator=g, dtype=torch.float64)
    ends = torch.rand(steps, envs, generator=g) < p_end
    terminated = ends & (torch.rand(steps, envs, generator=g) < 0.5)
    truncated = ends & ~terminated
    return rewards, values, terminated, truncated


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    steps=st.integers(1, 10),
    envs=st.integers(1, 3),
    gamma=st.floats(0.0, 1.0),
    lam=st.floats(0.0, 1.0),
)
def test_gae_is_the_lambda_return_minus_the_value(seed, steps, envs, gamma, lam):
    rewards, values, terminated, truncated = random_rollout(seed, steps, envs)
    advantages = gae(rewards, values, terminated, truncated, gamma, lam)
    expected = torch.tensor(
        [
            [
                lambda_return(
                    rewards[:, i], values[:, i], terminated[:, i], truncated[:, i], gamma, lam, t
                )
                - values[t, i]
                for i in range(envs)
            ]
            for t in range(steps)
        ],
        dtype=torch.float64,
    )
    torch.testing.assert_close(advantages, expected)


def test_lambda_one_is_the_monte_carlo_return_minus_the_value():
    rewards, values, terminated, _ = random_rollout(1, 20, 4)
    no_truncation = torch.zeros_like(terminated)
    advantages = gae(rewards, values, terminated, no_truncation, gamma=0.9, lam=1.0)
    returns = returns_with_dones(rewards, terminated, 0.9, last_value=values[-1])
    torch.testing.assert_close(advantages, returns - values[:-1])


def test_lambda_zero_is_the_one_step_td_error():
    rewards, values, terminated, truncated = random_rollout(2, 15, 3)
    advantages = gae(rewards, values, terminated, truncated, gamma=0.95, lam=0.0)
    td = rewards + 0.95 * (~terminated) * values[1:] - values[:-1]
    torch.testing.assert_close(advantages, td)


def test_episode_ends_cut_the_sums():
    rewards = torch.ones(6, 1)
    values = torch.zeros(7, 1)
    values[3] = 10.0  # the observation step 2 led to
    terminated = torch.zeros(6, 1, dtype=torch.bool)
    truncated = torch.zeros(6, 1, dtype=torch.bool)
    terminated[2] = True
    a = gae(rewards, values, terminated, truncated, gamma=1.0, lam=1.0)
    # steps 0-2 see only their own episode (3 rewards, no bootstrap after a termination)
    torch.testing.assert_close(a[:3, 0], torch.tensor([3.0, 2.0, 1.0]))
    torch.testing.assert_close(a[3:, 0], torch.tensor([3.0, 2.0, 1.0]) - torch.tensor([10, 0, 0]))
    # a truncation bootstraps from the final observation's value instead
    a = gae(rewards, values, truncated, terminated, gamma=1.0, lam=1.0)
    torch.testing.assert_close(a[:3, 0], torch.tensor([13.0, 12.0, 11.0]))
    # changing a reward after the end leaves the advantages before it alone
    later = rewards.clone()
    later[4] = 100.0
    b = gae(later, values, terminated, truncated, gamma=0.9, lam=0.8)
    c = gae(rewards, values, terminated, truncated, gamma=0.9, lam=0.8)
    torch.testing.assert_close(b[:3], c[:3])
    assert not torch.allclose(b[3:5], c[3:5])


def test_returns_with_dones():
    rewards = torch.tensor([[1.0], [1.0], [1.0], [1.0]])
    dones = torch.tensor([[False], [True], [False], [False]])
    g = returns_with_dones(rewards, dones, 0.5, last_value=torch.tensor([8.0]))
    torch.testing.assert_close(g[:, 0], torch.tensor([1.5, 1.0, 1.5 + 2.0, 1.0 + 4.0]))
    # without episode ends and bootstrap it is the plain discounted return
    r = torch.rand(9)
    plain = torch.stack([sum(0.9**k * r[t + k] for k in range(9 - t)) for t in range(9)])
    torch.testing.assert_close(returns_with_dones(r, torch.zeros(9, dtype=torch.bool), 0.9), plain)


def test_gae_bad_input():
    r, v, term, trunc = torch.zeros(4, 2), torch.zeros(5, 2), *torch.zeros(2, 4, 2).bool()
    with pytest.raises(ValueError, match=r"values must have shape \(5, 2\)"):
        gae(r, torch.zeros(4, 2), term, trunc)
    with pytest.raises(TypeError, match="terminated must have dtype torch.bool"):
        gae(r, v, term.float(), trunc)
    with pytest.raises(ValueError, match="truncated must have the shape of rewards"):
        gae(r, v, term, trunc[:3])
    with pytest.raises(TypeError, match="rewards must have a floating-point dtype"):
        gae(r.long(), v, term, trunc)
    with pytest.raises(ValueError, match=r"lam must be in \[0, 1\], got 1.5"):
        gae(r, v, term, trunc, lam=1.5)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\], got -0.1"):
        returns_with_dones(r, term, -0.1)
    with pytest.raises(ValueError, match=r"last_value must have shape \(2,\)"):
        returns_with_dones(r, term, 0.9, last_value=torch.zeros(3))
