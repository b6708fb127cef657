"""`python -m services.relay`: the relay of the classified and coach channels."""
from services.relay.runner import main

raise SystemExit(main())
