from codeward.providers.sse import SSEParser


def events(chunks):
    p = SSEParser()
    out = []
    for c in chunks:
        out.extend(p.feed(c))
    out.extend(p.close())
    return out


def test_events_split_across_arbitrary_chunks():
    raw = b'event: a\ndata: {"x": 1}\n\ndata: line1\ndata: line2\n\n: keep-alive\n\ndata: [DONE]\n\n'
    whole = events([raw])
    assert whole == [("a", '{"x": 1}'), ("", "line1\nline2"), ("", "[DONE]")]
    for size in (1, 2, 3, 7):
        chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
        assert events(chunks) == whole


def test_crlf_and_missing_final_blank_line():
    assert events([b"data: a\r\n\r\ndata: b"]) == [("", "a"), ("", "b")]
