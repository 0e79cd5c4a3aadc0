"""Experience replay: a fixed-size memory of transitions, sampled uniformly.

An off-policy learner such as DQN stores every transition
``(s, a, r, s', terminated)`` it sees and trains on random mini-batches drawn
from the most recent ``capacity`` of them. Sampling at random breaks the
strong correlation between consecutive steps of one episode, and every
transition is reused in many updates.

The buffer is a *ring*: preallocated tensors and a write position that wraps
around, so that once it is full the oldest transition is overwritten first.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from snippets.common.checks import check_positive, check_tensor


class Transitions(NamedTuple):
    """A batch of ``B`` transitions.

    Shapes:
        ``observations`` ``[B, obs_dim]``, ``actions`` ``[B]`` (int64),
        ``rewards`` ``[B]``, ``next_observations`` ``[B, obs_dim]``,
        ``terminated`` ``[B]`` (bool: the episode ended in a terminal state,
        so there is nothing to bootstrap from).
    """

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_observations: torch.Tensor
    terminated: torch.Tensor


class ReplayBuffer:
    """A ring buffer of at most ``capacity`` transitions with uniform sampling.

    Args:
        capacity: how many transitions are kept; the oldest is overwritten first.
        obs_dim: length of an observation vector.
        device: where the tensors live (the learner's device).

    Raises:
        ValueError: if ``capacity`` or ``obs_dim`` is not a positive int.
    """

    def __init__(self, capacity: int, obs_dim: int, device: torch.device | str = "cpu") -> None:
        for value, name in ((capacity, "capacity"), (obs_dim, "obs_dim")):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            check_positive(value, name)
        self.capacity, self.obs_dim = capacity, obs_dim
        self.observations = torch.zeros(capacity, obs_dim, device=device)
        self.next_observations = torch.zeros(capacity, obs_dim, device=device)
        self.actions = torch.zeros(capacity, dtype=torch.int64, device=device)
        self.rewards = torch.zeros(capacity, device=device)
        self.terminated = torch.zeros(capacity, dtype=torch.bool, device=device)
        self.position = 0  # the slot the next transition goes into
        self.size = 0  # how many slots hold a transition

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        observation: torch.Tensor,
        action: int,
        reward: float,
        next_observation: torch.Tensor,
        terminated: bool,
    ) -> None:
        """Store one transition, overwriting the oldest when the buffer is full.

        Shapes:
            ``observation`` and ``next_observation`` ``[obs_dim]``.

        Raises:
            TypeError: if an observation is not a floating-point tensor.
            ValueError: if an observation does not have ``obs_dim`` entries.
        """
        for value, name in ((observation, "observation"), (next_observation, "next_observation")):
            check_tensor(value, name, ndim=1, floating=True)
            if value.shape[0] != self.obs_dim:
                raise ValueError(f"{name} must have {self.obs_dim} entries, got {value.shape[0]}")
        i = self.position
        self.observations[i] = observation
        self.next_observations[i] = next_observation
        self.actions[i] = action
        self.rewards[i] = reward
        self.terminated[i] = terminated
        self.position = (i + 1) % self.capacity  # wrap around: the ring
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> Transitions:
        """``batch_size`` transitions drawn uniformly, with replacement, from the filled slots.

        Pass a seeded CPU ``generator`` to make the draws repeatable.

        Raises:
            ValueError: if ``batch_size`` is not positive or the buffer is empty.
        """
        check_positive(batch_size, "batch_size")
        if self.size == 0:
            raise ValueError("cannot sample from an empty ReplayBuffer: add transitions first")
        index = torch.randint(self.size, (batch_size,), generator=generator)
        index = index.to(self.observations.device)
        return Transitions(
            self.observations[index],
            self.actions[index],
            self.rewards[index],
            self.next_observations[index],
            self.terminated[index],
        )
