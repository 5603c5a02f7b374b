"""A page on another origin, in headless Chromium, calls greenroom itself (as KVS's web samples
call the control plane and the HLS endpoints): preflighted fetches to a model operation and to a
media route succeed, response headers AWS clients read are visible to the script, and a header
greenroom does not allow is refused by the browser."""
from __future__ import annotations

import json
import time

from support import BrowserPage

SCRIPT = """<script>
var base = %(base)s, hls = %(hls)s;
var auth = "AWS4-HMAC-SHA256 Credential=AKIDGREENROOMTEST/20260101/us-east-1/kinesisvideo/aws4_request, " +
           "SignedHeaders=host;x-amz-date, Signature=0";
function call(name, body) {
  return fetch(base + "/" + name, {method: "POST", body: JSON.stringify(body), headers: {
    "Content-Type": "application/json", "Authorization": auth, "X-Amz-Date": "20260101T000000Z",
    "amz-sdk-invocation-id": "1b7c", "amz-sdk-request": "attempt=1; max=1"}});
}
async function run() {
  var out = {};
  var r = await call("describeStream", {StreamName: "cam"});
  out.model = {status: r.status, requestId: r.headers.get("x-amzn-RequestId"),
               name: (await r.json()).StreamInfo.StreamName};
  r = await call("describeStream", {StreamName: "nope"});
  out.missing = {status: r.status, errorType: r.headers.get("x-amzn-ErrorType")};
  r = await fetch(hls, {headers: {"X-Amz-User-Agent": "greenroom-cors-test"}});
  var master = await r.text();
  out.master = {status: r.status, requestId: r.headers.get("x-amzn-RequestId"), head: master.slice(0, 7)};
  var media = master.split("\\n").filter(function (line) { return line && line[0] !== "#"; })[0];
  r = await fetch(new URL(media, hls), {headers: {"X-Amz-User-Agent": "greenroom-cors-test"}});
  out.media = {status: r.status, head: (await r.text()).slice(0, 7)};
  try {
    await fetch(base + "/describeStream", {method: "POST", headers: {"X-Evil": "1"}});
    out.evil = "allowed";
  } catch (error) {
    out.evil = "refused";
  }
  report(out);
}
run().catch(function (error) { report({failure: String(error)}); });
</script>"""


def test_chromium_page_on_another_origin_calls_a_model_operation_and_a_media_route(plain_http_kvs, server):
    http_kvs = plain_http_kvs  # plain HTTP: this Chromium does not trust greenroom's CA
    http_kvs.create_active_stream("cam")
    http_kvs.put_video("cam", seconds=2.0)
    hls = http_kvs.client("kinesis-video-archived-media").get_hls_streaming_session_url(
        StreamName="cam", PlaybackMode="LIVE")["HLSStreamingSessionURL"]
    with BrowserPage(SCRIPT % {"base": json.dumps(server.base_url), "hls": json.dumps(hls)}) as page:
        assert page.url.split("/")[2] != server.base_url.split("/")[2]  # another origin
        result = page.wait(lambda seen: bool(seen))[0]
    assert "failure" not in result, result
    assert result["model"]["status"] == 200 and result["model"]["name"] == "cam"
    assert result["model"]["requestId"]              # exposed to the script
    assert result["missing"] == {"status": 404, "errorType": "ResourceNotFoundException"}
    assert result["master"]["status"] == 200 and result["master"]["head"] == "#EXTM3U"
    assert result["master"]["requestId"]
    assert result["media"] == {"status": 200, "head": "#EXTM3U"}
    assert result["evil"] == "refused"
    # The browser did ask first: greenroom logged the preflights.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "OPTIONS /hls/v1/" not in server.log():
        time.sleep(0.1)
    log = server.log()
    assert "OPTIONS /describeStream - CORS preflight 200" in log
    assert "OPTIONS /hls/v1/getHLSMasterPlaylist.m3u8" in log
