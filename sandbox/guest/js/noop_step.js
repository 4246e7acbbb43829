// The `step` handed to a workflow class's run() when no durable engine is
// attached (`flowbox run`): steps run inline, sleeps return at once, and a
// wait for an event takes the first unused one of its type among those the
// run was given (`flowbox run --send-event TYPE=JSON`).
(function (sent) {
  const body = (configOrFn, fn) => (typeof configOrFn === "function" ? configOrFn : fn);
  const events = Array.isArray(sent) ? sent.slice() : [];
  return Object.freeze({
    async do(name, configOrFn, fn) {
      const callback = body(configOrFn, fn);
      if (typeof callback !== "function") throw new TypeError(`step.do("${name}"): missing callback`);
      return await callback();
    },
    async sleep(name, duration) {},
    async sleepUntil(name, timestamp) {},
    async waitForEvent(name, options) {
      const type = options && options.type;
      const at = events.findIndex((e) => e.type === type);
      if (at < 0) {
        throw new Error(`step.waitForEvent("${name}"): no event of type "${type}" was sent to this run; ` +
          `give one with flowbox run --send-event ${type}=JSON, or run the workflow as a durable ` +
          `instance (POST /client/v4/accounts/{account}/workflows/{name}/instances, then ` +
          `POST …/instances/{id}/events/${type})`);
      }
      const [event] = events.splice(at, 1);
      return { payload: event.payload, type: event.type, timestamp: new Date(event.timestamp) };
    },
  });
})
