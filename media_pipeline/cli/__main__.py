"""`python -m media_pipeline.cli`: the same as the `media-pipeline` console script."""
import sys

from media_pipeline.cli import main

sys.exit(main())
