"""The capabilities handed to user code (store, room, files, event, env,
step): each a small host-side object with a dispatch table that implements
sandbox.Capability. Knows nothing of HTTP; filled in by later issues."""
