/** Parses (and decrypts) the identity files of an ssh login once; a file that cannot be used is logged and skipped. */
import { readFile } from 'node:fs/promises';
import ssh2, { type PublicKeyAuthMethod } from 'ssh2';
import type createDebug from 'debug';

const { utils } = ssh2;

export async function loadIdentities(files: readonly string[], passphrase: string | undefined, user: string, log: createDebug.Debugger, undecryptable: string[]): Promise<PublicKeyAuthMethod[]> {
  const out: PublicKeyAuthMethod[] = [];
  for (const file of files) {
    let text: Buffer;
    try {
      text = await readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log('identity %s unreadable: %s', file, (e as Error).message);
      continue;
    }
    const parsed = utils.parseKey(text, passphrase);
    if (parsed instanceof Error) {
      log('identity %s skipped: %s', file, parsed.message); // never log the passphrase itself
      if (/encrypted|passphrase|decrypt|integrity/i.test(parsed.message)) undecryptable.push(file);
      continue;
    }
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key === undefined) continue;
    out.push(Object.assign({ type: 'publickey' as const, username: user, key }, { file }));
  }
  return out;
}
