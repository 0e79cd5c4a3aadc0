"""The Transformer family: BERT, RoBERTa, DistilBERT, T5 and GPT-2, built at their
published sizes and trained small."""
