"""Local demo and test infrastructure: a real Keycloak from its distribution and an SMTP sink.

Used by ``keycloak-pwreset demo`` and by the integration tests, so both exercise the same
machinery. Nothing here is needed to run the service in production.
"""
