/**
 * An app that writes an upload and answers only once every replica has it: `flush()` resolves when
 * each replica has every change the mirror saw before the call.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Mirror } from 'fam-mirror';

const uploads = process.argv[2] ?? '/srv/uploads';
const mirror = new Mirror({ source: uploads, replicas: [process.argv[3] ?? '/tmp/fam-mirror-uploads'] });
await mirror.start();

export async function storeUpload(name: string, body: Buffer): Promise<void> {
  await writeFile(join(uploads, name), body);
  await mirror.flush(); // now safe to hand out a URL served by any replica
}

await storeUpload('hello.txt', Buffer.from('hello\n'));
console.log('stored and replicated');
await mirror.close();
