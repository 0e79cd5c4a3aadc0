import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.rl.replay import ReplayBuffer


def fill(buffer, count, start=0):
    """Add transitions whose every field encodes their index i."""
    for i in range(start, start + count):
        obs = torch.full((buffer.obs_dim,), float(i))
        buffer.add(obs, i % 3, float(i), obs + 0.5, i % 2 == 0)


def test_ring_keeps_the_newest_and_overwrites_the_oldest_first():
    buffer = ReplayBuffer(capacity=4, obs_dim=2)
    fill(buffer, 3)
    assert len(buffer) == 3 and buffer.position == 3
    fill(buffer, 3, start=3)  # indices 3, 4, 5: 3 fills slot 3, then 4 and 5 replace 0 and 1
    assert len(buffer) == 4 and buffer.position == 2
    torch.testing.assert_close(buffer.rewards, torch.tensor([4.0, 5.0, 2.0, 3.0]))
    torch.testing.assert_close(buffer.observations[:, 0], torch.tensor([4.0, 5.0, 2.0, 3.0]))
    torch.testing.assert_close(buffer.next_observations[:, 1], torch.tensor([4.5, 5.5, 2.5, 3.5]))
    assert buffer.actions.tolist() == [1, 2, 2, 0]
    assert buffer.terminated.tolist() == [True, False, True, False]


@settings(max_examples=30, deadline=None)
@given(capacity=st.integers(1, 20), added=st.integers(1, 50), batch=st.integers(1, 64))
def test_samples_come_only_from_filled_slots_and_stay_consistent(capacity, added, batch):
    buffer = ReplayBuffer(capacity, obs_dim=3)
    fill(buffer, added)
    sample = buffer.sample(batch, torch.Generator().manual_seed(0))
    assert sample.observations.shape == (batch, 3) and sample.next_observations.shape == (batch, 3)
    assert sample.actions.shape == (batch,) and sample.actions.dtype == torch.int64
    assert sample.rewards.shape == (batch,) and sample.terminated.dtype == torch.bool
    # only the newest min(added, capacity) transitions can appear
    newest = set(range(max(0, added - capacity), added))
    assert set(sample.rewards.long().tolist()) <= newest
    # the fields of one sampled row belong to the same transition
    torch.testing.assert_close(sample.observations[:, 0], sample.rewards)
    torch.testing.assert_close(sample.next_observations[:, 0], sample.rewards + 0.5)
    assert (sample.actions == sample.rewards.long() % 3).all()


def test_sampling_is_uniform_over_filled_slots():
    buffer = ReplayBuffer(capacity=100, obs_dim=1)
    fill(buffer, 5)  # 95 slots stay empty and must never be drawn
    sample = buffer.sample(50_000, torch.Generator().manual_seed(1))
    counts = torch.bincount(sample.rewards.long(), minlength=5).float() / 50_000
    torch.testing.assert_close(counts, torch.full((5,), 0.2), rtol=0, atol=0.01)


def test_the_same_seed_gives_the_same_batch():
    buffer = ReplayBuffer(capacity=50, obs_dim=2)
    fill(buffer, 40)
    a = buffer.sample(16, torch.Generator().manual_seed(7))
    b = buffer.sample(16, torch.Generator().manual_seed(7))
    c = buffer.sample(16, torch.Generator().manual_seed(8))
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)
    assert not torch.equal(a.rewards, c.rewards)


def test_replay_bad_input():
    with pytest.raises(ValueError, match="capacity must be > 0, got 0"):
        ReplayBuffer(0, 4)
    with pytest.raises(TypeError, match="obs_dim must be an int, got float"):
        ReplayBuffer(10, 4.0)
    buffer = ReplayBuffer(10, 4)
    with pytest.raises(ValueError, match="cannot sample from an empty ReplayBuffer"):
        buffer.sample(2)
    with pytest.raises(ValueError, match="observation must have 4 entries, got 3"):
        buffer.add(torch.zeros(3), 0, 0.0, torch.zeros(4), False)
    with pytest.raises(ValueError, match="next_observation must have 1 dimension,"):
        buffer.add(torch.zeros(4), 0, 0.0, torch.zeros(1, 4), False)
    with pytest.raises(TypeError, match="observation must have a floating-point dtype"):
        buffer.add(torch.zeros(4, dtype=torch.int64), 0, 0.0, torch.zeros(4), False)
    fill(buffer, 1)
    with pytest.raises(ValueError, match="batch_size must be > 0, got 0"):
        buffer.sample(0)
