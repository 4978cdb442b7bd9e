"""Header layouts: alias priority and per-row fallback between alias columns."""

import csv
import io

import sqlalchemy as sa

from reviewops.intake.ingest import import_file
from reviewops.intake.layouts import builtin, detect
from reviewops.core.store import orders, order_lines

TAOBAO_HEADER = ["订单编号", "买家会员名", "买家实际支付金额", "订单状态", "收货人姓名", "收货地址",
                 "联系电话", "联系手机", "订单创建时间", "宝贝标题", "宝贝总数量", "店铺名称"]


def _write(path, header, rows, encoding="gbk"):
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def test_first_alias_wins_whatever_the_column_order():
    lay = builtin("taobao_orders_legacy")
    assert lay.match(TAOBAO_HEADER)["receiver_phone"] == TAOBAO_HEADER.index("联系手机")
    assert lay.match_all(TAOBAO_HEADER)["receiver_phone"] == [7, 6]
    det = detect(TAOBAO_HEADER)
    assert det is not None and det.layout.name == "taobao_orders_legacy"
    assert det.columns["receiver_phone"] == [7, 6]


def test_empty_preferred_column_falls_back_to_the_next_alias(store, tmp_path):
    rows = [
        ['="284123456789012345"', "tb_a", "10.00", "交易成功", "张三", "浙江省 杭州市 西湖区 1号",
         "", "'13800138000", "2026-10-01 10:00:00", "T恤", "1", "甲店"],
        ['="284123456789012346"', "tb_b", "20.00", "交易成功", "李四", "广东省 深圳市 南山区 2号",
         "0571-88889999", "", "2026-10-01 11:00:00", "裤子", "1", "甲店"],
    ]
    path = _write(tmp_path / "ExportOrderList.csv", TAOBAO_HEADER, rows)
    (res,) = import_file(store, path)
    assert res.rows_new == 2 and res.rows_rejected == 0
    with store.read() as conn:
        got = dict(conn.execute(sa.select(orders.c.order_id, orders.c.receiver_phone_masked)).all())
    assert got == {"284123456789012345": "138****8000", "284123456789012346": "0571-****9999"}


def test_merchant_code_prefers_the_merchant_column(store, tmp_path):
    header = ["订单编号", "标题", "价格", "购买数量", "外部系统编号", "商品属性", "套餐信息", "备注", "订单状态", "商家编码"]
    rows = [['="284123456789012345"', "T恤", "10.00", "1", "SKU-EXT-1", "颜色:白", "", "", "交易成功", "HM-001"]]
    path = _write(tmp_path / "ExportOrderDetailList.csv", header, rows)
    (res,) = import_file(store, path, shop="甲店")
    assert res.layout == "taobao_order_lines_legacy" and res.rows_new == 1
    with store.read() as conn:
        assert conn.execute(sa.select(order_lines.c.merchant_code)).scalar_one() == "HM-001"
