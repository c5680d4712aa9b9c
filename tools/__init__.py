"""Build and test machinery for the book (not part of the taught package)."""
