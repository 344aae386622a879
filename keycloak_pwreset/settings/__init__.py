"""Settings: the only reader of the environment.

Every setting is ``KCPR_<NAME>`` in the environment (nested with ``__``, e.g.
``KCPR_SMTP__HOST``) or the same structure in a TOML file named by
``KCPR_CONFIG_FILE``. The environment wins over the file. A bad configuration
stops start-up with one line per problem, naming the variable to fix.

One module per concern: ``service`` (the main settings and loading them),
``mail`` (SMTP profiles and senders), ``limits`` (abuse limits, CAPTCHA),
``admin`` (setup-realm's credentials), ``console`` (the admin console and its API),
``values`` (shared validators).
"""

from keycloak_pwreset.settings.admin import AdminSettings, load_admin_settings
from keycloak_pwreset.settings.console import ConsoleSettings
from keycloak_pwreset.settings.limits import CaptchaSettings, LimitSettings
from keycloak_pwreset.settings.mail import (
    KindMail,
    MailSettings,
    SenderOverrides,
    SmtpSecurity,
    SmtpSettings,
)
from keycloak_pwreset.settings.service import (
    RetentionSettings,
    Settings,
    WorkerSettings,
    env_name,
    load_settings,
    load_template_settings,
)
from keycloak_pwreset.settings.values import CONFIG_FILE_VAR, ENV_PREFIX, http_url

__all__ = [
    "CONFIG_FILE_VAR",
    "ENV_PREFIX",
    "AdminSettings",
    "CaptchaSettings",
    "ConsoleSettings",
    "KindMail",
    "LimitSettings",
    "MailSettings",
    "RetentionSettings",
    "SenderOverrides",
    "Settings",
    "SmtpSecurity",
    "SmtpSettings",
    "WorkerSettings",
    "env_name",
    "http_url",
    "load_admin_settings",
    "load_settings",
    "load_template_settings",
]
