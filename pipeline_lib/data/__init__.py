"""Data stage: document sources, the train/val/test split, tokenizers, packing and the mixture sampler."""
