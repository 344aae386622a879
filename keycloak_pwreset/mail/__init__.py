"""Email: render a kind of email from templates, build the message, send it."""
