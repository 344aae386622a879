"""keycloak-pwreset: self-service password reset and email-verified sign-up for Keycloak."""

__version__ = "0.1.0"
