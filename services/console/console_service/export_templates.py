"""Import templates of the export documents besides the order: the 收款单 CEB403, the export waybill CEB505,
the export list CEB603 (one row per line of goods, rows with the same copNo make one list), the 运抵单
CEB507 and the 离境单 CEB509 (one row per waybill, rows with the same copNo make one document).

Columns are the CEB fields a sender types (the XSD's annotations, shortened, as headers); the presets fill
the sender's own code and name and the fixed values (export flag, freight and insurance flags, a message
not split: msgCount = msgSeqNo = 1); an optional column's empty cell takes its default (currency 142,
barCode 无 …). Which role imports which follows the owning services' sender roles, as the entry forms do
(``roles.DECLARES``).
"""

from __future__ import annotations

from typing import Any

from cbec.tenants import Tenant

from console_service.sheet_templates import Column, Template, numbered

CURRENCY = "142"  # 人民币, the presets' default as for the orders


def _collection_preset(tenant: Tenant) -> dict[str, str]:
    """The seller (and, unless a cell names another, its own platform) is the enterprise."""
    return {"ebcCode": tenant.customs_code, "ebcName": tenant.name, "ebpCode": tenant.customs_code,
            "ebpName": tenant.name}


def _list_derive(document: dict[str, Any]) -> None:
    """Item numbers; the producer (ownerCode/Name) is the seller unless a cell names another."""
    numbered("InventoryList")(document)
    head = document["InventoryHead"]
    head.setdefault("ownerCode", head.get("ebcCode", ""))
    head.setdefault("ownerName", head.get("ebcName", ""))


TEMPLATES: dict[str, Template] = {
    "CEB403": Template(  # 收款单: one row per collection
        "CEB403",
        (
            Column("订单编号", "Order number", "Head.orderNo"),
            Column("电商平台代码", "Platform code", "Head.ebpCode", required=False),
            Column("电商平台名称", "Platform name", "Head.ebpName", required=False),
            Column("支付企业代码", "Payment enterprise code", "Head.payCode", required=False),
            Column("支付企业名称", "Payment enterprise name", "Head.payName"),
            Column("支付交易编号", "Payment transaction number", "Head.payNo", required=False),
            Column("收款金额", "Amount received", "Head.charge", decimals=5),
            Column("币制", "Currency", "Head.currency", required=False, default=CURRENCY),
            Column("到账时间", "Accounting date (yyyyMMddHHmmss)", "Head.accountingDate"),
            Column("备注", "Note", "Head.note", required=False),
        ),
        head=None, preset=_collection_preset, strategies=True,
    ),
    "CEB505": Template(  # export waybill: one row per waybill; its command names the order
        "CEB505",
        (
            Column("物流运单编号", "Waybill number", "Head.logisticsNo"),
            Column("订单编号", "Order number", "Command.orderNo"),
            Column("电商企业代码", "E-commerce enterprise code", "Head.ebcCode"),
            Column("电商企业名称", "E-commerce enterprise name", "Head.ebcName", required=False),
            Column("运费", "Freight", "Head.freight", decimals=5, required=False, default="0"),
            Column("保价费", "Insured fee", "Head.insuredFee", decimals=5, required=False, default="0"),
            Column("币制", "Currency", "Head.currency", required=False, default=CURRENCY),
            Column("毛重", "Gross weight (kg)", "Head.grossWeight", decimals=5),
            Column("件数", "Packages", "Head.packNo", decimals=0),
            Column("主要货物信息", "Main goods", "Head.goodsInfo"),
        ),
        head=None,
        preset=lambda t: {"logisticsCode": t.customs_code, "logisticsName": t.name},
        strategies=True,
    ),
    "CEB603": Template(  # export list: one row per line of goods, grouped by copNo
        "CEB603",
        (
            Column("企业唯一编号", "Enterprise document number (copNo)", "Head.copNo"),
            Column("订单编号", "Order number", "Head.orderNo"),
            Column("电商平台代码", "Platform code", "Head.ebpCode"),
            Column("电商平台名称", "Platform name", "Head.ebpName"),
            Column("电商企业代码", "E-commerce enterprise code", "Head.ebcCode"),
            Column("电商企业名称", "E-commerce enterprise name", "Head.ebcName"),
            Column("生产销售单位代码", "Producer code", "Head.ownerCode", required=False),
            Column("生产销售单位名称", "Producer name", "Head.ownerName", required=False),
            Column("物流企业代码", "Logistics enterprise code", "Head.logisticsCode"),
            Column("物流企业名称", "Logistics enterprise name", "Head.logisticsName"),
            Column("物流运单编号", "Waybill number", "Head.logisticsNo"),
            Column("申报海关代码", "Customs code", "Head.customsCode"),
            Column("出口口岸代码", "Port of exit", "Head.portCode"),
            Column("出口日期", "Export date (yyyyMMdd)", "Head.ieDate"),
            Column("贸易方式", "Trade mode (else the strategy's)", "Head.tradeMode", required=False),
            Column("申报业务类型", "Declaration kind (A simplified, B summarised)", "Head.statisticsFlag",
                   required=False, default="B"),
            Column("运输方式", "Transport mode", "Head.trafMode"),
            Column("运输工具名称", "Means of transport", "Head.trafName", required=False),
            Column("航班航次号", "Voyage / flight", "Head.voyageNo", required=False),
            Column("提运单号", "Bill of lading", "Head.billNo", required=False),
            Column("运抵国", "Country of destination", "Head.country"),
            Column("指运港", "Port of destination", "Head.POD"),
            Column("运费", "Freight", "Head.freight", decimals=5, required=False, default="0"),
            Column("运费币制", "Freight currency", "Head.fCurrency", required=False, default=CURRENCY),
            Column("保费", "Insured fee", "Head.insuredFee", decimals=5, required=False, default="0"),
            Column("保费币制", "Insurance currency", "Head.iCurrency", required=False, default=CURRENCY),
            Column("包装种类", "Wrap type", "Head.wrapType"),
            Column("件数", "Packages", "Head.packNo", decimals=0),
            Column("毛重", "Gross weight (kg)", "Head.grossWeight", decimals=5),
            Column("净重", "Net weight (kg)", "Head.netWeight", decimals=5),
            Column("商品货号", "Item number", "List.itemNo"),
            Column("企业商品名称", "Item name (the enterprise's)", "List.itemName", required=False),
            Column("商品编码", "HS code", "List.gcode"),
            Column("商品名称", "Goods name", "List.gname"),
            Column("规格型号", "Model / specification", "List.gmodel"),
            Column("条形码", "Bar code", "List.barCode", required=False, default="无"),
            Column("最终目的国", "Final destination country", "List.country"),
            Column("币制", "Currency", "List.currency", required=False, default=CURRENCY),
            Column("数量", "Quantity", "List.qty", decimals=5),
            Column("计量单位", "Unit of measure", "List.unit"),
            Column("法定数量", "Legal quantity", "List.qty1", decimals=5),
            Column("法定计量单位", "Legal unit", "List.unit1"),
            Column("单价", "Unit price", "List.price", decimals=5),
            Column("总价", "Total", "List.totalPrice", decimals=2),
        ),
        head="InventoryHead", lines="InventoryList", group_by="copNo",
        preset=lambda t: {"agentCode": t.customs_code, "agentName": t.name, "ieFlag": "E", "fFlag": "3",
                          "iFlag": "3"},
        derive=_list_derive, strategies=True,
    ),
    "CEB507": Template(  # 运抵单: one row per waybill arrived, grouped by copNo
        "CEB507",
        (
            Column("企业内部编号", "Enterprise document number (copNo)", "Head.copNo"),
            Column("申报海关代码", "Customs code", "Head.customsCode"),
            Column("监管场所代码", "Supervision site code", "Head.loctNo", required=False),
            Column("运输方式", "Transport mode", "Head.trafMode"),
            Column("提运单号", "Bill of lading", "Head.billNo", required=False),
            Column("境内运输工具编号", "Domestic vehicle number", "Head.domesticTrafNo"),
            Column("物流企业代码", "Logistics enterprise code", "Head.logisticsCode"),
            Column("物流企业名称", "Logistics enterprise name", "Head.logisticsName"),
            Column("物流运单编号", "Waybill number", "List.logisticsNo"),
            Column("总包号", "Package group number", "List.totalPackageNo", required=False),
        ),
        head="ArrivalHead", lines="ArrivalList", group_by="copNo",
        preset=lambda t: {"operatorCode": t.customs_code, "operatorName": t.name, "ieFlag": "E",
                          "msgCount": "1", "msgSeqNo": "1"},
        derive=numbered("ArrivalList"),
    ),
    "CEB509": Template(  # 离境单: one row per waybill departed, grouped by copNo
        "CEB509",
        (
            Column("企业唯一编号", "Enterprise document number (copNo)", "Head.copNo"),
            Column("申报海关代码", "Customs code", "Head.customsCode"),
            Column("运输方式", "Transport mode", "Head.trafMode"),
            Column("运输工具名称", "Means of transport", "Head.trafName", required=False),
            Column("航班航次号", "Voyage / flight", "Head.voyageNo", required=False),
            Column("提运单号", "Bill of lading", "Head.billNo", required=False),
            Column("离境时间", "Departure time (yyyyMMddHHmmss)", "Head.leaveTime"),
            Column("物流运单编号", "Waybill number", "List.logisticsNo"),
            Column("总包号", "Package group number", "List.totalPackageNo", required=False),
        ),
        head="DepartureHead", lines="DepartureList", group_by="copNo",
        preset=lambda t: {"logisticsCode": t.customs_code, "logisticsName": t.name, "msgCount": "1",
                          "msgSeqNo": "1"},
        derive=numbered("DepartureList"),
    ),
}
