// Uses every binding: runs when a participant joins a room, greets them
// with a line built from KV settings and room metadata, and files it.
interface JoinEvent {
  type: string;
  data: { userId: string; roomId: string };
}

export default async function (event: JoinEvent, { store, room, files, env }: any) {
  const greeting: string = (await store.get("greeting")) ?? "Welcome";
  const settings = (await store.get("settings", "json")) as { maxGuests: number };
  const here = await room.get();
  const user = await room.getUser(event.data.userId);
  const line = `${greeting}, ${user?.name ?? event.data.userId}! ` +
    `${here.participants.length} of ${settings.maxGuests} in ${here.name}.`;
  const saved = await files.put(`digests/${here.id}.txt`, line, {
    httpMetadata: { contentType: "text/plain" },
  });
  console.log(line);
  return { line, region: env.REGION, saved: saved.key, size: saved.size };
}
