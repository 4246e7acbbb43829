// Seed 000's example: runs when a participant joins a room.
export default async function (event, { store, room }) {
  console.log(`User ${event.data.userId} joined room ${event.data.roomId}`);
  return { success: true };
}
