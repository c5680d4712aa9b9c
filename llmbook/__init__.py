"""llmbook: the code the book *Large Language Models, Deconstructed* teaches.

Each module holds one idea. Chapters import from here and show it; the tests
check it against independent reference implementations.
"""

__version__ = "0.1.0"
