// What index.js adds when TARSJS_OS_MEMLOCK_TEST=1, for the test fixtures only.
export {}

declare module '../index.js' {
  /** Number of regions the native registry holds (mapped, not yet unmapped). */
  export function registryCount(): number
}
