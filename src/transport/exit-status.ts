/**
 * A remote command's exit status, recorded from the moment its exec channel opened. ssh2 emits a
 * channel's 'exit' as it parses the message, and under load the channel-open success, the exit
 * status and the close arrive in one read: a listener attached after the exec callback's promise
 * settles never hears it, and an exit code that decides something (the replica guard's refusal, a
 * probe's answer) would be lost (test/transport/bursty-link.test.ts).
 */
import type { ClientChannel } from 'ssh2';

export interface ExitStatus {
  /** undefined until the command exits; null when it died by a signal. */
  code: number | null | undefined;
  signal?: string;
}

export type ExecChannel = ClientChannel & { readonly exitStatus: ExitStatus };

/** Call in the exec callback itself, before anything awaits. */
export function recordExit(channel: ClientChannel): ExecChannel {
  const exitStatus: ExitStatus = { code: undefined };
  channel.on('exit', (code: number | null, signal?: string) => {
    exitStatus.code = code;
    if (signal !== undefined) exitStatus.signal = signal;
  });
  return Object.assign(channel, { exitStatus });
}
