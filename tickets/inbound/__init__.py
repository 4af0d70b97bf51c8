"""Inbound e-mail: mail to the support addresses becomes tickets and replies."""
