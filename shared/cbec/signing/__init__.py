"""XML-DSig signing of CEB messages: SM2/SM3 and RSA-SHA1 keys, profiles, sign and verify.

Public entry points: :func:`cbec.signing.xmldsig.sign_document`, :func:`cbec.signing.xmldsig.verify_document`,
the :class:`cbec.signing.keys.SigningKey` protocol and its backends (``sm2.SoftwareSM2Key``,
``keys.SoftwareRSAKey``, ``pkcs11.Pkcs11Key``).
"""
