"""The cbec test kit: what plays the outside world in tests, the demo and the local stack (customs
simulator, fake HTTP gateway, sample documents with one set of fictitious parties, the demo tenants,
the embedded stack). Never installed in the production image; product code never imports it (the
CLI's ``demo``, ``up`` and ``run simulator`` import it lazily)."""
