"""Who may change a stored document: the enterprise that first declared it, or one acting for it.

A document's owner is the sender of its first received version (:attr:`Declaration.owner`). A later
declaration under the same business key -- a new version, a change (appType 2) or a delete (appType
3) -- is accepted only from the owner, from an enterprise the registry names as the owner's delegate
(its ``delegatedCodes`` hold the owner's code), or from the enterprise the owner itself acted for.
Anyone else is refused with :data:`NOT_OWNER`; the refusal is the sender's, so it is never written
into the owner's stream (the caller gets it, and Kafka intake dead-letters it).
"""

from __future__ import annotations

from cbec.declaration.policy import DocumentPolicy
from cbec.errors import CebError
from cbec.tenants import TenantRegistry

NOT_OWNER = "CBEC-1005"


def may_change(registry: TenantRegistry, sender: str, owner: str) -> bool:
    """``sender`` may declare again what ``owner`` declared first ('' owner: nobody owns it yet)."""
    if not owner or sender == owner:
        return True
    if sender in registry and registry.get(sender).may_act_for(owner):
        return True
    # The owner declared as the sender's delegate: the principal may take its document over.
    return owner in registry and registry.get(owner).may_act_for(sender)


def not_owner(policy: DocumentPolicy) -> CebError:
    """The refusal of a declaration under a key another enterprise owns (the owner is not named)."""
    return CebError(
        NOT_OWNER,
        f"{policy.where}.{'/'.join(policy.doc_type.key_fields)}",
        "tenancy: only the document's sender or its delegate may change it",
        "a document with this business key was declared by another enterprise; only that enterprise "
        "or one it delegated to may declare it again, change or delete it",
    )
