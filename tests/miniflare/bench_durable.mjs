// The peer of bench/durable.py: the same workflows on miniflare,
// Cloudflare's local engine. Input (argv): reps, batch. Output (stdout,
// JSON): {create_to_complete_ms: [...], batch_per_s}.
//  - a 100-step instance, from create to complete (polled every 5 ms), reps times;
//  - `batch` instances created with createBatch (100 a call), per second.
import { Miniflare } from "miniflare";

const [reps, batch] = process.argv.slice(2).map(Number);
const user = `
import { WorkflowEntrypoint } from "cloudflare:workers";
export class Steps extends WorkflowEntrypoint {
  async run(event, step) {
    let sum = 0;
    for (let i = 0; i < event.payload.steps; i++) sum += await step.do("s" + i, async () => i);
    return sum;
  }
}`;
const driver = `
export { Steps } from "./user.js";
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/create") return Response.json({ id: (await env.WF.create(await request.json())).id });
    if (url.pathname === "/batch") {
      const body = await request.json();
      return Response.json((await env.WF.createBatch(body)).map((i) => i.id));
    }
    return Response.json(await (await env.WF.get(url.searchParams.get("id"))).status());
  },
};`;
const mf = new Miniflare({
  modules: [{ type: "ESModule", path: "main.js", contents: driver },
            { type: "ESModule", path: "user.js", contents: user }],
  compatibilityDate: "2025-06-01",
  workflows: { WF: { name: "bench", className: "Steps" } },
});
const call = async (path, body) => (await mf.dispatchFetch(`http://bench.test${path}`,
  body ? { method: "POST", body: JSON.stringify(body) } : {})).json();
try {
  const times = [];
  for (let r = 0; r < reps + 1; r++) {
    const start = performance.now();
    const { id } = await call("/create", { id: `s-${r}`, params: { steps: 100 } });
    for (;;) {
      const s = await call(`/status?id=${id}`);
      if (s.status === "complete") break;
      if (s.status === "errored") throw new Error(JSON.stringify(s));
      await new Promise((res) => setTimeout(res, 5));
    }
    if (r > 0) times.push(performance.now() - start);  // the first warms up
  }
  const start = performance.now();
  for (let made = 0; made < batch; made += 100) {
    const items = [];
    for (let i = made; i < Math.min(batch, made + 100); i++) items.push({ id: `b-${i}`, params: { steps: 0 } });
    await call("/batch", items);
  }
  const batchSeconds = (performance.now() - start) / 1000;
  process.stdout.write(JSON.stringify({ create_to_complete_ms: times, batch_per_s: batch / batchSeconds }));
} finally {
  await mf.dispose();
}
