/**
 * @tarsjs/page-alloc — guarded page allocator and slot allocator over
 * @tarsjs/os-memlock, and the `Allocator` interface every backend implements.
 */
export { AllocationHandle, handleState } from './allocation-handle.js'
export type { HandleState } from './allocation-handle.js'
export type { Access, Allocation, Allocator, AllocatorCapabilities, AllocatorStats, Protections } from './allocator.js'
export { registerDefaultAllocator, registeredDefaultAllocators } from './default-allocators.js'
export type { DefaultAllocatorRole } from './default-allocators.js'
export { AllocError, MAX_BYTE_LENGTH, checkByteLength, checkLive, checkOptionsObject, rejectAllocation } from './errors.js'
export type { AllocErrorCode } from './errors.js'
export { PAGE_SIZE } from './guarded-mapping.js'
export { configureMapBudget, mapBudget } from './map-budget.js'
export type { MapBudgetOptions, MapBudgetStats } from './map-budget.js'
export { PageAllocation, PageAllocator, checkAccess } from './page-allocator.js'
export type { PageAllocatorOptions, ProtectOptions } from './page-allocator.js'
export type { QuarantineOptions } from './quarantine.js'
export { WARN_ESCAPED_VIEW, WARN_MLOCK, WARN_SECRETMEM } from './policy.js'
export type { IntegrityPolicy, MlockPolicy, SecretmemPolicy, WarningPolicy } from './policy.js'
export { MAX_SLOT, SLOT_SIZES } from './size-classes.js'
export { describeAllocator, describeHandle, inspectCustom } from './redact.js'
export { SlotAllocation, SlotAllocator } from './slot-allocator.js'
export type { SlotAllocatorOptions } from './slot-allocator.js'
