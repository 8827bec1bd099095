import sys

from cuakhau.cli import main

sys.exit(main())
