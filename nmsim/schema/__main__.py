"""``python -m nmsim.schema``: rewrite the published JSON Schemas (``--check``: exit 1 when one is stale)."""
import sys

from nmsim.schema.publish import main

sys.exit(main())
