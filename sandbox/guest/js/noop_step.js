// The `step` handed to a workflow class's run() when no durable engine is
// attached (`flowbox run`): steps run inline, sleeps return at once.
(function () {
  const body = (configOrFn, fn) => (typeof configOrFn === "function" ? configOrFn : fn);
  return Object.freeze({
    async do(name, configOrFn, fn) {
      const callback = body(configOrFn, fn);
      if (typeof callback !== "function") throw new TypeError(`step.do("${name}"): missing callback`);
      return await callback();
    },
    async sleep(name, duration) {},
    async sleepUntil(name, timestamp) {},
    async waitForEvent(name, options) {
      throw new Error(`step.waitForEvent("${name}") needs a durable workflow instance`);
    },
  });
})()
