"""``python -m veo3_adapter.cli``: the ``veo3`` command."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
