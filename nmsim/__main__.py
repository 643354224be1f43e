import sys

from nmsim.cli import main

sys.exit(main())
