"""The platform API's resources (seed 003) as storage and plain rules:
projects, workflows and functions, versions, deployments, env vars and
storage connections. Routes live in server/routes/platform/."""
