"""The link to customs: DXP transport adapters and a customs simulator."""
