"""The content/style disentangler of "Rethinking Content and Style" (ICLR 2021 submission)."""
