"""``python -m regctl``."""

from regctl.app import main

raise SystemExit(main())
