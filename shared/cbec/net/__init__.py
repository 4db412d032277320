"""Outbound connections to addresses tenants give us (callback URLs): which are allowed, and how to
connect to exactly the address that was checked."""
