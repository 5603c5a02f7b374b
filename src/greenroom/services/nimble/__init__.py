"""Amazon Nimble Studio (``nimble``), from the model greenroom ships.

Every lifecycle step takes a named delay (``GET /_greenroom/delays``); the defaults are shorter
than the shortest polling interval of the model's waiters (1 s), so every waiter succeeds on
its second poll in real time, and at once under a manual clock moved past the delay.
``nimble.retention`` is how long DELETED and CREATE_FAILED resources stay visible (Get, List,
the *Deleted waiters) before they disappear; it is no step anybody waits for.
"""

MODULES = (
    "studios", "studio_members", "studio_components", "streaming_images", "eulas",
    "launch_profiles", "launch_profile_members", "streaming_sessions", "session_streams",
    "tags", "faults",
)

DELAYS = {
    "nimble.studio.create": 1.0,
    "nimble.studio.update": 1.0,                 # also StartStudioSSOConfigurationRepair
    "nimble.studio.delete": 1.0,
    "nimble.studio_component.create": 1.0,
    "nimble.studio_component.update": 1.0,
    "nimble.studio_component.delete": 1.0,
    "nimble.streaming_image.create": 1.0,
    "nimble.streaming_image.update": 1.0,
    "nimble.streaming_image.delete": 1.0,
    "nimble.launch_profile.create": 1.0,
    "nimble.launch_profile.update": 1.0,
    "nimble.launch_profile.delete": 1.0,
    "nimble.streaming_session.create": 1.0,
    "nimble.streaming_session.start": 1.0,
    "nimble.streaming_session.stop": 1.0,
    "nimble.streaming_session.delete": 1.0,
    "nimble.streaming_session_stream.create": 1.0,
    "nimble.retention": 3600.0,
}
