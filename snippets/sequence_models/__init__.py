"""Sequence models: RNN, LSTM and GRU from scratch, sequence-to-sequence
with attention and a character-level language model.
"""
