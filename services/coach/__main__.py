"""`python -m services.coach`: the coach service."""
from services.coach.runner import main

raise SystemExit(main())
