"""The one set of fictitious enterprises every sample document, the demo tenants and the tests use."""

from __future__ import annotations

PLATFORM = "3105960001"
PLATFORM_NAME = "示例跨境电商平台有限公司"
PAYMENT_COMPANY = "3105960002"
PAYMENT_NAME = "示例支付有限公司"
LOGISTICS_COMPANY = "3105960003"
LOGISTICS_NAME = "示例国际物流有限公司"
DECLARANT = "3105960004"
DECLARANT_NAME = "示例保税仓储有限公司"
SITE_OPERATOR = "3105960005"
SITE_OPERATOR_NAME = "示例监管场所经营有限公司"
CUSTOMS_CODE = "5165"


def dxp_id(code: str) -> str:
    """The enterprise's DXP id: ``DXPENT`` and the last ten digits of a counter (its code's last digit)."""
    return f"DXPENT000000000{code[-1]}"


def uscc(code: str) -> str:
    return f"91310000MA1K00000{code[-1]}"
