"""Local demo and test infrastructure: a real Keycloak from its distribution and an SMTP sink.

Used by ``keycloak-pwreset demo`` and by the integration tests, so both exercise the same
machinery. A package beside the product, not inside it: this harness imports the product, the
product never imports the harness (only ``keycloak_pwreset/commands/demo.py`` does, when the
demo runs). Nothing here is needed to run the service in production.
"""
