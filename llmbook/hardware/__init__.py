"""Hardware: where the time and memory of a language model go (rooflines, GPUs, quantisation, fused attention)."""
