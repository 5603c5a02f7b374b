"""Kinesis Video Streams: the control plane (``kinesisvideo``) and, later, the media plane."""

MODULES = ("streams",)

DELAYS = {
    "kinesisvideo.stream.create": 1.0,   # CREATING -> ACTIVE
    "kinesisvideo.stream.delete": 1.0,   # DELETING -> gone
}
