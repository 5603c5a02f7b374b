"""uvicorn's HTTP protocols, answering requests they cannot parse (unknown methods, 100 KB URLs,
malformed headers) in JSON like every other greenroom error instead of plain text."""
from __future__ import annotations

import json


def _json_400(message: str) -> tuple[bytes, bytes]:
    """(content-type, body) of the answer to a request the HTTP parser refused; the error type
    (also sent as x-amzn-ErrorType) is what AWS's front ends name such requests. [inferred]"""
    return b"application/json", json.dumps({"message": message, "__type": "BadRequestException"}).encode()


def http_protocol_class():
    """The class uvicorn's "auto" choice would use (httptools when installed, else h11), with
    its 400 answer in JSON."""
    try:
        from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
    except ImportError:
        return _h11_protocol_class()

    class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
        def send_400_response(self, msg: str) -> None:
            content_type, body = _json_400(msg)
            head = [STATUS_LINE[400]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head += [b"content-type: ", content_type, b"\r\nx-amzn-errortype: BadRequestException\r\ncontent-length: ", str(len(body)).encode(),
                     b"\r\nconnection: close\r\n\r\n", body]
            self.transport.write(b"".join(head))
            self.transport.close()

    return JsonErrorHttpToolsProtocol


def _h11_protocol_class():
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class JsonErrorH11Protocol(H11Protocol):
        def send_400_response(self, msg: str) -> None:
            content_type, body = _json_400(msg)
            headers = [(b"content-type", content_type), (b"x-amzn-errortype", b"BadRequestException"),
                       (b"content-length", str(len(body)).encode()),
                       (b"connection", b"close")]
            for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                          h11.Data(data=body), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event))
            self.transport.close()

    return JsonErrorH11Protocol
