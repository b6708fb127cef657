"""The launcher a user types: the `fitness-trainer` command, the supervisor, the health monitor and analyze."""
