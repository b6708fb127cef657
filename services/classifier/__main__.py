"""`python -m services.classifier`: the classifier service."""
from services.classifier.runner import main

raise SystemExit(main())
