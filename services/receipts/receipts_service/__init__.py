"""The receipts service."""
