import sys

from lrsearch.cli import main

sys.exit(main())
