"""`python -m benchmarks`: run every figure and print one table."""

import sys

from benchmarks.run_all import main

sys.exit(main())
