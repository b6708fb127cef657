"""`python -m services.pose`: one pose worker (the broker is `python -m services.pose.broker`)."""
from services.pose.worker import main

raise SystemExit(main())
