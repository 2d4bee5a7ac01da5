/**
 * @tarsjs/doctor — what protection this host can give secrets, and how to fix
 * what is missing: the `tarsjs doctor` command (bin `tarsjs`) and the report
 * behind it. Depends only on the lowest layers (@tarsjs/os-memlock,
 * @tarsjs/page-alloc), so it can be installed next to any of the others.
 */
export { CHECK_IDS, DEFAULT_REQUIRED, SCHEMA_VERSION, diagnose, formatReport, isCheckId } from './doctor.js'
export type { Capacity, CheckId, Finding, Report, Verdict } from './doctor.js'
export { DoctorError } from './errors.js'
export type { DoctorErrorCode } from './errors.js'
