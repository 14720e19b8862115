/**
 * Which file system holds a path, from the text of /proc/self/mountinfo (proc(5)), and whether it is
 * one whose other clients' writes inotify never reports: inotify(7) sees only changes made through
 * this kernel, so a source on NFS, SMB/CIFS, sshfs or a cluster file system misses every write made
 * on another machine. Pure: the caller reads the file and resolves the path.
 */

/** File system types (mountinfo's fstype) whose files other machines write behind this kernel's back. */
export const NETWORK_FS_TYPES: readonly string[] = ['nfs', 'nfs4', 'cifs', 'smb3', 'smbfs', 'ncpfs', 'coda', 'afs', '9p', 'ceph', 'glusterfs', 'lustre', 'gpfs', 'ocfs2', 'gfs2', 'beegfs', 'davfs'];

/** fuse file systems (`fuse.NAME`) that are network clients. */
const NETWORK_FUSE = ['sshfs', 'glusterfs', 'rclone', 's3fs', 'davfs2', 'gcsfuse', 'cephfs', 'ceph-fuse', 'juicefs', 'smbnetfs', 'goofys', 'moosefs', 'mfs', 'seaweedfs'];

export function isNetworkFs(type: string): boolean {
  if (NETWORK_FS_TYPES.includes(type)) return true;
  const [kind, name] = type.split('.', 2);
  return (kind === 'fuse' || kind === 'fuseblk') && name !== undefined && NETWORK_FUSE.includes(name);
}

export interface Mount {
  mountPoint: string;
  type: string;
  device: string;
}

/** mountinfo's lines as mounts, in order (a later mount on the same point hides an earlier one). */
export function parseMountInfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (fields.length < 10 || dash < 0 || fields[4] === undefined) continue;
    mounts.push({ mountPoint: unescapeOctal(fields[4]), type: fields[dash + 1] ?? '', device: unescapeOctal(fields[dash + 2] ?? '') });
  }
  return mounts;
}

/** The mount that holds the absolute, resolved `path`: the longest mount point above it, the last one mounted there. */
export function mountOf(mounts: readonly Mount[], path: string): Mount | undefined {
  let best: Mount | undefined;
  for (const mount of mounts) {
    const mp = mount.mountPoint;
    const holds = mp === '/' || path === mp || path.startsWith(`${mp}/`);
    if (holds && (best === undefined || mp.length >= best.mountPoint.length)) best = mount;
  }
  return best;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}
