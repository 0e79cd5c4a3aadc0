"""Generative models: autoencoders, VAEs, GANs and diffusion."""
