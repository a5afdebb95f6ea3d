import sys

from regd.cli import main

sys.exit(main())
