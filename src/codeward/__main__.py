"""Allow ``python -m codeward``."""

from codeward.cli import main

raise SystemExit(main())
