"""Personal-data protection: encryption of stored events, masking in responses, masking in logs."""

from cbec.privacy.cipher import AesGcmCipher, KeyRing
from cbec.privacy.log_filter import PiiFilter, mask_text
from cbec.privacy.masking import PII_FIELDS, mask_document, mask_value, viewer_roles

__all__ = [
    "PII_FIELDS",
    "AesGcmCipher",
    "KeyRing",
    "PiiFilter",
    "mask_document",
    "mask_text",
    "mask_value",
    "viewer_roles",
]
