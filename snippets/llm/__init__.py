"""From GPT to today's language models: RMSNorm, rotary positions, SwiGLU,
grouped-query attention and the key/value cache, assembled into a small model.
"""
