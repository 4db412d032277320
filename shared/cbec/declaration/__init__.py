"""The declaration lifecycle every owning service shares: received → held → released → signed → sent → receipts."""
