from keycloak_pwreset.cli import main

raise SystemExit(main())
