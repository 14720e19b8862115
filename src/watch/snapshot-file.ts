/**
 * @parcel/watcher's snapshot files name every entry by its full path, as the subscription that
 * wrote it spelled the root. The watcher subscribes through a new alias of the root each time
 * (root-subscriber.ts: a path string is never reused, so no stale cached tree is ever picked up again), so a
 * snapshot is moved from one spelling of the root to another before it is diffed. Pure.
 *
 * Format (DirTree.cc): `<count>\n`, then per entry `<byte length><path><mtime> <isDir>\n`; the
 * length runs straight into the path, which starts with '/'.
 */
export function rebaseSnapshot(buf: Buffer, from: string, to: string): Buffer {
  const fromBytes = Buffer.from(from.endsWith('/') ? from : `${from}/`);
  const toBytes = Buffer.from(to.endsWith('/') ? to : `${to}/`);
  const fromRoot = fromBytes.subarray(0, fromBytes.length - 1);
  const toRoot = toBytes.subarray(0, toBytes.length - 1);
  let pos = buf.indexOf(10);
  if (pos === -1) throw new Error('not a snapshot: no count line');
  const count = Number(buf.subarray(0, pos).toString('latin1'));
  if (!Number.isSafeInteger(count) || count < 0) throw new Error('not a snapshot: bad count');
  pos++;
  const parts: Buffer[] = [buf.subarray(0, pos)];
  for (let i = 0; i < count; i++) {
    let digits = pos;
    while (digits < buf.length && buf[digits]! >= 48 && buf[digits]! <= 57) digits++;
    const len = Number(buf.subarray(pos, digits).toString('latin1'));
    if (digits === pos || !Number.isSafeInteger(len) || digits + len > buf.length) throw new Error(`not a snapshot: entry ${i} is cut`);
    const path = buf.subarray(digits, digits + len);
    const end = buf.indexOf(10, digits + len);
    if (end === -1) throw new Error(`not a snapshot: entry ${i} has no end`);
    let moved: Buffer;
    if (path.equals(fromRoot)) moved = toRoot;
    else if (path.subarray(0, fromBytes.length).equals(fromBytes)) moved = Buffer.concat([toBytes, path.subarray(fromBytes.length)]);
    else moved = path; // outside the root: left as it is (it never matches a live entry)
    parts.push(Buffer.from(String(moved.length), 'latin1'), moved, buf.subarray(digits + len, end + 1));
    pos = end + 1;
  }
  return Buffer.concat(parts);
}
