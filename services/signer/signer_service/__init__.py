"""The signer service."""
