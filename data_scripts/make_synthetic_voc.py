"""Same as ``python -m panet_min.prepare synthetic --root DIR [--seed 0] ...`` (see its --help)."""
import sys

from panet_min.prepare.__main__ import main

sys.exit(main(["synthetic", *sys.argv[1:]]))
