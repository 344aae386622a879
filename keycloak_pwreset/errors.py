"""One exception hierarchy for the whole product.

Flows turn expected conditions into result codes; these exceptions are for the
conditions a caller must handle differently (a backend that is down, a bad
configuration) and are always raised with a one-line, user-readable message.
"""


class PwresetError(Exception):
    """Base class: every error this product raises on purpose."""


class ConfigError(PwresetError):
    """The configuration is missing or invalid; start-up stops with this line."""


class KeycloakUnavailable(PwresetError):
    """Keycloak could not be reached or answered 5xx: retry later, change nothing."""


class KeycloakRejected(PwresetError):
    """Keycloak refused an admin call for a reason we did not expect (4xx)."""


class AccountNotFound(KeycloakRejected):
    """The account does not exist (any more): Keycloak answered 404."""


class AccountExists(KeycloakRejected):
    """Creating an account collided with an existing one (409)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field  # "email" or "username"


class RealmSetupError(PwresetError):
    """`setup-realm` cannot prepare the realm: it is missing, or the admin may not act on it."""


class MailDeliveryError(PwresetError):
    """The SMTP server could not be reached or refused the message."""


class MailRejected(MailDeliveryError):
    """The SMTP server refused this message for good (a 5xx answer, no SMTPUTF8).

    Sending it again would be refused again: the job fails at once instead of
    being retried for days. The message names no address, token or password.
    """


class UnreadablePayload(PwresetError):
    """A job's payload (or a sign-up link's data) that cannot be read: trying again cannot help.

    Its message names the kind and the fields at fault, never their values:
    payloads hold email addresses, and the message is logged and kept in the row.
    """


class LeaseLost(PwresetError):
    """A worker tried to finish an outbox job whose lease another worker took over."""
