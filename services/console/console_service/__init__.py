"""The web console: server-rendered pages over the platform's own APIs (``cbec run console``)."""
