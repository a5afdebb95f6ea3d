"""Identities, credentials, tokens and the one access decision: ``authorize()``."""
