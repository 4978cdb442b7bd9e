"""reviewops.core.vault: encrypted receiver data (AES-256-GCM, key outside the store) and the role-gated,
audited, rate-limited reveal of one field of one case (reliability.md P-01, P-03)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from reviewops import import_file, triage_store
from reviewops.core import vault
from reviewops.core import store as st
from reviewops.core.errors import AccessDenied, ConfigError, NotFound, StoreError
from reviewops.core.users import add_user, get_actor, set_active

UTC = dt.UTC
NOW = dt.datetime(2025, 10, 1, 3, 0, tzinfo=UTC)
KEY_HEX = "a1" * 32
OTHER_KEY_HEX = "b2" * 32

# canaries (reliability.md P-01): must exist in clear nowhere in the database
CANARY_NAME = "金丝雀"
CANARY_PHONE = "19999990001"
CANARY_ADDRESS = "浙江省杭州市西湖区金丝雀路1号"

FULL_ORDER = "2841234567890123401"     # receiver data in full
MASKED_ORDER = "2841234567890123402"   # the platform masked everything
VIRTUAL_ORDER = "2841234567890123403"  # virtual number, masked name
CIPHER_ORDER = "2841234567890123404"   # Douyin-style ciphertext

ORDER_HEADER = "订单编号,买家会员名,买家应付货款,买家实际支付金额,宝贝标题,宝贝总数量,收货人姓名,联系手机,收货地址,订单创建时间"


def _orders_csv(path: Path, phone: str = CANARY_PHONE, address: str = CANARY_ADDRESS) -> Path:
    path.write_text(
        f"{ORDER_HEADER}\n"
        f"{FULL_ORDER},tb_buyer_1,10.00,10.00,杯子,1,{CANARY_NAME},{phone},{address},2025-09-20 10:00:00\n"
        f"{MASKED_ORDER},t***2,10.00,10.00,杯子,1,张**,138****8000,浙江省 杭州市 ****,2025-09-20 11:00:00\n"
        f"{VIRTUAL_ORDER},t***3,10.00,10.00,杯子,1,李*,18877771111-123,北京市朝阳区***号,2025-09-20 12:00:00\n"
        f"{CIPHER_ORDER},t***4,10.00,10.00,杯子,1,$$bmFtZQ==$$,$$cGhvbmU=$$,##YWRkcg==##,2025-09-20 13:00:00\n",
        encoding="utf-8")
    return path


def _reviews_csv(path: Path) -> Path:
    rows = [f"{oid},t***{i},差评,质量太差，洗一次就掉色,2025-09-28 1{i}:00:00,杯子"
            for i, oid in enumerate((FULL_ORDER, MASKED_ORDER, VIRTUAL_ORDER, CIPHER_ORDER), start=1)]
    path.write_text("订单编号,买家昵称,评价结果,评价内容,评价时间,宝贝标题\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _vault_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own key file (never the user's config dir) and the vault switched on."""
    key_file = tmp_path / "keys" / "vault.key"
    monkeypatch.setenv(vault.ENV_KEY_FILE, str(key_file))
    monkeypatch.delenv(vault.ENV_KEY, raising=False)
    monkeypatch.delenv(vault.ENV_SWITCH, raising=False)
    return key_file


def _vault_rows(store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(st.pii_vault).order_by(st.pii_vault.c.id)).mappings()]


def _shop(store) -> int:
    with store.read() as conn:
        return conn.execute(sa.select(st.shops.c.id).where(st.shops.c.name == "测试店")).scalar_one()


def _log(store) -> list[dict]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(
            sa.select(st.access_log).where(st.access_log.c.action == "unmask").order_by(st.access_log.c.id)).mappings()]


# ------------------------------------------------------------------------ crypto
def test_round_trip_random_nonce_and_layout():
    key = bytes.fromhex(KEY_HEX)
    a = vault.encrypt(key, 1, FULL_ORDER, "receiver_phone", CANARY_PHONE)
    b = vault.encrypt(key, 1, FULL_ORDER, "receiver_phone", CANARY_PHONE)
    assert a != b and a[:12] != b[:12]  # a fresh 12-byte nonce per value
    assert len(a) == 12 + len(CANARY_PHONE.encode()) + 16  # nonce ‖ ciphertext ‖ tag
    assert CANARY_PHONE.encode() not in a
    assert vault.decrypt(key, 1, FULL_ORDER, "receiver_phone", a) == CANARY_PHONE
    assert vault.decrypt(key, 1, FULL_ORDER, "receiver_address", vault.encrypt(
        key, 1, FULL_ORDER, "receiver_address", CANARY_ADDRESS)) == CANARY_ADDRESS


@pytest.mark.parametrize(("shop", "order", "field"), [
    (2, FULL_ORDER, "receiver_phone"),           # another shop
    (1, MASKED_ORDER, "receiver_phone"),         # another order
    (1, FULL_ORDER, "receiver_name"),            # another field
])
def test_associated_data_binds_shop_order_and_field(shop, order, field):
    key = bytes.fromhex(KEY_HEX)
    blob = vault.encrypt(key, 1, FULL_ORDER, "receiver_phone", CANARY_PHONE)
    with pytest.raises(StoreError, match="无法解密") as e:
        vault.decrypt(key, shop, order, field, blob)
    assert CANARY_PHONE not in str(e.value)


def test_wrong_key_and_tampering_fail_clearly():
    blob = vault.encrypt(bytes.fromhex(KEY_HEX), 1, FULL_ORDER, "receiver_phone", CANARY_PHONE)
    with pytest.raises(StoreError, match="wrong key"):
        vault.decrypt(bytes.fromhex(OTHER_KEY_HEX), 1, FULL_ORDER, "receiver_phone", blob)
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(StoreError):
        vault.decrypt(bytes.fromhex(KEY_HEX), 1, FULL_ORDER, "receiver_phone", tampered)


# --------------------------------------------------------------------------- key
def test_key_file_is_made_once_with_mode_0600(_vault_env):
    assert not _vault_env.exists()
    key = vault.load_key()
    assert len(key) == 32 and _vault_env.exists()
    if os.name == "posix":
        assert stat.S_IMODE(_vault_env.stat().st_mode) == 0o600
    assert _vault_env.read_text().strip() == key.hex()
    assert vault.load_key() == key and vault.load_key(create=False) == key
    assert vault.key_id(key) == hashlib.sha256(key).hexdigest()[:8]


def test_key_from_the_environment_wins(monkeypatch, _vault_env):
    monkeypatch.setenv(vault.ENV_KEY, KEY_HEX)
    assert vault.load_key() == bytes.fromhex(KEY_HEX)
    assert not _vault_env.exists()


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, KEY_HEX + "00"])
def test_malformed_key_is_refused_without_echoing_it(monkeypatch, bad):
    monkeypatch.setenv(vault.ENV_KEY, bad)
    with pytest.raises(ConfigError, match="64") as e:
        vault.load_key()
    assert bad not in str(e.value)


def test_malformed_key_file_is_refused(_vault_env):
    _vault_env.parent.mkdir(parents=True)
    _vault_env.write_text("not a key\n")
    _vault_env.chmod(0o600)
    with pytest.raises(ConfigError, match=str(_vault_env).replace("\\", "\\\\")):
        vault.load_key()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_key_file_others_can_read_is_warned_about(_vault_env):
    key = vault.load_key()
    _vault_env.chmod(0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        assert vault.load_key() == key


def test_missing_key_without_create(_vault_env):
    with pytest.raises(ConfigError, match="找不到保险库密钥"):
        vault.load_key(create=False)
    assert not _vault_env.exists()


def test_default_key_file_is_in_the_user_config_dir(monkeypatch, tmp_path):
    monkeypatch.delenv(vault.ENV_KEY_FILE)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    path = vault.key_file_path()
    assert path.name == "vault.key" and path.parent.name == "reviewops"
    if os.name == "posix" and os.uname().sysname != "Darwin":
        assert path == tmp_path / "cfg" / "reviewops" / "vault.key"


def test_switch_values(monkeypatch):
    for v, on in (("off", False), ("OFF", False), ("0", False), ("on", True), ("1", True), ("", True)):
        monkeypatch.setenv(vault.ENV_SWITCH, v)
        assert vault.enabled() is on
    monkeypatch.setenv(vault.ENV_SWITCH, "maybe")
    with pytest.raises(ConfigError, match="on 或 off"):
        vault.enabled()


# ------------------------------------------------------------------------ import
def test_import_stores_only_full_values_encrypted_and_no_plaintext_anywhere(sqlite_store, sqlite_db_url, tmp_path,
                                                                            _vault_env):
    import_file(sqlite_store, _orders_csv(tmp_path / "orders.csv"), shop="测试店")
    rows = _vault_rows(sqlite_store)
    assert {(r["order_id"], r["field"]) for r in rows} == {
        (FULL_ORDER, "receiver_name"), (FULL_ORDER, "receiver_phone"), (FULL_ORDER, "receiver_address")}
    key = vault.load_key(create=False)
    shop = _shop(sqlite_store)
    got = {r["field"]: vault.decrypt(key, r["shop_id"], r["order_id"], r["field"], r["ciphertext"]) for r in rows}
    assert got == {"receiver_name": CANARY_NAME, "receiver_phone": CANARY_PHONE, "receiver_address": CANARY_ADDRESS}
    assert all(r["shop_id"] == shop and r["key_id"] == vault.key_id(key) for r in rows)
    # no canary, and not the key either, in any byte of the database (main file, WAL, shared memory)
    db = Path(sqlite_db_url[len("sqlite:///"):])
    blobs = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert len(blobs) > 0
    for canary in (CANARY_NAME, CANARY_PHONE, "金丝雀路", "99990001"):
        for enc in ("utf-8", "utf-16-le", "gb18030"):
            assert canary.encode(enc) not in blobs, (canary, enc)
    assert key not in blobs and key.hex().encode() not in blobs
    # the key lives in its file, outside the store
    assert _vault_env.read_text().strip() == key.hex()


def test_reimport_adds_nothing_and_a_changed_value_replaces_the_old(store, tmp_path):
    path = _orders_csv(tmp_path / "orders.csv")
    import_file(store, path, shop="测试店")
    first = _vault_rows(store)
    (again,) = import_file(store, path, shop="测试店")
    assert again.rows_unchanged == 4 and again.rows_new == 0
    assert _vault_rows(store) == first  # same rows, same ciphertexts (not re-encrypted)
    import_file(store, _orders_csv(tmp_path / "orders2.csv", phone="13900139000"), shop="测试店")
    after = _vault_rows(store)
    assert len(after) == 3
    by_field = {r["field"]: r for r in after}
    old = {r["field"]: r for r in first}
    assert by_field["receiver_phone"]["id"] == old["receiver_phone"]["id"]
    assert by_field["receiver_phone"]["ciphertext"] != old["receiver_phone"]["ciphertext"]
    assert by_field["receiver_name"]["ciphertext"] == old["receiver_name"]["ciphertext"]
    key = vault.load_key(create=False)
    r = by_field["receiver_phone"]
    assert vault.decrypt(key, r["shop_id"], r["order_id"], "receiver_phone", r["ciphertext"]) == "13900139000"


def test_vault_off_stores_nothing(monkeypatch, sqlite_store, tmp_path, _vault_env):
    monkeypatch.setenv(vault.ENV_SWITCH, "off")
    (res,) = import_file(sqlite_store, _orders_csv(tmp_path / "orders.csv"), shop="测试店")
    assert res.rows_new == 4
    assert _vault_rows(sqlite_store) == []
    assert not _vault_env.exists()  # no key made either


def test_a_bad_key_rejects_the_whole_import(monkeypatch, sqlite_store, tmp_path):
    monkeypatch.setenv(vault.ENV_KEY, "0" * 10)
    with pytest.raises(ConfigError, match="REVIEWOPS_VAULT_KEY"):
        import_file(sqlite_store, _orders_csv(tmp_path / "orders.csv"), shop="测试店")
    assert sqlite_store.counts().get("orders", 0) == 0


def test_masked_only_files_make_no_key(sqlite_store, tmp_path, _vault_env):
    path = tmp_path / "masked.csv"
    path.write_text(f"{ORDER_HEADER}\n{MASKED_ORDER},t***2,10.00,10.00,杯子,1,张**,138****8000,浙江省 杭州市 ****,"
                    f"2025-09-20 11:00:00\n", encoding="utf-8")
    import_file(sqlite_store, path, shop="测试店")
    assert _vault_rows(sqlite_store) == [] and not _vault_env.exists()


def test_douyin_split_address_is_stored_whole(sqlite_store, tmp_path):
    path = tmp_path / "抖店订单.csv"
    path.write_text(
        "主订单编号,子订单编号,选购商品,商品数量,订单应付金额,收件人,收件人手机号,省,市,区,详细地址,订单提交时间\n"
        "4987654321098765432,4987654321098765433,杯子,1,10.00,王五,13800138000,浙江省,杭州市,西湖区,文三路1号,"
        "2025-09-20 10:00:00\n"
        "4987654321098765440,4987654321098765441,杯子,1,10.00,$$bmFtZQ==$$,$$cGhvbmU=$$,浙江省,杭州市,西湖区,"
        "##YWRkcg==##,2025-09-20 10:00:00\n", encoding="utf-8")
    import_file(sqlite_store, path, platform="douyin")
    key = vault.load_key(create=False)
    got = {r["field"]: vault.decrypt(key, r["shop_id"], r["order_id"], r["field"], r["ciphertext"])
           for r in _vault_rows(sqlite_store)}
    assert got == {"receiver_name": "王五", "receiver_phone": "13800138000", "receiver_address": "浙江省 杭州市 西湖区 文三路1号"}


# ------------------------------------------------------------------------ reveal
@pytest.fixture
def shop_with_cases(store, tmp_path):
    """Orders (one in full, three masked/virtual/encrypted at source), a 差评 on each, triaged into cases."""
    import_file(store, _orders_csv(tmp_path / "orders.csv"), shop="测试店")
    import_file(store, _reviews_csv(tmp_path / "reviews.csv"), platform="taobao", kind="reviews", shop="测试店")
    triage_store(store, model=False, now=NOW, actor="test")
    with store.read() as conn:
        case_of = {oid: cid for cid, oid in conn.execute(
            sa.select(st.cases.c.id, st.reviews.c.order_id).join(st.reviews, st.reviews.c.id == st.cases.c.review_pk))}
    assert set(case_of) == {FULL_ORDER, MASKED_ORDER, VIRTUAL_ORDER, CIPHER_ORDER}
    add_user(store, "sup", role="supervisor", actor="test")
    add_user(store, "agent1", role="agent", actor="test")
    add_user(store, "legal1", role="legal", actor="test")
    add_user(store, "other_sup", role="supervisor", shops=[_shop(store) + 100], actor="test")
    return store, case_of


def test_supervisor_reveals_each_field_and_it_is_audited_with_the_purpose(shop_with_cases):
    store, case_of = shop_with_cases
    sup = get_actor(store, "sup")
    case = case_of[FULL_ORDER]
    assert vault.reveal(store, sup, case, "receiver_phone", "售后联系客户") == CANARY_PHONE
    assert vault.reveal(store, sup, case, "receiver_name", "物流核实") == CANARY_NAME
    assert vault.reveal(store, get_actor(store, "legal1"), np.int64(case), "address", "法务取证") == CANARY_ADDRESS
    log = _log(store)
    assert [(r["actor"], r["role"], r["outcome"], r["case_id"], r["shop_id"], r["target"], r["purpose"]) for r in log] == [
        ("sup", "supervisor", "ok", case, _shop(store), "receiver_phone", "售后联系客户"),
        ("sup", "supervisor", "ok", case, _shop(store), "receiver_name", "物流核实"),
        ("legal1", "legal", "ok", case, _shop(store), "receiver_address", "法务取证"),
    ]
    assert json.loads(log[0]["detail_json"])["order_id"] == FULL_ORDER
    text = json.dumps(log, default=str, ensure_ascii=False)
    assert CANARY_PHONE not in text and CANARY_NAME not in text and "金丝雀路" not in text


def test_agent_is_denied_and_audited(shop_with_cases):
    store, case_of = shop_with_cases
    agent = get_actor(store, "agent1")
    assert agent.can_unmask is False
    with pytest.raises(AccessDenied, match="无权查看完整个人信息") as e:
        vault.reveal(store, agent, case_of[FULL_ORDER], "receiver_phone", "售后联系客户")
    assert CANARY_PHONE not in str(e.value)
    (row,) = _log(store)
    assert (row["actor"], row["role"], row["outcome"], row["case_id"], row["target"], row["purpose"]) == (
        "agent1", "agent", "denied", case_of[FULL_ORDER], "receiver_phone", "售后联系客户")


def test_a_forged_or_stale_actor_gets_nothing(shop_with_cases):
    store, case_of = shop_with_cases
    forged = dataclasses.replace(get_actor(store, "agent1"), can_unmask=True, role="supervisor")
    with pytest.raises(AccessDenied):
        vault.reveal(store, forged, case_of[FULL_ORDER], "receiver_phone", "售后联系客户")
    sup = get_actor(store, "sup")
    set_active(store, "sup", False, actor="admin")
    with pytest.raises(AccessDenied, match="停用"):
        vault.reveal(store, sup, case_of[FULL_ORDER], "receiver_phone", "售后联系客户")
    with pytest.raises(AccessDenied):
        vault.reveal(store, "sup", case_of[FULL_ORDER], "receiver_phone", "售后联系客户")  # type: ignore[arg-type]
    assert [r["outcome"] for r in _log(store)] == ["denied"] * 3


def test_another_shops_supervisor_is_denied(shop_with_cases):
    store, case_of = shop_with_cases
    with pytest.raises(AccessDenied, match="无权访问店铺"):
        vault.reveal(store, get_actor(store, "other_sup"), case_of[FULL_ORDER], "receiver_phone", "售后联系客户")
    (row,) = _log(store)
    assert (row["outcome"], row["shop_id"], row["case_id"]) == ("denied", _shop(store), case_of[FULL_ORDER])


@pytest.mark.parametrize("purpose", ["", "   ", "查", None, " \n\t"])
def test_a_purpose_is_required(shop_with_cases, purpose):
    store, case_of = shop_with_cases
    with pytest.raises(AccessDenied, match="必须填写目的"):
        vault.reveal(store, get_actor(store, "sup"), case_of[FULL_ORDER], "receiver_phone", purpose)
    (row,) = _log(store)
    assert row["outcome"] == "denied"


def test_purpose_is_logged_masked(shop_with_cases):
    store, case_of = shop_with_cases
    vault.reveal(store, get_actor(store, "sup"), case_of[FULL_ORDER], "receiver_phone", "回拨 13800138000 核实地址")
    assert _log(store)[0]["purpose"] == "回拨 138****8000 核实地址"


@pytest.mark.parametrize(("case_arg", "field"), [
    ("list", "receiver_phone"), ("one", ["receiver_phone", "receiver_name"]), ("one", None),
])
def test_one_case_and_one_field_per_call(shop_with_cases, case_arg, field):
    store, case_of = shop_with_cases
    case = list(case_of.values()) if case_arg == "list" else case_of[FULL_ORDER]
    with pytest.raises(AccessDenied, match="一次只能查看一个案件的一个字段"):
        vault.reveal(store, get_actor(store, "sup"), case, field, "售后联系客户")
    assert [r["outcome"] for r in _log(store)] == ["denied"]


def test_unknown_field_and_case(shop_with_cases):
    store, case_of = shop_with_cases
    sup = get_actor(store, "sup")
    with pytest.raises(ConfigError, match="未知字段"):
        vault.reveal(store, sup, case_of[FULL_ORDER], "buyer_nick", "售后联系客户")
    with pytest.raises(NotFound, match="不存在"):
        vault.reveal(store, sup, 999_999, "receiver_phone", "售后联系客户")
    assert [r["outcome"] for r in _log(store)] == ["error", "error"]


def test_rate_limit_refuses_bulk_harvesting(shop_with_cases, monkeypatch):
    store, case_of = shop_with_cases
    monkeypatch.setattr(vault, "RATE_LIMIT", 3)
    sup = get_actor(store, "sup")
    for f in ("receiver_phone", "receiver_name", "receiver_address"):
        vault.reveal(store, sup, case_of[FULL_ORDER], f, "售后联系客户")
    with pytest.raises(AccessDenied, match="查看次数已达上限"):
        vault.reveal(store, sup, case_of[FULL_ORDER], "receiver_phone", "售后联系客户")
    # the limit is per user: another supervisor-level user may still reveal
    assert vault.reveal(store, get_actor(store, "legal1"), case_of[FULL_ORDER], "receiver_phone", "法务取证") == CANARY_PHONE
    # an hour later the earlier reveals no longer count (the access log itself is append-only)
    later = st.utcnow() + vault.RATE_WINDOW + dt.timedelta(minutes=1)
    monkeypatch.setattr(vault, "utcnow", lambda: later)
    assert vault.reveal(store, sup, case_of[FULL_ORDER], "receiver_phone", "售后联系客户") == CANARY_PHONE
    assert [r["outcome"] for r in _log(store)] == ["ok", "ok", "ok", "denied", "ok", "ok"]


def test_the_default_limit_is_thirty_an_hour():
    assert vault.RATE_LIMIT == 30 and vault.RATE_WINDOW == dt.timedelta(hours=1)


@pytest.mark.parametrize(("order", "field", "message"), [
    (MASKED_ORDER, "receiver_phone", "平台只提供了脱敏值 138\\*\\*\\*\\*8000"),
    (MASKED_ORDER, "receiver_name", "平台只提供了脱敏值 张\\*\\*"),
    (MASKED_ORDER, "receiver_address", "平台只提供了脱敏值"),
    (VIRTUAL_ORDER, "receiver_phone", "虚拟号"),
    (CIPHER_ORDER, "receiver_phone", "平台只提供了密文"),
    (CIPHER_ORDER, "receiver_address", "平台只提供了密文"),
])
def test_masked_at_source_is_not_found(shop_with_cases, order, field, message):
    store, case_of = shop_with_cases
    with pytest.raises(NotFound, match=message):
        vault.reveal(store, get_actor(store, "sup"), case_of[order], field, "售后联系客户")
    (row,) = _log(store)
    assert row["outcome"] == "error" and row["target"] == field


def test_wrong_or_missing_key_on_reveal(shop_with_cases, monkeypatch, _vault_env):
    store, case_of = shop_with_cases
    sup = get_actor(store, "sup")
    stored_id = _vault_rows(store)[0]["key_id"]
    monkeypatch.setenv(vault.ENV_KEY, OTHER_KEY_HEX)
    with pytest.raises(ConfigError, match=f"该值由密钥 {stored_id} 加密"):
        vault.reveal(store, sup, case_of[FULL_ORDER], "receiver_phone", "售后联系客户")
    monkeypatch.delenv(vault.ENV_KEY)
    _vault_env.unlink()
    with pytest.raises(ConfigError, match="找不到保险库密钥"):
        vault.reveal(store, sup, case_of[FULL_ORDER], "receiver_phone", "售后联系客户")
    assert not _vault_env.exists()  # a reveal never makes a new key
    assert [r["outcome"] for r in _log(store)] == ["error", "error"]


def test_a_ciphertext_moved_to_another_order_does_not_decrypt(shop_with_cases):
    store, case_of = shop_with_cases
    with store.write() as conn:
        phone = conn.execute(sa.select(st.pii_vault).where(st.pii_vault.c.field == "receiver_phone")).mappings().one()
        conn.execute(st.pii_vault.insert().values(
            shop_id=phone["shop_id"], order_id=MASKED_ORDER, field="receiver_phone", key_id=phone["key_id"],
            ciphertext=phone["ciphertext"], created_at=phone["created_at"]))
    with pytest.raises(StoreError, match="无法解密"):
        vault.reveal(store, get_actor(store, "sup"), case_of[MASKED_ORDER], "receiver_phone", "售后联系客户")


def test_purposes_are_chinese_choices():
    assert isinstance(vault.PURPOSES, tuple) and len(vault.PURPOSES) >= 4
    assert {"售后联系客户", "物流核实", "法务取证", "平台申诉"} <= set(vault.PURPOSES)
