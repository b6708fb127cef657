"""`python -m services.capture`: the capture service."""
from services.capture.runner import main

raise SystemExit(main())
