#!/usr/bin/env python3
"""Writes the parse fixtures whose exact bytes matter and that an editor would
mangle: other encodings (ISO-8859-1, windows-1252, windows-1258, UTF-16),
byte order marks, NFD text, control characters, and the generated limit and
nesting documents. The bytes are committed; run this again only to change
them (python3 tests/data/parse/make_binary_fixtures.py). The expected JSON
beside each is written by hand review, not by this script."""
import os
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))


def write(name, data):
    with open(os.path.join(HERE, name + ".xml"), "wb") as f:
        f.write(data)


def rss(title, items, decl='<?xml version="1.0" encoding="UTF-8"?>', extra_channel=""):
    out = [decl, '<rss version="2.0">', "  <channel>", f"    <title>{title}</title>",
           "    <link>https://nhuthanh.thanhhoa.gov.vn/</link>",
           "    <description>Kiểm thử mã hóa ký tự</description>" + extra_channel]
    for i, (t, d) in enumerate(items, 1):
        out += ["    <item>", f"      <title>{t}</title>",
                f"      <link>https://nhuthanh.thanhhoa.gov.vn/tin-tuc/tin-{i}.htm</link>",
                f"      <description>{d}</description>", "    </item>"]
    out += ["  </channel>", "</rss>", ""]
    return "\n".join(out)


# Tone marks that windows-1258 keeps as separate combining characters.
TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text):
    """Vietnamese as a windows-1258 CMS writes it: base letters with their
    vowel marks precomposed (ê, ơ, ư, ă, â, ô), tone marks as combining
    characters after them."""
    out = []
    for ch in text:
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
        tones = "".join(c for c in parts if c in TONES)
        out.append((base + tones).encode("cp1258"))
    return b"".join(out)


def main():
    # UTF-8 with a byte order mark before the declaration.
    write("enc_utf8_bom", b"\xef\xbb\xbf" + rss("Huyện Như Thanh (BOM)", [
        ("Khai mạc kỳ thi tuyển sinh lớp 10", "Hơn 2.000 thí sinh dự thi.")]).encode())

    # White space (CR LF, spaces, a tab) before <?xml: what PHP CMSs emit when
    # an include file ends with a blank line.
    write("enc_whitespace_before_decl", b"\r\n  \t\n" + rss("Huyện Như Xuân", [
        ("Như Xuân tổ chức Ngày hội văn hóa các dân tộc", "Ngày hội thu hút hàng nghìn người.")
    ]).encode())

    # ISO-8859-1 declared: Latin-1 letters are single bytes; Vietnamese
    # letters outside Latin-1 arrive as character references.
    write("enc_iso8859_1_declared", """<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="2.0">
  <channel>
    <title>Café Sầm Sơn</title>
    <link>https://samson.thanhhoa.gov.vn/</link>
    <description>Crème brûlée à la française</description>
    <item>
      <title>Ẩm thực Pháp giữa lòng Sầm Sơn: crème brûlée, café au lait</title>
      <link>https://samson.thanhhoa.gov.vn/tin/am-thuc.htm</link>
      <description>Giá: 45.000 đ (≈ 1,80 €) · très apprécié</description>
    </item>
  </channel>
</rss>
""".encode("iso-8859-1", errors="xmlcharrefreplace"))

    # windows-1252 declared: curly quotes, en dash, ellipsis, euro in 0x80-0x9F.
    write("enc_windows1252_declared", rss(
        "Saigon Times – English edition", [
            ("“Thanh Hoa” tops FDI attraction… again", "Investors pledged €2 billion – a record.")],
        decl='<?xml version="1.0" encoding="windows-1252"?>').replace(
            "Kiểm thử mã hóa ký tự", "Encoding test").encode("cp1252"))

    # A document declared (and mostly written) as UTF-8 with a few windows-1252
    # bytes pasted in from a Word document: the invalid bytes are recovered.
    doc = rss("Sở Ngoại vụ Thanh Hóa", [
        ("Đón đoàn công tác QUOTEJetroUNQUOTE tại Nghi Sơn",
         "Đoàn làm việc với tỉnh DASH trao đổi hợp tác đầu tư.")]).encode()
    doc = doc.replace(b"UNQUOTE", b"\x94").replace(b"QUOTE", b"\x93")
    doc = doc.replace(b"DASH", b"\x96")
    write("enc_windows1252_bytes_in_utf8", doc)

    # windows-1258 declared, Vietnamese with combining tone marks: the output
    # must be NFC (one code point per letter).
    text = rss("Ủy ban nhân dân huyện Như Thanh", [
        ("Hội nghị tổng kết công tác chuyển đổi số năm 2021",
         "Đồng chí Chủ tịch UBND huyện phát biểu chỉ đạo hội nghị.")],
        decl='<?xml version="1.0" encoding="windows-1258"?>')
    write("enc_windows1258_vietnamese", to_cp1258(text))

    # UTF-16 little-endian and big-endian with a byte order mark.
    t16 = rss("Bộ Nội vụ", [("Tuyển dụng công chức năm 2022", "Thông báo tuyển dụng 45 chỉ tiêu.")],
              decl='<?xml version="1.0" encoding="UTF-16"?>')
    write("enc_utf16le_bom", b"\xff\xfe" + t16.encode("utf-16-le"))
    write("enc_utf16be_bom", b"\xfe\xff" + t16.encode("utf-16-be"))

    # NFD Vietnamese (as some Mac-based CMSs store it): output in NFC.
    nfd = unicodedata.normalize("NFD", rss("Huyện Thiệu Hóa", [
        ("Thiệu Hóa: Người dân hưởng ứng Tết trồng cây", "Trồng mới hơn 5.000 cây xanh dọc các tuyến đường.")]))
    write("enc_nfd_vietnamese", nfd.encode())

    # XML-illegal control characters (from copy-paste out of Word and from
    # databases) in text, an attribute and CDATA.
    doc = rss("Huyện Quan Hóa", [
        ("Quan Hóa\x0b khắc phục\x08 hậu quả mưa lũ", "<![CDATA[<p>Thiệt hại\x01 ước tính\x1f 2 tỷ đồng.</p>]]>")])
    doc = doc.replace("<link>https://nhuthanh.thanhhoa.gov.vn/tin-tuc/tin-1.htm",
                      "<link>https://nhuthanh.thanhhoa.gov.vn/tin-tuc/tin-1.htm\x0c")
    write("enc_control_characters", doc.encode())

    # Nesting past TM_PARSE_MAX_DEPTH (256) inside an item's description.
    depth = 400
    body = "<div>" * depth + "sâu" + "</div>" * depth
    write("hostile_deep_nesting_xml", rss("Huyện Mường Lát", [
        ("Tin lồng sâu", "")]).replace("<description></description>",
                                       "<description>" + body + "</description>").encode())

    # More items than TM_PARSE_MAX_ITEMS (1000): the first 1000 kept, reported.
    items = [(f"Tin {i}", f"Nội dung {i}") for i in range(1, 1006)]
    write("limits_too_many_items", rss("Huyện Đông Sơn", items).encode())

    # A title over TM_PARSE_MAX_TITLE_BYTES (2048): truncated on a character
    # boundary (18 bytes of prefix, then 3-byte "ệ": byte 2048 falls inside one,
    # so the title keeps 2047 bytes).
    title = "Tiêu đề dài: " + "ệ" * 800
    write("limits_long_title", rss("Huyện Cẩm Thủy", [(title, "Tin có tiêu đề quá dài.")]).encode())


if __name__ == "__main__":
    main()
