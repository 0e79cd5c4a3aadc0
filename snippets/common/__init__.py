"""The pieces every chapter uses: device choice and size presets, seeding,
argument checks, the one training loop, metrics, plotting style, diagrams,
tokenizers and the datasets shared by several chapters.
"""
