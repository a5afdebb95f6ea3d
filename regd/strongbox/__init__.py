"""Strongbox: vaults of encrypted key/value secrets (AES-256-GCM, wrapped data keys)."""
