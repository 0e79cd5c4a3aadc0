"""PyTorch fundamentals: tensors, autograd, ``torch.nn`` and a first training loop."""
