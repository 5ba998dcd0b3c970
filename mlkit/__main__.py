from __future__ import annotations

import sys

from mlkit.cli import main

sys.exit(main())
