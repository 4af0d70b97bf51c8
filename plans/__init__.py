"""Support plans, subscriptions and coverage: who pays for the work on a ticket."""
