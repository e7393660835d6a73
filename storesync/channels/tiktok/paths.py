"""The TikTok Shop API paths StoreSync calls, each at the version it relies on (see
docs/marketplaces/tiktok-fulfilment.md and tiktok-publishing.md for what each answers)."""

from __future__ import annotations

SHOPS = "/authorization/202309/shops"
PRODUCTS_SEARCH = "/product/202309/products/search"
PRODUCT = "/product/202309/products/{product_id}"
PRODUCTS = "/product/202309/products"
PARTIAL_EDIT = PRODUCT + "/partial_edit"
CATEGORIES = "/product/202309/categories"
CATEGORY_ATTRIBUTES = CATEGORIES + "/{category_id}/attributes"
CATEGORY_RULES = CATEGORIES + "/{category_id}/rules"
IMAGES_UPLOAD = "/product/202309/images/upload"
WAREHOUSES = "/logistics/202309/warehouses"
ORDERS_SEARCH = "/order/202309/orders/search"
ORDERS = "/order/202309/orders"
PACKAGE = "/fulfillment/202309/packages/{package_id}"
HANDOVER_TIME_SLOTS = PACKAGE + "/handover_time_slots"
SHIP_PACKAGE = PACKAGE + "/ship"
SHIPPING_DOCUMENTS = PACKAGE + "/shipping_documents"
CANCELLATIONS = "/return_refund/202309/cancellations"
RETURNS_SEARCH = "/return_refund/202309/returns/search"
WEBHOOKS = "/event/202309/webhooks"
