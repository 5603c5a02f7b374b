"""Kinesis Video Streams: the control plane (``kinesisvideo``: streams, signaling channels,
configurations, edge configurations, tags) and the media plane (PutMedia, GetMedia from
``kinesis-video-media``, ListFragments and GetMediaForFragmentList from
``kinesis-video-archived-media``), and WebRTC: the signaling WebSocket with GetIceServerConfig
and SendAlexaOfferToMaster (``kinesis-video-signaling``), storage sessions
(``kinesis-video-webrtc-storage``)."""

MODULES = ("streams", "channels", "configurations", "edge", "tags", "put_media", "fragments", "get_media",
           "clips", "images", "hls", "dash", "signaling", "webrtc_storage")

DELAYS = {
    "kinesisvideo.stream.create": 1.0,    # CREATING -> ACTIVE
    "kinesisvideo.stream.update": 1.0,    # UPDATING -> ACTIVE (UpdateStream, UpdateDataRetention)
    "kinesisvideo.stream.delete": 1.0,    # DELETING -> gone
    "kinesisvideo.channel.create": 1.0,   # signaling channel CREATING -> ACTIVE
    "kinesisvideo.channel.update": 1.0,   # UPDATING -> ACTIVE
    "kinesisvideo.channel.delete": 1.0,   # DELETING -> gone
    "kinesisvideo.edge.sync": 2.0,        # edge configuration SYNCING -> IN_SYNC
    "kinesisvideo.edge.delete": 2.0,      # edge configuration DELETING -> gone
    # Connection timing, in real seconds (network liveness, not the emulator's clock):
    "kinesisvideo.putmedia.idle_interval": 1.0,   # an IDLE acknowledgement per second without data
    "kinesisvideo.putmedia.idle_timeout": 30.0,   # PutMedia closes after 30 s without data
    "kinesisvideo.getmedia.idle_timeout": 20.0,   # a tail with a producer connected: 20 s without a fragment
    "kinesisvideo.getmedia.no_data_timeout": 3.0,  # a tail with no producer connected: 3 s (documented)
}
