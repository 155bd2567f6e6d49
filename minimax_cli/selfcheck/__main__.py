import sys

from minimax_cli.selfcheck.environment import main

sys.exit(main())
