"""``python -m steering``: the gan-steering command line."""

from .cli import main

raise SystemExit(main())
