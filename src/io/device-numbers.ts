/** Linux dev_t encoding (glibc's gnu_dev_major/minor), for numbers from fs.Stats.dev/rdev. */

export function devMajor(dev: number): number {
  return ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
}

export function devMinor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & ~0xff & 0xfffff);
}

/** `major:minor`, as in /sys/dev/block and /proc/self/mountinfo. */
export function devName(dev: number): string {
  return `${devMajor(dev)}:${devMinor(dev)}`;
}
