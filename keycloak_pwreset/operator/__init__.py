"""Operator tools: set up a realm, build the login theme, check the email templates."""
