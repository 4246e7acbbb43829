// Adapter for `store` (bindings/store.py): Cloudflare KV's read API over the
// raw host methods get(store, key, type, withMetadata) and list(store, options).
(() => {
  const fromBase64 = Uint8Array.fromBase64;
  const freeze = Object.freeze;
  const isArray = Array.isArray;
  const SafeMap = Map;
  const mapSet = Map.prototype.set;

  const typeOf = (options) => {
    if (options === undefined || options === null) return "text";
    if (typeof options === "string") return options;
    if (typeof options === "object") return options.type ?? "text";
    throw new TypeError("store.get: the second argument must be a type or {type}");
  };
  const decode = (reply) => {
    if (reply === null) return null;
    return "b64" in reply ? fromBase64(reply.b64).buffer : reply.value;
  };
  const readOnly = (method) => async () => {
    throw new TypeError(`store.${method}: the store binding is read-only; ` +
                        "write keys through the Flowbox API");
  };

  const make = (raw, name) => freeze({
    async get(key, options) {
      const reply = await raw.get(name, key, typeOf(options), false);
      if (!isArray(key)) return decode(reply);
      const map = new SafeMap();
      for (let i = 0; i < key.length; i++) mapSet.call(map, key[i], decode(reply[i]));
      return map;
    },
    async getWithMetadata(key, options) {
      const reply = await raw.get(name, key, typeOf(options), true);
      const one = (r) => freeze({ value: decode(r), metadata: r === null ? null : r.metadata ?? null,
                                  cacheStatus: null });
      if (!isArray(key)) return one(reply);
      const map = new SafeMap();
      for (let i = 0; i < key.length; i++) mapSet.call(map, key[i], one(reply[i]));
      return map;
    },
    async list(options) {
      return raw.list(name, options ?? {});
    },
    put: readOnly("put"),
    delete: readOnly("delete"),
    namespace(storeName) {
      if (typeof storeName !== "string") throw new TypeError("store.namespace: the name must be a string");
      return make(raw, storeName);
    },
  });
  return (raw) => make(raw, null);
})()
