"""Attention and the Transformer: attention, positions, embeddings, the
encoder-decoder Transformer, byte-pair encoding, GPT and masked language models.
"""
