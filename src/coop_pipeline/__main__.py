from coop_pipeline.cli import main

raise SystemExit(main())
