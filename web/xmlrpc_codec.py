"""The XML-RPC wire format: parsing calls and writing responses, byte-for-byte as ``xmlrpc.client`` does.

Why not just ``xmlrpc.client``: its ``Unmarshaller`` runs a Python callback per XML event and its
``Marshaller`` dispatches through a dict of bound methods per value; together they were most of the hub's
time per call (a multicall of 500 ``sendRemoteCommEvent`` took 0.2 ms per call, four times Supervisor).
Here a call is parsed by ElementTree's C parser into a tree and walked once, and responses are written by a
small marshaller for the types our methods return. Both stay exact: anything unusual (``dateTime``,
``base64``, odd shapes, bad XML, a float or None in a result) is left to ``xmlrpc.client``, imported only
then, so every byte on the wire is what the stdlib would have produced.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element, ParseError, XMLParser

MAXINT = 2**31 - 1
MAX_DEPTH = 64  # arrays/structs nested deeper make a call a 400 (real calls nest 3 or 4 deep)
FEED_SLICE = 4 << 10  # bytes of a big body parsed per feed (the GIL can change hands between feeds)
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(data: bytes | str) -> str:
    """Text that always marshals: invalid UTF-8 and XML-illegal characters become U+FFFD.

    Supervisor answers HTTP 500 or malformed XML for such log bytes (#1485, #1293); a client would rather
    see a replacement character.
    """
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return _ILLEGAL_XML.sub("\ufffd", text)


def capped(value: int) -> int:
    """XML-RPC ints are 32-bit: clamp, like Supervisor's ``capped_int``."""
    return max(-MAXINT - 1, min(MAXINT, int(value)))


# --- parsing calls ---


class NotFast(Exception):
    """A body the fast parser leaves to ``xmlrpc.client.loads`` (which decides: result or 400)."""


class TooDeep(Exception):
    """Values nested beyond :data:`MAX_DEPTH`: a 400, before any recursion (here, in repr, in the
    marshaller) can hit Python's recursion limit."""


def too_deep(params: tuple[Any, ...]) -> bool:
    """Whether parsed ``params`` nest arrays/structs beyond :data:`MAX_DEPTH` (for the stdlib's results)."""
    stack: list[tuple[Any, int]] = [(p, 1) for p in params]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
    return False


def _text(element: Element) -> str:
    if len(element):
        raise NotFast
    return element.text or ""


def _bool(text: str) -> bool:
    if text == "0":
        return False
    if text == "1":
        return True
    raise NotFast


_SCALARS: dict[str, Any] = {
    "string": lambda text: text,
    "int": int,
    "i4": int,
    "i8": int,
    "boolean": _bool,
    "double": float,
}


def _value(element: Element, depth: int = 1) -> Any:
    if depth > MAX_DEPTH:
        raise TooDeep
    if element.tag != "value":
        raise NotFast
    size = len(element)
    if not size:
        return element.text or ""  # an untyped value is a string
    text = element.text
    if size > 1 or (text and not text.isspace()):
        raise NotFast
    typed = element[0]
    tag = typed.tag
    if tag == "string":  # the usual case, first: a multicall of 500 is mostly strings
        if len(typed):
            raise NotFast
        return typed.text or ""
    convert = _SCALARS.get(tag)
    if convert is not None:
        try:
            return convert(_text(typed))
        except ValueError:
            raise NotFast from None
    if tag == "struct":
        struct: dict[str, Any] = {}
        for member in typed:
            if member.tag != "member" or len(member) != 2:
                raise NotFast
            name, value = member
            if name.tag != "name":
                raise NotFast
            struct[_text(name)] = _value(value, depth + 1)
        return struct
    if tag == "array":
        if len(typed) != 1 or typed[0].tag != "data":
            raise NotFast
        return [_value(item, depth + 1) for item in typed[0]]
    if tag == "nil" and not len(typed):
        return None
    raise NotFast  # base64, dateTime.iso8601, Apache extensions...


def _feed(parser: XMLParser, body: bytes) -> None:
    """Parse ``body`` in slices cut just before a tag, so that other threads run between slices.

    Why slices: expat holds the GIL for a whole feed, and a multicall of 500 calls (150 KB) is 5-10 ms in
    C during which the I/O thread cannot answer a listener. Why only before a ``<``: expat re-scans an
    unfinished token on every feed, so slices cut inside one took quadratic time (12 MB of one token: 15 s
    of a blocked hub). Outside markup a ``<`` always starts a tag; a body with ``<!`` (a comment, CDATA, a
    DOCTYPE) or a processing instruction, where it need not, is parsed in one feed.
    """
    size = len(body)
    if size <= FEED_SLICE or b"<!" in body or body.count(b"<?") > 1:
        parser.feed(body)
        return
    view = memoryview(body)
    start = 0
    while size - start > FEED_SLICE:
        cut = body.find(b"<", start + FEED_SLICE)
        if cut < 0:
            break
        parser.feed(view[start:cut])
        start = cut
    parser.feed(view[start:])


def loads_call(body: bytes) -> tuple[str, tuple[Any, ...]]:
    """``(methodName, params)`` of a ``methodCall``, as ``xmlrpc.client.loads(use_builtin_types=True)``."""
    parser = XMLParser()
    try:
        _feed(parser, body)
        root = parser.close()
    except ParseError:
        raise NotFast from None
    if root.tag != "methodCall" or not 1 <= len(root) <= 2 or root[0].tag != "methodName":
        raise NotFast
    name = _text(root[0])
    params: list[Any] = []
    if len(root) == 2:
        if root[1].tag != "params":
            raise NotFast
        for param in root[1]:
            if param.tag != "param" or len(param) != 1:
                raise NotFast
            params.append(_value(param[0]))
    if not name:
        raise NotFast
    return name, tuple(params)


# --- writing responses ---


class _Unmarshallable(Exception):
    """A value the fast marshaller does not know: let xmlrpc.client decide (it may raise TypeError)."""


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _escape(text: str) -> str:
    """xmlrpc.client.escape, without three replace() passes over text that needs none (nearly all)."""
    if "&" in text or "<" in text or ">" in text:
        return text.translate(_ESCAPES)
    return text


def _dump(value: Any, out: list[str]) -> None:
    """Append ``value`` exactly as ``xmlrpc.client.Marshaller`` writes it (same bytes, same errors).

    Why a second marshaller: the stdlib one dispatches through a dict of bound methods per value and was
    the largest single cost of ``getAllProcessInfo`` (3,000 values for 200 processes). This handles the
    types our methods return and defers everything else to the stdlib.
    """
    kind = type(value)
    if kind is str:
        out.append("<value><string>")
        out.append(_escape(value))
        out.append("</string></value>\n")
    elif kind is int:
        if value > MAXINT or value < -MAXINT - 1:
            raise OverflowError("int exceeds XML-RPC limits")
        out.append(f"<value><int>{value}</int></value>\n")
    elif kind is dict:
        out.append("<value><struct>\n")
        for key, item in value.items():
            if type(key) is not str:
                raise _Unmarshallable
            out.append(f"<member>\n<name>{_escape(key)}</name>\n")
            _dump(item, out)
            out.append("</member>\n")
        out.append("</struct></value>\n")
    elif kind is list or kind is tuple:
        out.append("<value><array><data>\n")
        for item in value:
            _dump(item, out)
        out.append("</data></array></value>\n")
    elif kind is bool:
        out.append(f"<value><boolean>{int(value)}</boolean></value>\n")
    elif kind is Marshalled:
        out.append(value)
    else:
        raise _Unmarshallable


class Marshalled(str):
    """A value already written as XML-RPC (one ``<value>…</value>``): the marshaller copies it verbatim.

    For results built from many unchanged parts (the process structs of ``getAllProcessInfo``). Only put
    it in results the fast marshaller writes whole: the stdlib fallback would escape it as a string.
    """


def marshalled(value: Any) -> Marshalled:
    """``value`` in XML-RPC form, to be embedded in later results."""
    out: list[str] = []
    _dump(value, out)
    return Marshalled("".join(out))


def dumps_response(result: Any) -> str:
    """``xmlrpc.client.dumps((result,), methodresponse=True)``, faster for plain structs/arrays/str/int."""
    out = ["<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n"]
    try:
        _dump(result, out)
    except _Unmarshallable:
        import xmlrpc.client

        return xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
    out.append("</param>\n</params>\n</methodResponse>\n")
    return "".join(out)


def marshal_result(result: Any, failed_code: int) -> bytes:
    """The response body for ``result``; a value XML-RPC cannot carry becomes a ``failed_code`` fault."""
    try:
        text = dumps_response(result)
    except (OverflowError, TypeError) as exc:
        return marshal_fault(failed_code, f"FAILED: unmarshallable result: {exc}")
    return text.encode("utf-8", "xmlcharrefreplace")


def marshal_fault(code: int, text: str) -> bytes:
    """``xmlrpc.client.dumps(Fault(code, text), methodresponse=True)``, same bytes."""
    out = ["<?xml version='1.0'?>\n<methodResponse>\n<fault>\n"]
    _dump({"faultCode": code, "faultString": xml_safe(text)}, out)
    out.append("</fault>\n</methodResponse>\n")
    return "".join(out).encode("utf-8", "xmlcharrefreplace")
