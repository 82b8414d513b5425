"""Core services: validate, authorise, route and store, writing state and outbox events in one transaction."""
