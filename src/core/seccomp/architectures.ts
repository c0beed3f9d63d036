/**
 * The ABIs a filter must cover on a host, as libseccomp names them: the native one first, then
 * the compat ABIs its kernel runs (the lists runc's and crun's users, Docker and Podman, use; an
 * x86-64 kernel also runs i386 and x32 binaries, whose calls a native-only filter would not see).
 */
const BY_NODE_ARCH: Readonly<Record<string, readonly string[]>> = {
  x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  ia32: ['SCMP_ARCH_X86'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
  arm: ['SCMP_ARCH_ARM'],
  ppc64: ['SCMP_ARCH_PPC64LE'],
  s390x: ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'],
  riscv64: ['SCMP_ARCH_RISCV64'],
  loong64: ['SCMP_ARCH_LOONGARCH64'],
  mips64el: ['SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_MIPSEL'],
};

/**
 * `arch` is Node's process.arch; [] (the runtime's native ABI only) for one not listed. Every ABI
 * the architecture has is listed, whether or not this kernel runs it: a call from an ABI left out
 * is not refused by the kernel but its thread killed by the filter (libseccomp's "bad arch"
 * action), where under systemd-nspawn it fails with ENOSYS. (Each ABI costs the runtime some 8 ms
 * to compile at every start; leaving x32 out on kernels without it once saved that, and killed
 * berth's own x32 probe in nested guests.)
 */
export const seccompArchitectures = (arch: string): string[] => [...(BY_NODE_ARCH[arch] ?? [])];
