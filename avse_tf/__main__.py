"""``python -m avse_tf`` is the same as the ``avse`` console script."""

import sys

from avse_tf.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
