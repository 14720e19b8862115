/** Which mount holds a path, and whether inotify sees its other writers (tables, no I/O). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isNetworkFs, mountOf, parseMountInfo } from '../../src/core/network-fs.js';

const MOUNTINFO = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '27 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw',
  '40 27 0:45 / /srv/www rw,relatime shared:20 - nfs4 files:/export/www rw,vers=4.2',
  '41 40 259:3 / /srv/www/cache rw,relatime - ext4 /dev/nvme0n1p3 rw',
  '42 27 0:50 / /mnt/remote\\040box rw,nosuid,nodev - fuse.sshfs deploy@box:/data rw,user_id=0',
  '43 27 0:51 / /mnt/share rw - cifs //nas/share rw',
  '44 27 0:52 / /mnt/share rw - tmpfs tmpfs rw',
  '45 27 0:53 / /home/u/.cache/doc rw - fuse.portal portal rw',
  'garbage',
  '',
].join('\n');

describe('network file systems', () => {
  const mounts = parseMountInfo(MOUNTINFO);
  const cases: Array<[string, string | undefined]> = [
    ['/var/www', 'ext4'],
    ['/', 'ext4'],
    ['/srv/www', 'nfs4'],
    ['/srv/www/site', 'nfs4'],
    ['/srv/wwwx', 'ext4'],
    ['/srv/www/cache', 'ext4'],
    ['/srv/www/cache/x', 'ext4'],
    ['/mnt/remote box/site', 'fuse.sshfs'],
    ['/mnt/share/x', 'tmpfs'],
    ['/proc/self', 'proc'],
    ['/home/u/.cache/doc/1', 'fuse.portal'],
  ];
  for (const [path, want] of cases) it(`${path} is on ${want}`, () => assert.equal(mountOf(mounts, path)?.type, want));

  it('parses device names and skips lines that are not mounts', () => {
    assert.equal(mounts.length, 8);
    assert.equal(mountOf(mounts, '/mnt/remote box')?.device, 'deploy@box:/data');
  });

  it('no mount at all: undefined', () => assert.equal(mountOf([], '/x'), undefined));

  const types: Array<[string, boolean]> = [
    ['nfs', true],
    ['nfs4', true],
    ['cifs', true],
    ['smb3', true],
    ['9p', true],
    ['ceph', true],
    ['fuse.sshfs', true],
    ['fuse.rclone', true],
    ['fuse.s3fs', true],
    ['fuse.glusterfs', true],
    ['ext4', false],
    ['xfs', false],
    ['btrfs', false],
    ['tmpfs', false],
    ['overlay', false],
    ['zfs', false],
    ['fuse.portal', false],
    ['fuseblk', false],
    ['fuse', false],
  ];
  for (const [type, want] of types) it(`${type}: ${want ? 'network' : 'local'}`, () => assert.equal(isNetworkFs(type), want));
});
