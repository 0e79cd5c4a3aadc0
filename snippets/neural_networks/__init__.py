"""Neural networks from scratch: layers, activations, losses, optimizers,
schedules, regularization and initialization.
"""
