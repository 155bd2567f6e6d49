from minimax_cli.cli import main

raise SystemExit(main())
