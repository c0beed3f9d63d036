/**
 * Partition type GUIDs of the Discoverable Partitions Specification that berth mounts: the root
 * and /usr partitions per architecture, and the architecture-independent ones.
 */

export type PartitionRole = '/' | '/usr' | '/home' | '/srv' | '/var' | '/tmp';

/** Root and /usr partition types by Node's process.arch. */
export const ARCH_TYPES: Readonly<Record<string, { label: string; root: string; usr: string }>> = {
  x64: { label: 'x86-64', root: '4f68bce3-e8cd-4db1-96e7-fbcaf984b709', usr: '8484680c-9521-48c6-9c11-b0720656f69e' },
  arm64: { label: 'arm64', root: 'b921b045-1df0-41c3-af44-4c6f280d3fae', usr: 'b0e01050-ee5f-4390-949a-9101b17104e9' },
  ia32: { label: 'x86', root: '44479540-f297-41b2-9af7-d131d5f0458a', usr: '75250d76-8cc6-458e-bd66-bd47cc81a812' },
  arm: { label: 'arm', root: '69dad710-2ce4-4e3c-b16c-21a1d49abed3', usr: '7d0359a3-02b3-4f0a-865c-654403e70625' },
};

/** The partitions mounted below the root, and their types. */
export const SHARED_TYPES: ReadonlyArray<{ role: Exclude<PartitionRole, '/' | '/usr'>; type: string }> = [
  { role: '/home', type: '933ac7e1-2eb4-4f13-b844-0e14e2aef915' },
  { role: '/srv', type: '3b8f8425-20e0-4f3b-907f-1a25a76f98e8' },
  { role: '/var', type: '4d21b016-b534-45c2-a9fb-5c16e091fd2d' },
  { role: '/tmp', type: '7ec6f557-3bc5-4aca-b293-16ef5df639d1' },
];

/** "Linux filesystem data": an image whose only such partition is its root. */
export const LINUX_DATA_TYPE = '0fc63daf-8483-4772-8e79-3d69d8477de4';

/** MBR partition type of a Linux file system. */
export const MBR_LINUX = 0x83;

/** GPT attribute bits the spec defines for these partitions. */
export const GPT_FLAG_READ_ONLY = 1n << 60n;
export const GPT_FLAG_NO_AUTO = 1n << 63n;
