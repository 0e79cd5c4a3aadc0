"""Reinforcement learning: policy gradients (REINFORCE) on CartPole."""
