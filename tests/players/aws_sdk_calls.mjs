// Calls each service greenroom emulates with the AWS SDK for JavaScript v3, at the endpoint given
// as the first argument (tests/test_tls.py runs it against greenroom's HTTPS listener with
// NODE_EXTRA_CA_CERTS naming greenroom's CA). Prints one JSON object of what came back.
import { KinesisVideoClient, CreateStreamCommand, DescribeStreamCommand, GetDataEndpointCommand,
         CreateSignalingChannelCommand, GetSignalingChannelEndpointCommand } from "@aws-sdk/client-kinesis-video";
import { KinesisVideoArchivedMediaClient, ListFragmentsCommand } from "@aws-sdk/client-kinesis-video-archived-media";
import { KinesisVideoMediaClient, GetMediaCommand } from "@aws-sdk/client-kinesis-video-media";
import { IVSRealTimeClient, CreateStageCommand } from "@aws-sdk/client-ivs-realtime";
import { GameLiftStreamsClient, ListStreamGroupsCommand } from "@aws-sdk/client-gameliftstreams";
import { NimbleClient, ListStudiosCommand } from "@aws-sdk/client-nimble";

const endpoint = process.argv[2];
const stream = process.argv[3];     // a stream that already holds media
const options = (url) => ({
  endpoint: url, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "123456789012", secretAccessKey: "any" },
});
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const out = {};

const kv = new KinesisVideoClient(options(endpoint));
await kv.send(new CreateStreamCommand({ StreamName: "from-node", DataRetentionInHours: 1 }));
out.describe = (await kv.send(new DescribeStreamCommand({ StreamName: "from-node" }))).StreamInfo.StreamName;
const getMedia = (await kv.send(new GetDataEndpointCommand({ StreamName: stream, APIName: "GET_MEDIA" }))).DataEndpoint;
const listFragments = (await kv.send(new GetDataEndpointCommand({ StreamName: stream, APIName: "LIST_FRAGMENTS" }))).DataEndpoint;
out.dataEndpoint = getMedia;
const channel = (await kv.send(new CreateSignalingChannelCommand({ ChannelName: "node-door" }))).ChannelARN;
for (let attempt = 0; ; attempt++) {  // CREATING for a moment on the real clock
  try {
    const answer = await kv.send(new GetSignalingChannelEndpointCommand({
      ChannelARN: channel, SingleMasterChannelEndpointConfiguration: { Protocols: ["WSS", "HTTPS"], Role: "MASTER" } }));
    out.signaling = Object.fromEntries(answer.ResourceEndpointList.map((e) => [e.Protocol, e.ResourceEndpoint]));
    break;
  } catch (error) {
    if (attempt > 50 || error.name !== "ResourceInUseException") throw error;
    await wait(100);
  }
}

const archived = new KinesisVideoArchivedMediaClient(options(listFragments));
const fragments = await archived.send(new ListFragmentsCommand({ StreamName: stream, FragmentSelector: {
  FragmentSelectorType: "SERVER_TIMESTAMP",
  TimestampRange: { StartTimestamp: new Date(0), EndTimestamp: new Date(4e12) } } }));
out.fragments = fragments.Fragments.length;

const media = new KinesisVideoMediaClient(options(getMedia));
const answer = await media.send(new GetMediaCommand({ StreamName: stream, StartSelector: { StartSelectorType: "EARLIEST" } }));
out.mediaContentType = answer.ContentType;
for await (const chunk of answer.Payload) {   // the first bytes are enough: an EBML header
  out.mediaHead = Buffer.from(chunk).subarray(0, 4).toString("hex");
  break;
}

const ivs = new IVSRealTimeClient(options(endpoint));
out.stage = (await ivs.send(new CreateStageCommand({ name: "node-stage" }))).stage.endpoints;

const gamelift = new GameLiftStreamsClient(options(endpoint));
out.streamGroups = (await gamelift.send(new ListStreamGroupsCommand({}))).Items.length;

const nimble = new NimbleClient(options(endpoint));
out.studios = (await nimble.send(new ListStudiosCommand({}))).studios.length;

console.log(JSON.stringify(out));
process.exit(0);  // an open GetMedia tail would keep the process alive
