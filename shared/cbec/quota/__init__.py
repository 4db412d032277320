"""Per-buyer annual quota of cross-border retail imports (¥26,000 a year, ¥5,000 a purchase)."""
