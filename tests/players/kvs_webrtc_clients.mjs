// The AWS SDK for JavaScript v3 clients the KVS WebRTC browser test pages use, bundled for the
// page by esbuild at test time (tests/services/kinesisvideo/test_kinesisvideo_webrtc_browser.py).
export {
  KinesisVideoClient,
  DescribeSignalingChannelCommand,
  GetSignalingChannelEndpointCommand,
} from "@aws-sdk/client-kinesis-video";
export { KinesisVideoSignalingClient, GetIceServerConfigCommand } from "@aws-sdk/client-kinesis-video-signaling";
