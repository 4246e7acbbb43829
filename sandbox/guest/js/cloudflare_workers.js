// The built-in module `cloudflare:workers`: the values the real module
// exports. Its types (WorkflowStep, WorkflowEvent, ...) are TypeScript only;
// the stripper elides imports of them.
import { env } from "flowbox:internal";

export { env };

class Entrypoint {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}

export class WorkflowEntrypoint extends Entrypoint {}
// How the sandbox recognises a workflow class (inherited by subclasses).
Object.defineProperty(WorkflowEntrypoint, "__flowboxEntrypoint", { value: "workflow" });

export class WorkerEntrypoint extends Entrypoint {}

export class DurableObject extends Entrypoint {}

// Cloudflare's marker for objects passed by reference over RPC; here, a
// plain base class so that code extending it loads.
export class RpcTarget {}

// The promise runs while the execution lasts; the execution does not wait
// for it once its entry point has settled.
export function waitUntil(promise) {
  Promise.resolve(promise).catch(() => {});
}
