"""The public message contract: topic names (:mod:`.topics`), one module of typed messages per topic
family, the JSON Schemas they follow (``schemas/``, ``asyncapi.yaml``) and the one decoding error
(:class:`.base.ContractError`)."""
