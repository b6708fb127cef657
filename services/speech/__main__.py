"""`python -m services.speech`: the speech service."""
from services.speech.runner import main

raise SystemExit(main())
