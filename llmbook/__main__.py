"""``python -m llmbook``: the command line (see ``llmbook.cli``)."""

import sys

from llmbook.cli import main

sys.exit(main())
