"""千牛 chat records copied from the query page as text (exports.md §2.1.6)."""

import sqlalchemy as sa

from reviewops.intake.ingest import import_file
from reviewops.intake.readers import read_bytes
from reviewops.core.store import chat_messages

PAGE = """tb_小明88 2026-3-5 14:22:08
你好，衣服收到了，袖口开线了
还有一点色差
禾木优选旗舰店:小王 2026-3-5 14:23:01
亲，非常抱歉！麻烦拍个照片给我们看看
当前用户来自 手机淘宝
tb_小明88 2026-3-5 14:25:40
不给我退50块我就给差评
tb_小明88 撤回了一条消息
[禾木优选旗舰店:小王] 2026-03-05 14:26:02
亲，我们按售后流程为您处理
"""


def test_page_text_becomes_a_chat_table():
    (t,) = read_bytes(PAGE.encode("gb18030"), "聊天记录.txt")
    assert t.file_type == "chat-text" and t.encoding == "gb18030"
    header, *rows = t.rows
    assert header == ["客户名", "消息序号", "发送时间", "发送内容", "发送账号", "账号类型"]
    assert [r[5] for r in rows] == ["买家", "客服", "买家", "客服"]
    assert rows[0][3] == "你好，衣服收到了，袖口开线了\n还有一点色差"  # multi-line message kept whole
    assert rows[1][3] == "亲，非常抱歉！麻烦拍个照片给我们看看"    # system line dropped
    assert rows[2][3] == "不给我退50块我就给差评"                   # recall notice dropped
    assert {r[0] for r in rows} == {"tb_小明88"}


def test_a_csv_with_times_is_not_mistaken_for_chat_text():
    csv_text = "客户名,发送时间,发送内容\nA 2026-3-5 14:22:08,x,y\nB 2026-3-5 14:22:09,x,y\n"
    (t,) = read_bytes(csv_text.encode("utf-8"), "x.csv")
    assert t.file_type == "csv"


def test_imported_chat_masks_the_buyer_and_keeps_staff_accounts(store, tmp_path):
    path = tmp_path / "聊天记录.txt"
    path.write_bytes(PAGE.encode("utf-8"))
    (res,) = import_file(store, path, shop="禾木优选旗舰店")
    assert (res.platform, res.kind, res.rows_new) == ("taobao", "chats", 4)
    with store.read() as conn:
        rows = conn.execute(sa.select(chat_messages.c.sender_name, chat_messages.c.sender_role,
                                      chat_messages.c.conversation_masked)
                            .order_by(chat_messages.c.message_seq)).all()
    assert [tuple(r) for r in rows] == [
        ("t***8", "buyer", "t***8"), ("禾木优选旗舰店:小王", "agent", "t***8"),
        ("t***8", "buyer", "t***8"), ("禾木优选旗舰店:小王", "agent", "t***8"),
    ]
    (again,) = import_file(store, path, shop="禾木优选旗舰店")
    assert (again.rows_new, again.rows_unchanged) == (0, 4)
