// Drives one workflow instance on miniflare, Cloudflare's local engine,
// for tests/test_templates.py. Input (stdin, JSON): {entry (a file path,
// bundled by esbuild as wrangler does), className, instance: {id, params},
// steps: how many step outputs to wait for, event?: {type, payload}, sent
// once `steps - 1` outputs are there}. Output (stdout, JSON): {status,
// error, stepOutputs}, once `steps` outputs are there or the instance ended.
import { buildSync } from "esbuild";
import { Miniflare } from "miniflare";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (c) => (text += c)).on("end", () => resolve(text));
}));
const user = buildSync({ entryPoints: [input.entry], bundle: true, format: "esm", write: false,
                         platform: "neutral", external: ["cloudflare:*"] }).outputFiles[0].text;
const driver = `
export { ${input.className} } from "./user.js";
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const body = request.method === "POST" ? await request.json() : null;
    if (url.pathname === "/create") return Response.json({ id: (await env.WF.create(body)).id });
    const instance = await env.WF.get(url.searchParams.get("id"));
    if (url.pathname === "/event") { await instance.sendEvent(body); return Response.json({}); }
    return Response.json(await instance.status());
  },
};`;
const mf = new Miniflare({
  modules: [{ type: "ESModule", path: "main.js", contents: driver },
            { type: "ESModule", path: "user.js", contents: user }],
  compatibilityDate: "2025-06-01",
  workflows: { WF: { name: "template", className: input.className } },
});
const call = async (path, body) => (await mf.dispatchFetch(`http://flowbox.test${path}`,
  body ? { method: "POST", body: JSON.stringify(body) } : {})).json();
try {
  const { id } = await call("/create", input.instance);
  let sent = !input.event;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await call(`/status?id=${id}`);
    const outputs = s.__LOCAL_DEV_STEP_OUTPUTS ?? [];
    const ended = ["complete", "errored", "terminated"].includes(s.status);
    if (!sent && outputs.length >= input.steps - 1) {
      await call(`/event?id=${id}`, input.event);
      sent = true;
    }
    if (ended || outputs.length >= input.steps || Date.now() > deadline) {
      process.stdout.write(JSON.stringify({ status: ended ? s.status : "running",
                                            error: s.error ?? null, output: s.output ?? null,
                                            stepOutputs: outputs }));
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
} finally {
  await mf.dispose();
}
