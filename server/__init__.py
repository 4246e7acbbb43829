"""The Flowbox service: HTTP API, tenancy, persistence, the dispatcher, the
durable engine and the command line. Imports flow server -> bindings -> sandbox."""
