"""海关总署公告2018年第179号: the platform's payment raw data, opened to customs on request.

Customs POSTs ``platDataOpen`` (form field ``openReq``); the platform acknowledges at once, records
the request, and uploads the signed ``payExInfoStr`` asynchronously (``realTimeDataUpload``). The
platform submits each order's payment raw data beforehand through ``POST /v1/data-open/payments``,
so the data is hosted next to its orders. Modules: ``payment_data`` (what a platform submits),
``payload`` (the signing input and the upload body), ``store`` (requests, data, audit log),
``routes`` (HTTP), ``uploader`` (the asynchronous upload), ``keys`` (the platforms' certificates),
``wiring`` (what the order service's bootstrap mounts).
"""
