"""The link to customs: DXP transport adapters (file drop, regional HTTP gateway)."""
