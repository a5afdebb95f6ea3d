"""regctl: the command line for regd. It talks HTTP only and never imports regd."""

__version__ = "0.1.0"
